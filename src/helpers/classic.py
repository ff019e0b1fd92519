"""Classic separation without learning, through librosa: HPSS for the drums, REPET-SIM for the vocals.

Both methods build a soft mask from a *model of the music* rather than from training data, and apply it to the
mixture STFT (mixture phase kept), like the masks of :mod:`helpers.masks`:

- **HPSS** (harmonic–percussive source separation, Fitzgerald 2010): in a magnitude spectrogram, sustained
  (harmonic) sounds are horizontal lines and hits (percussive sounds) are vertical lines. A median filter along
  time keeps the first, one along frequency keeps the second; soft masks built from the two filtered
  spectrograms split the mixture. The percussive part estimates the drums.
- **REPET-SIM** (Rafii & Pardo 2012): the accompaniment repeats (a bar, a chorus) and the voice does not. Each
  frame's background is the median of the frames most similar to it (cosine similarity, at least ``width``
  seconds away); what the background does not explain is the foreground, the vocals estimate. This follows
  librosa's "vocal separation" example (``librosa.decompose.nn_filter``, ``librosa.util.softmask``).

They are baselines: a model of the music that holds only roughly (bass and sustained chords are neither
percussive nor vocal; a voice can repeat too), scored next to the learned models so that what learning adds shows.

Taught in: notebooks/04_masks_and_spectrogram_fnn.ipynb

References
----------
.. [1] Fitzgerald, "Harmonic/percussive separation using median filtering", DAFx 2010.
.. [2] Rafii & Pardo, "Music/voice separation using the similarity matrix", ISMIR 2012 (REPET-SIM); see also
   Rafii & Pardo, "Online REPET-SIM for real-time speech enhancement", ICASSP 2013.
.. [3] Driedger, Müller & Disch, "Extending harmonic-percussive separation of audio signals", ISMIR 2014 (the
   ``margin`` of ``librosa.decompose.hpss``).
"""

from __future__ import annotations

import numbers

import numpy as np

from helpers import spectral
from helpers.audio import validate_audio
from helpers.exceptions import ParameterError, check_int


def _check_positive(name: str, value, minimum: float = 0.0, inclusive: bool = False) -> float:
    if isinstance(value, bool) or not isinstance(value, numbers.Real) or not np.isfinite(value) \
            or (value < minimum if inclusive else value <= minimum):
        bound = f">= {minimum}" if inclusive else f"> {minimum}"
        raise ParameterError(f"{name}={value!r} must be a finite number {bound}")
    return float(value)


def _check_mixture(mixture, n_fft: int) -> np.ndarray:
    mixture = validate_audio(mixture, name="mixture")
    if mixture.shape[-1] < n_fft:
        raise ParameterError(f"mixture has {mixture.shape[-1]} samples (shape={mixture.shape}); it needs at least "
                             f"n_fft={n_fft}")
    return mixture


def hpss_drums(mixture: np.ndarray, sample_rate: int, *, kernel_size: int = 31, margin: float = 1.0,
               power: float = 2.0, n_fft: int | None = None, hop_length: int | None = None) -> dict:
    """Drums estimate by median-filtering HPSS: the percussive part of the mixture (Fitzgerald 2010).

    With ``|X|`` the mixture magnitude, ``H = median_t(|X|)`` (median over ``kernel_size`` frames of each bin) and
    ``P = median_f(|X|)`` (median over ``kernel_size`` bins of each frame), the percussive mask is
    ``M_P = P^p / (P^p + (margin H)^p)`` (``librosa.decompose.hpss(mask=True)``), and the drums estimate is
    ``ISTFT(M_P X)`` with the mixture's phase. Each channel is filtered on its own.

    Taught in: notebooks/04_masks_and_spectrogram_fnn.ipynb

    Parameters
    ----------
    mixture : np.ndarray [shape=(n_channels, n_samples) or (n_samples,)], float
        The mixture, in librosa's layout, at ``sample_rate``.
    sample_rate : int > 0
        Hz; sets the default STFT (46-ms frames, as the course's models use).
    kernel_size : int > 0
        Median filter length, in frames (harmonic) and in bins (percussive).
    margin : float >= 1
        Separation margin (Driedger et al. 2014): > 1 keeps only what is clearly percussive (the rest goes to
        neither part), trading bleed for artefacts.
    power : float > 0
        Exponent of the soft mask (``inf`` would be a binary mask; not accepted here).
    n_fft, hop_length : int or None
        STFT size and hop in samples; ``None``: ``1024`` and ``256`` scaled by ``sample_rate / 22050`` (to a power
        of two).

    Returns
    -------
    estimates : dict[str, np.ndarray]
        ``{"drums": estimate}``, the estimate of the mixture's shape, float32, in the mixture's units.

    Raises
    ------
    ParameterError
        If the mixture is not a finite float array of shape ``(n_channels, n_samples)`` or ``(n_samples,)``, is
        shorter than ``n_fft``, or a parameter is out of range (the message names it and its value).

    References
    ----------
    .. [1] Fitzgerald, "Harmonic/percussive separation using median filtering", DAFx 2010.
    """
    import librosa

    n_fft, hop_length = spectral.stft_settings(sample_rate, n_fft=n_fft, hop_length=hop_length)
    mixture = _check_mixture(mixture, n_fft)
    kernel_size = check_int("kernel_size", kernel_size)
    margin = _check_positive("margin", margin, minimum=1.0, inclusive=True)
    power = _check_positive("power", power)
    mixture_stft = spectral.stft(mixture, n_fft=n_fft, hop_length=hop_length)
    _, percussive_mask = librosa.decompose.hpss(np.abs(mixture_stft), kernel_size=kernel_size, power=power,
                                                mask=True, margin=margin)
    drums = spectral.istft(percussive_mask * mixture_stft, hop_length=hop_length, length=mixture.shape[-1])
    return {"drums": drums}


def repet_sim_vocals(mixture: np.ndarray, sample_rate: int, *, min_distance: float = 2.0, margin: float = 10.0,
                     power: float = 2.0, n_fft: int | None = None, hop_length: int | None = None) -> dict:
    """Vocals estimate by REPET-SIM: what the repeating background does not explain (Rafii & Pardo 2012).

    As in librosa's "vocal separation" example: the background magnitude ``B`` of each frame is the median of its
    nearest neighbours under cosine similarity (``librosa.decompose.nn_filter``; neighbours at least
    ``min_distance`` seconds away), capped by the mixture ``|X|``. The foreground (vocals) mask is
    ``librosa.util.softmask(|X| - B, margin * B, power)``, i.e.
    ``M_V = (|X| - B)^p / ((|X| - B)^p + (margin B)^p)``, and the estimate is ``ISTFT(M_V X)`` with the mixture's
    phase. Similarity is measured on all channels together; the masks are per channel.

    Taught in: notebooks/04_masks_and_spectrogram_fnn.ipynb

    Parameters
    ----------
    mixture : np.ndarray [shape=(n_channels, n_samples) or (n_samples,)], float
        The mixture, in librosa's layout, at ``sample_rate``; a few repetitions of the accompaniment are needed
        (several times ``min_distance``).
    sample_rate : int > 0
        Hz.
    min_distance : float > 0
        Seconds: frames closer than this are not neighbours (so a sustained note does not explain itself).
    margin : float > 0
        The example's foreground margin (10): larger means less accompaniment bleed and a quieter, thinner voice.
    power : float > 0
        Exponent of the soft mask.
    n_fft, hop_length : int or None
        STFT size and hop in samples; ``None``: ``1024`` and ``256`` scaled by ``sample_rate / 22050``.

    Returns
    -------
    estimates : dict[str, np.ndarray]
        ``{"vocals": estimate}``, the estimate of the mixture's shape, float32, in the mixture's units.

    Raises
    ------
    ParameterError
        If the mixture is not a finite float array of shape ``(n_channels, n_samples)`` or ``(n_samples,)``, is
        shorter than ``n_fft`` or than ``min_distance`` plus a few frames, or a parameter is out of range (the
        message names it and its value).

    References
    ----------
    .. [1] Rafii & Pardo, "Music/voice separation using the similarity matrix", ISMIR 2012.
    """
    import librosa

    n_fft, hop_length = spectral.stft_settings(sample_rate, n_fft=n_fft, hop_length=hop_length)
    mixture = _check_mixture(mixture, n_fft)
    min_distance = _check_positive("min_distance", min_distance)
    margin = _check_positive("margin", margin)
    power = _check_positive("power", power)
    mixture_stft = spectral.stft(mixture, n_fft=n_fft, hop_length=hop_length)
    magnitude = np.abs(mixture_stft)
    n_frames = magnitude.shape[-1]
    width = max(1, int(round(min_distance * sample_rate / hop_length)))
    if n_frames < 2 * width + 3:
        raise ParameterError(f"mixture is {mixture.shape[-1] / sample_rate:.2f} s long (shape={mixture.shape}); "
                             f"REPET-SIM with min_distance={min_distance} s needs at least "
                             f"{(2 * width + 3) * hop_length / sample_rate:.2f} s")
    background = librosa.decompose.nn_filter(magnitude, aggregate=np.median, metric="cosine", width=width)
    background = np.minimum(magnitude, background)
    vocals_mask = librosa.util.softmask(magnitude - background, margin * background, power=power)
    vocals = spectral.istft(vocals_mask * mixture_stft, hop_length=hop_length, length=mixture.shape[-1])
    return {"vocals": vocals}
