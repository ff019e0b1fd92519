"""Scoring separation: BSS Eval (museval, MUSDB conventions), SI-SDR, and simple baselines.

Taught in: notebooks/02_waveform_fnn.ipynb, notebooks/04_masks_and_spectrogram_fnn.ipynb

References
----------
.. [1] Vincent, Gribonval & Févotte, "Performance measurement in blind audio source separation", IEEE TASLP 2006.
.. [2] Stöter, Liutkus & Ito, "The 2018 Signal Separation Evaluation Campaign", LVA/ICA 2018 (BSS Eval v4, museval).
.. [3] Le Roux, Wisdom, Erdogan & Hershey, "SDR – half-baked or well done?", ICASSP 2019 (SI-SDR).
"""

from __future__ import annotations

import warnings

import numpy as np

from helpers import spectral
from helpers.exceptions import ParameterError

METRICS = ("SDR", "SIR", "SAR", "ISR")


def si_sdr(reference: np.ndarray, estimate: np.ndarray) -> float:
    """Scale-invariant SDR in dB: the estimate's error after the best rescaling of the reference.

    ``SI-SDR = 10 log10(|a s|^2 / |a s - s_hat|^2)`` with ``a = <s_hat, s> / |s|^2``, on zero-mean signals;
    multichannel signals are flattened (one scale for all channels).

    Taught in: notebooks/02_waveform_fnn.ipynb

    Parameters
    ----------
    reference : np.ndarray [shape=(..., n_samples)]
    estimate : np.ndarray [shape=reference.shape]

    Returns
    -------
    si_sdr : float
        In dB; ``inf`` for a perfect (rescaled) estimate, ``-inf`` for an estimate orthogonal to the reference.

    Raises
    ------
    ParameterError
        If shapes differ or the reference is silent (SI-SDR is undefined then).
    """
    reference = np.asarray(reference, dtype=np.float64).ravel()
    estimate = np.asarray(estimate, dtype=np.float64).ravel()
    if reference.shape != estimate.shape:
        raise ParameterError(f"shapes differ: reference {reference.shape} vs estimate {estimate.shape}")
    reference = reference - reference.mean()
    estimate = estimate - estimate.mean()
    energy = np.dot(reference, reference)
    if energy == 0:
        raise ParameterError("the reference is silent; SI-SDR is undefined")
    target = np.dot(estimate, reference) / energy * reference
    noise = estimate - target
    with np.errstate(divide="ignore"):
        return float(10 * np.log10(np.dot(target, target) / np.dot(noise, noise)))


def bss_eval(references: dict, estimates: dict, sample_rate: int, window: float = 1.0, hop: float = 1.0) -> dict:
    """BSS Eval v4 through museval, MUSDB style: metrics on 1-s windows, then the median over windows.

    museval marks a window NaN when a reference or an estimate is silent in it; those windows are left out of
    the median (``np.nanmedian``, as museval's own track aggregation does). A source silent throughout gets NaN,
    with a warning. Never pass an all-zero estimate: add the MIX baseline instead.

    Taught in: notebooks/04_masks_and_spectrogram_fnn.ipynb

    Parameters
    ----------
    references : dict[str, np.ndarray [shape=(n_channels, n_samples) or (n_samples,)]]
        The true sources; together they should make up the mixture (add ``accompaniment`` for two-source scoring,
        see :func:`bss_eval_target`).
    estimates : dict[str, np.ndarray], same keys and shapes
    sample_rate : int > 0
        In Hz.
    window, hop : float > 0
        Seconds.

    Returns
    -------
    scores : dict[str, dict[str, float]]
        ``scores[source][metric]`` for metric in ``SDR, SIR, SAR, ISR``, in dB.

    Raises
    ------
    ParameterError
        If keys or shapes differ.
    """
    from helpers.compat import ensure_ffmpeg

    ensure_ffmpeg()  # museval imports musdb, which needs ffmpeg/ffprobe on PATH
    import museval

    if set(references) != set(estimates):
        raise ParameterError(f"references {sorted(references)} and estimates {sorted(estimates)} differ")
    names = list(references)
    ref = np.stack([_as_samples_channels(references[n]) for n in names])
    est = np.stack([_as_samples_channels(estimates[n]) for n in names])
    if ref.shape != est.shape:
        raise ParameterError(f"reference shape {ref.shape} differs from estimate shape {est.shape}")
    sdr, isr, sir, sar = museval.evaluate(ref, est, win=int(window * sample_rate), hop=int(hop * sample_rate))
    scores = {}
    for i, name in enumerate(names):
        values = dict(zip(METRICS, (sdr[i], sir[i], sar[i], isr[i])))
        if np.all(np.isnan(values["SDR"])):
            warnings.warn(f"{name}: every window is silent in the reference or the estimate; scores are NaN",
                          stacklevel=2)
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", RuntimeWarning)  # all-NaN slices
            scores[name] = {m: float(np.nanmedian(v)) for m, v in values.items()}
    return scores


def bss_eval_target(reference: np.ndarray, estimate: np.ndarray, mixture: np.ndarray, sample_rate: int) -> dict:
    """Score one target SiSEC-style: target and accompaniment (``mixture - target``) as the two sources.

    The accompaniment estimate is ``mixture - estimate``, as SiSEC 2018 scored vocals. For the MIX baseline
    (``estimate == mixture``) that difference is silent, which museval cannot score; the accompaniment is then
    estimated by the mixture too, as in SiSEC's MIX submission. In BSS Eval v4 a source's scores do not depend on
    the other source's estimate, so the target's figures are unaffected.

    Taught in: notebooks/04_masks_and_spectrogram_fnn.ipynb

    Parameters
    ----------
    reference, estimate, mixture : np.ndarray [shape=(n_channels, n_samples) or (n_samples,)]
    sample_rate : int > 0

    Returns
    -------
    scores : dict[str, float]
        The target's ``SDR, SIR, SAR, ISR`` (median over 1-s windows), in dB.
    """
    reference, estimate, mixture = (np.asarray(a, dtype=np.float64) for a in (reference, estimate, mixture))
    accompaniment_estimate = mixture - estimate
    if not np.any(accompaniment_estimate):
        accompaniment_estimate = mixture
    scores = bss_eval({"target": reference, "accompaniment": mixture - reference},
                      {"target": estimate, "accompaniment": accompaniment_estimate}, sample_rate)
    return scores["target"]


def _as_samples_channels(audio) -> np.ndarray:
    """librosa layout (n_channels, n_samples) or (n_samples,) → museval's (n_samples, n_channels)."""
    audio = np.asarray(audio, dtype=np.float64)
    return audio[:, None] if audio.ndim == 1 else audio.T


def fixed_filter_split(mixture: np.ndarray, reference: np.ndarray, sample_rate: int,
                       cutoffs=(100, 150, 200, 300, 500, 800, 1200, 2000, 3000, 5000),
                       n_fft: int = 2048, hop_length: int = 512) -> dict:
    """The best fixed low-pass or high-pass "separator" for a target: a baseline that needs no learning.

    Every cutoff (Hz) and both sides are tried as a brick-wall STFT mask; the one with the highest SI-SDR against
    the reference wins. If it scores close to an ideal mask, the data would be too easy.

    Taught in: notebooks/04_masks_and_spectrogram_fnn.ipynb

    Parameters
    ----------
    mixture, reference : np.ndarray [shape=(..., n_samples)]
    sample_rate : int > 0
        In Hz.
    cutoffs : sequence of float
        Candidate cutoff frequencies in Hz.
    n_fft, hop_length : int

    Returns
    -------
    best : dict
        ``{"cutoff": Hz, "side": "low" or "high", "si_sdr": dB, "estimate": np.ndarray}``.
    """
    mixture_stft = spectral.stft(mixture, n_fft=n_fft, hop_length=hop_length)
    freqs = np.arange(n_fft // 2 + 1) * sample_rate / n_fft
    best = None
    for cutoff in cutoffs:
        for side in ("low", "high"):
            keep = (freqs < cutoff) if side == "low" else (freqs >= cutoff)
            estimate = spectral.istft(mixture_stft * keep[:, None], hop_length=hop_length, length=mixture.shape[-1])
            score = si_sdr(reference, estimate)
            if best is None or score > best["si_sdr"]:
                best = {"cutoff": float(cutoff), "side": side, "si_sdr": score, "estimate": estimate}
    return best
