"""Short-time Fourier transforms with the course's conventions (NumPy and SciPy's FFT), framing and overlap-add.

Conventions everywhere in the course: a Hann window (periodic, as in ``scipy.signal.get_window``),
``center=True`` with zero padding of ``n_fft // 2`` on both sides, and librosa's layout
``(..., n_bins, n_frames)`` with ``n_bins = n_fft // 2 + 1``. The defaults (``n_fft``, ``hop_length``, window)
are :mod:`helpers.config`'s. :func:`stft` and :func:`istft` are the course's own, written on ``scipy.fft``; they agree
with ``librosa.stft`` and ``librosa.istft`` to float32 precision (tests/test_spectral.py). For magnitude and phase,
and for frame/time conversions, use librosa's ``magphase``, ``frames_to_time`` and ``time_to_frames``.

Taught in: notebooks/03_stft.ipynb (framing and overlap-add first in notebooks/02_waveform_fnn.ipynb)

References
----------
.. [1] Allen, "Short time spectral analysis, synthesis, and modification by discrete Fourier transform",
   IEEE Trans. ASSP 25(3), 1977.
.. [2] Müller, *Fundamentals of Music Processing*, 2nd ed., Springer 2021, Section 2.5.
"""

from __future__ import annotations

import functools
import os

import numpy as np

from helpers.config import HOP_LENGTH, N_FFT, SAMPLE_RATE, WINDOW
from helpers.exceptions import ParameterError, check_int


def check_frame_params(n_fft, hop_length) -> tuple[int, int]:
    """Check an STFT's frame settings: ``n_fft >= 2`` and ``0 < hop_length <= n_fft``, both integers.

    Used by: helpers.data, helpers.models.base

    Returns
    -------
    n_fft, hop_length : int

    Raises
    ------
    ParameterError
        Naming the bad value.
    """
    n_fft = check_int("n_fft", n_fft, minimum=2)
    hop_length = check_int("hop_length", hop_length)
    if hop_length > n_fft:
        raise ParameterError(f"hop_length={hop_length} must not exceed n_fft={n_fft}")
    return n_fft, hop_length


def stft_settings(sample_rate: int, *, n_fft: int | None = None, hop_length: int | None = None) -> tuple[int, int]:
    """The course's 46-ms frames at any rate: ``N_FFT`` scaled by ``sample_rate / SAMPLE_RATE`` to a power of two,
    and a quarter of it as the hop, unless given.

    Used by: helpers.evaluation, helpers.classic

    Returns
    -------
    n_fft, hop_length : int
        Checked by :func:`check_frame_params`.

    Raises
    ------
    ParameterError
        If ``sample_rate`` is not a positive integer or the pair is invalid.
    """
    check_int("sample_rate", sample_rate)
    if n_fft is None:
        n_fft = int(2 ** round(np.log2(N_FFT * sample_rate / SAMPLE_RATE)))
    if hop_length is None:
        hop_length = max(1, n_fft * HOP_LENGTH // N_FFT)
    return check_frame_params(n_fft, hop_length)


def stft(audio: np.ndarray, *, n_fft: int = N_FFT, hop_length: int = HOP_LENGTH, window: str = WINDOW) -> np.ndarray:
    """Compute the short-time Fourier transform of a signal, with librosa's conventions.

    ``X[k, m] = sum_n x[n + m H - n_fft / 2] w[n] exp(-2 pi i k n / n_fft)``: the signal is padded with ``n_fft // 2``
    zeros at each end (``center=True``, ``pad_mode="constant"``), cut into frames every ``hop_length`` samples,
    multiplied by the periodic window and transformed by a real FFT (SciPy's, in float32). It agrees with
    ``librosa.stft`` to float32 precision (tests/test_spectral.py). The result is a view with frames last; the
    frames-first array beneath it is contiguous, which :func:`istft` uses without a copy.

    Taught in: notebooks/03_stft.ipynb, notebooks/04_masks_and_spectrogram_fnn.ipynb,
    notebooks/05_unet_vocals_drums.ipynb

    Parameters
    ----------
    audio : np.ndarray [shape=(..., n_samples)], real
    n_fft : int >= 2
        FFT size in samples (also the window length).
    hop_length : int in (0, n_fft]
        Samples between successive frames.
    window : str
        A window name understood by ``scipy.signal.get_window``.

    Returns
    -------
    stft_matrix : np.ndarray [shape=(..., n_fft // 2 + 1, n_frames), dtype=complex64]
        ``n_frames = 1 + n_samples // hop_length``.

    Raises
    ------
    ParameterError
        If ``n_fft`` or ``hop_length`` are invalid.
    """
    import scipy.fft

    check_frame_params(n_fft, hop_length)
    audio = np.asarray(audio, dtype=np.float32)
    padded = np.pad(audio, [(0, 0)] * (audio.ndim - 1) + [(n_fft // 2, n_fft // 2)])
    n_frames = 1 + (padded.shape[-1] - n_fft) // hop_length
    frames = np.lib.stride_tricks.sliding_window_view(padded, n_fft, axis=-1)[..., ::hop_length, :][..., :n_frames, :]
    spectra = scipy.fft.rfft(frames * _window(window, n_fft), axis=-1, workers=_FFT_WORKERS)  # (..., n_frames, n_bins)
    return np.swapaxes(spectra.astype(np.complex64, copy=False), -1, -2)


def istft(
    stft_matrix: np.ndarray,
    *,
    hop_length: int = HOP_LENGTH,
    window: str = WINDOW,
    length: int | None = None,
) -> np.ndarray:
    """Invert an STFT by weighted overlap-add (WOLA), with librosa's conventions (``center=True``).

    Each frame's inverse DFT is multiplied by the synthesis window ``w``, the frames are overlap-added, and the sum is
    divided by the overlap-added squared window:
    ``x[n] = sum_m w[n - mH] y_m[n - mH] / sum_m w[n - mH] ** 2``, wherever that sum is not (nearly) zero. So the
    inverse is exact for any window and hop that satisfy NOLA (the squared windows' sum never vanishes); the first
    and last ``n_fft // 2`` samples, the STFT's centring padding, are dropped. Written here with NumPy and SciPy's
    FFT (float32 in, float32 out), it agrees with ``librosa.istft`` to float32 precision and is several times
    faster on batches of frames (tests/test_spectral.py checks both).

    Taught in: notebooks/03_stft.ipynb

    Parameters
    ----------
    stft_matrix : np.ndarray [shape=(..., n_bins, n_frames), dtype=complex]
    hop_length : int > 0
    window : str
    length : int > 0 or None
        Trim or pad the output to exactly this many samples (use the original signal's length).

    Returns
    -------
    audio : np.ndarray [shape=(..., n_samples)], float32

    Raises
    ------
    ParameterError
        If ``stft_matrix`` has fewer than two dimensions or ``hop_length`` is invalid.
    """
    import scipy.fft

    stft_matrix = np.asarray(stft_matrix)
    if stft_matrix.ndim < 2:
        raise ParameterError(f"stft_matrix must have shape (..., n_bins, n_frames), got shape={stft_matrix.shape}")
    n_fft = 2 * (stft_matrix.shape[-2] - 1)
    check_frame_params(n_fft, hop_length)
    n_frames = stft_matrix.shape[-1]
    synthesis = _window(window, n_fft)
    spectra = np.ascontiguousarray(np.swapaxes(stft_matrix, -1, -2), dtype=np.complex64)  # (..., n_frames, n_bins)
    frames = scipy.fft.irfft(spectra, n=n_fft, axis=-1, workers=_FFT_WORKERS)  # (..., n_frames, n_fft)
    frames *= synthesis
    if n_fft % hop_length == 0:  # overlap-add in n_fft / hop_length shifted slabs instead of frame by frame
        ratio = n_fft // hop_length
        pieces = frames.reshape(frames.shape[:-1] + (ratio, hop_length))
        audio = np.zeros(frames.shape[:-2] + (n_frames + ratio - 1, hop_length), dtype=np.float32)
        for r in range(ratio):
            audio[..., r:r + n_frames, :] += pieces[..., r, :]
        audio = audio.reshape(frames.shape[:-2] + (-1,))
    else:
        audio = overlap_add(frames, hop_length=hop_length)
    audio *= _inverse_window_sum(window, n_fft, hop_length, n_frames)
    start = n_fft // 2  # the centring padding
    if length is None:
        return audio[..., start:audio.shape[-1] - start]
    audio = audio[..., start:start + length]
    return np.pad(audio, [(0, 0)] * (audio.ndim - 1) + [(0, length - audio.shape[-1])])


#: Threads for SciPy's FFT in :func:`stft` and :func:`istft` (the separator's STFT stages run between model calls).
_FFT_WORKERS = max(1, min(4, os.cpu_count() or 1))


@functools.lru_cache(maxsize=16)
def _window(window: str, n_fft: int) -> np.ndarray:
    """The periodic window of ``n_fft`` samples (as the STFT uses), float32."""
    import scipy.signal

    return scipy.signal.get_window(window, n_fft, fftbins=True).astype(np.float32)


@functools.lru_cache(maxsize=16)
def _inverse_window_sum(window: str, n_fft: int, hop_length: int, n_frames: int) -> np.ndarray:
    """1 / the overlap-added squared window, 0 where that sum is (nearly) zero, as librosa.istft treats it."""
    squared = _window(window, n_fft).astype(np.float64) ** 2
    total = overlap_add(np.tile(squared, (n_frames, 1)), hop_length=hop_length)
    tiny = np.finfo(np.float32).tiny
    return np.where(total > tiny, 1.0 / np.maximum(total, tiny), 0.0).astype(np.float32)


def frame_signal(audio: np.ndarray, *, frame_length: int, hop_length: int) -> np.ndarray:
    """Cut a signal into overlapping frames (no padding: frames that would run past the end are dropped).

    The first step of the STFT, and how notebook 02 feeds waveforms to a network. Agrees with
    ``librosa.util.frame`` (whose layout puts frames last).

    Taught in: notebooks/02_waveform_fnn.ipynb, notebooks/03_stft.ipynb

    Parameters
    ----------
    audio : np.ndarray [shape=(n_samples,)]
    frame_length, hop_length : int > 0
        Samples.

    Returns
    -------
    frames : np.ndarray [shape=(n_frames, frame_length)]
        ``n_frames = 1 + (n_samples - frame_length) // hop_length``; a copy.

    Raises
    ------
    ParameterError
        If the parameters are not positive integers or the signal is shorter than one frame.
    """
    audio = np.asarray(audio)
    check_int("frame_length", frame_length)
    check_int("hop_length", hop_length)
    if audio.ndim != 1 or audio.shape[0] < frame_length:
        raise ParameterError(f"audio of shape={audio.shape} must be 1-D and at least frame_length={frame_length} long")
    n_frames = 1 + (audio.shape[0] - frame_length) // hop_length
    index = np.arange(frame_length)[None, :] + hop_length * np.arange(n_frames)[:, None]
    return audio[index]


def overlap_add(frames: np.ndarray, *, hop_length: int) -> np.ndarray:
    """Sum frames back into a signal, each shifted by ``hop_length`` from the last (overlap-add).

    With a window ``w`` whose shifted copies sum to 1 (e.g. a periodic Hann at ``hop_length = frame_length / 2``),
    ``overlap_add(w * frame_signal(x, frame_length=n, hop_length=n // 2), hop_length=n // 2)`` gives back ``x`` away
    from the edges.

    Taught in: notebooks/02_waveform_fnn.ipynb, notebooks/03_stft.ipynb

    Parameters
    ----------
    frames : np.ndarray [shape=(..., n_frames, frame_length)]
    hop_length : int > 0

    Returns
    -------
    audio : np.ndarray [shape=(..., (n_frames - 1) * hop_length + frame_length)]
    """
    frames = np.asarray(frames)
    check_int("hop_length", hop_length)
    n_frames, frame_length = frames.shape[-2:]
    out = np.zeros(frames.shape[:-2] + ((n_frames - 1) * hop_length + frame_length,), dtype=frames.dtype)
    for i in range(n_frames):
        out[..., i * hop_length : i * hop_length + frame_length] += frames[..., i, :]
    return out
