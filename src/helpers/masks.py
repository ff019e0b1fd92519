"""Time–frequency masks: ideal (oracle) masks, soft masks, applying a mask, and Wiener filtering.

A mask ``M`` in [0, 1] with the shape of the mixture STFT ``X`` estimates a source as ``M * X``: the magnitude is
scaled and the mixture's phase kept, then an ISTFT returns to audio. Ideal masks are computed from the true
sources, so they are an upper bound ("oracle") for any masking method with the same STFT.

Taught in: notebooks/04_masks_and_spectrogram_fnn.ipynb

References
----------
.. [1] Wang, "On ideal binary mask as the computational goal of auditory scene analysis", 2005.
.. [2] Stöter, Liutkus & Ito, "The 2018 Signal Separation Evaluation Campaign", LVA/ICA 2018 (IBM, IRM1, IRM2).
.. [3] Liutkus & Stöter, norbert: multichannel Wiener filtering (sigsep), after Nugraha et al., IEEE/ACM TASLP 2016.
"""

from __future__ import annotations

import numpy as np

from helpers import spectral
from helpers.config import HOP_LENGTH
from helpers.exceptions import ParameterError

EPS = 1e-10


def _magnitudes(sources_stft: dict) -> dict:
    if not sources_stft:
        raise ParameterError("sources is empty; pass a dict of name -> STFT")
    shapes = {name: np.shape(s) for name, s in sources_stft.items()}
    if len(set(shapes.values())) != 1:
        raise ParameterError(f"all source STFTs must have the same shape, got {shapes}")
    return {name: np.abs(s) for name, s in sources_stft.items()}


def ratio_masks(sources_stft: dict, *, power: float = 1.0) -> dict:
    """Ideal ratio masks ``|S_j|^p / sum_k |S_k|^p`` for every source (they sum to 1 in every bin).

    ``power=1`` is SiSEC's IRM1 (magnitude ratio), ``power=2`` is IRM2 (power ratio, the Wiener gain for
    independent sources). Bins where every source is silent get ``1 / n_sources``.

    Taught in: notebooks/04_masks_and_spectrogram_fnn.ipynb, notebooks/05_unet_vocals_drums.ipynb

    Parameters
    ----------
    sources_stft : dict[str, np.ndarray [shape=(..., n_bins, n_frames), complex]]
        STFTs of all the sources that sum to the mixture (e.g. the four MUSDB stems).
    power : float > 0

    Returns
    -------
    masks : dict[str, np.ndarray [shape=(..., n_bins, n_frames)], values in [0, 1]]

    Raises
    ------
    ParameterError
        If ``power`` is not positive, the dict is empty or shapes differ.
    """
    if power <= 0:
        raise ParameterError(f"power={power!r} must be positive")
    powered = {name: m ** power for name, m in _magnitudes(sources_stft).items()}
    total = sum(powered.values())
    n = len(powered)
    return {name: np.where(total > EPS, p / np.maximum(total, EPS), 1.0 / n) for name, p in powered.items()}


def binary_masks(sources_stft: dict) -> dict:
    """Ideal binary masks: 1 where a source has the largest magnitude of all sources, else 0.

    Taught in: notebooks/04_masks_and_spectrogram_fnn.ipynb

    Parameters
    ----------
    sources_stft : dict[str, np.ndarray [shape=(..., n_bins, n_frames), complex]]

    Returns
    -------
    masks : dict[str, np.ndarray [shape=(..., n_bins, n_frames)], values in {0, 1}]
        Exactly one source wins each bin (ties go to the first in the dict).
    """
    magnitudes = _magnitudes(sources_stft)
    names = list(magnitudes)
    winner = np.argmax(np.stack([magnitudes[n] for n in names]), axis=0)
    return {name: (winner == i).astype(np.float32) for i, name in enumerate(names)}


def soft_mask(target_magnitude: np.ndarray, mixture_magnitude: np.ndarray, *, exponent: float = 1.0,
              threshold: float | None = None) -> np.ndarray:
    """A mask from a target magnitude estimate: ``clip(T / X, 0, 1) ** exponent``, optionally binarised.

    Used by: helpers.widgets

    Parameters
    ----------
    target_magnitude : np.ndarray [shape=(..., n_bins, n_frames)], >= 0
    mixture_magnitude : np.ndarray [shape=target_magnitude.shape], >= 0
    exponent : float > 0
        > 1 sharpens the mask (less bleed, more artefacts), < 1 softens it.
    threshold : float in [0, 1] or None
        If given, the mask becomes ``mask >= threshold`` (a binary mask).

    Returns
    -------
    mask : np.ndarray [shape=mixture_magnitude.shape], values in [0, 1]

    Raises
    ------
    ParameterError
        If shapes differ, ``exponent`` is not positive, or ``threshold`` is outside [0, 1].
    """
    if np.shape(target_magnitude) != np.shape(mixture_magnitude):
        raise ParameterError(f"shapes differ: {np.shape(target_magnitude)} vs {np.shape(mixture_magnitude)}")
    if exponent <= 0:
        raise ParameterError(f"exponent={exponent!r} must be positive")
    if threshold is not None and not 0 <= threshold <= 1:
        raise ParameterError(f"threshold={threshold!r} must be in [0, 1]")
    mask = np.clip(np.asarray(target_magnitude) / np.maximum(mixture_magnitude, EPS), 0.0, 1.0) ** exponent
    return (mask >= threshold).astype(np.float32) if threshold is not None else mask


def apply_mask(mask: np.ndarray, mixture_stft: np.ndarray, *, hop_length: int = HOP_LENGTH,
               length: int | None = None) -> np.ndarray:
    """Estimate a source: multiply the mixture STFT by a mask (keeping the mixture's phase) and invert.

    Taught in: notebooks/04_masks_and_spectrogram_fnn.ipynb

    Parameters
    ----------
    mask : np.ndarray [shape=mixture_stft.shape], values in [0, 1]
    mixture_stft : np.ndarray [shape=(..., n_bins, n_frames), complex]
    hop_length : int > 0
    length : int or None
        Output length in samples (the mixture's, to line up with the references).

    Returns
    -------
    estimate : np.ndarray [shape=(..., n_samples)], float32

    Raises
    ------
    ParameterError
        If the shapes differ, or the mask is not finite or leaves [0, 1] (beyond 1e-6).
    """
    mask = np.asarray(mask)
    if mask.shape != np.shape(mixture_stft):
        raise ParameterError(f"mask shape {mask.shape} differs from mixture_stft shape {np.shape(mixture_stft)}")
    if not np.all(np.isfinite(mask)) or mask.min() < -1e-6 or mask.max() > 1 + 1e-6:
        raise ParameterError(f"mask values must be finite and in [0, 1], got [{mask.min()}, {mask.max()}]")
    return spectral.istft(mask * mixture_stft, hop_length=hop_length, length=length)


def wiener(magnitude_estimates: dict, mixture_stft: np.ndarray, *, iterations: int = 1) -> dict:
    """Multichannel Wiener filtering of magnitude estimates through norbert (EM iterations).

    Taught in: notebooks/04_masks_and_spectrogram_fnn.ipynb

    Parameters
    ----------
    magnitude_estimates : dict[str, np.ndarray [shape=(n_channels, n_bins, n_frames)]]
        Non-negative magnitude estimates of all the sources (oracle magnitudes give the "Wiener" oracle).
    mixture_stft : np.ndarray [shape=(n_channels, n_bins, n_frames), complex]
    iterations : int >= 0
        EM iterations of ``norbert.wiener`` (0 is a plain multichannel ratio mask).

    Returns
    -------
    estimates_stft : dict[str, np.ndarray [shape=mixture_stft.shape, complex]]

    Raises
    ------
    ParameterError
        If shapes differ or ``mixture_stft`` is not 3-D.
    """
    import norbert

    mixture_stft = np.asarray(mixture_stft)
    if mixture_stft.ndim != 3:
        raise ParameterError(f"mixture_stft must be (n_channels, n_bins, n_frames), got shape={mixture_stft.shape}")
    names = list(magnitude_estimates)
    for name in names:
        if np.shape(magnitude_estimates[name]) != mixture_stft.shape:
            raise ParameterError(f"estimate {name!r} has shape {np.shape(magnitude_estimates[name])}, "
                                 f"expected {mixture_stft.shape}")
    # norbert's layout: (n_frames, n_bins, n_channels[, n_sources]).
    v = np.stack([np.transpose(magnitude_estimates[n], (2, 1, 0)) for n in names], axis=-1).astype(np.float64)
    x = np.transpose(mixture_stft, (2, 1, 0)).astype(np.complex128)
    y = norbert.wiener(v, x, iterations=iterations)
    return {n: np.transpose(y[..., i], (2, 1, 0)).astype(np.complex64) for i, n in enumerate(names)}
