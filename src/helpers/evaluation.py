"""Scoring separation: BSS Eval (museval, MUSDB conventions), SI-SDR, and simple baselines.

Taught in: notebooks/02_waveform_fnn.ipynb, notebooks/04_masks_and_spectrogram_fnn.ipynb, 
notebooks/05_unet_vocals_drums.ipynb

References
----------
.. [1] Vincent, Gribonval & Févotte, "Performance measurement in blind audio source separation", IEEE TASLP 2006.
.. [2] Stöter, Liutkus & Ito, "The 2018 Signal Separation Evaluation Campaign", LVA/ICA 2018 (BSS Eval v4, museval).
.. [3] Le Roux, Wisdom, Erdogan & Hershey, "SDR – half-baked or well done?", ICASSP 2019 (SI-SDR).
"""

from __future__ import annotations

import warnings

import numpy as np

from helpers import masks, spectral
from helpers.compat import ensure_ffmpeg
from helpers.config import DEFAULT_TARGETS, HOP_LENGTH, N_FFT, SAMPLE_RATE, STEMS
from helpers.exceptions import ParameterError

METRICS = ("SDR", "SIR", "SAR", "ISR")
#: What a results table can show: BSS Eval's metrics and SI-SDR.
TABLE_METRICS = METRICS + ("SI-SDR",)


def si_sdr(reference: np.ndarray, estimate: np.ndarray) -> float:
    """Scale-invariant SDR in dB: the estimate's error after the best rescaling of the reference.

    ``SI-SDR = 10 log10(|a s|^2 / |a s - s_hat|^2)`` with ``a = <s_hat, s> / |s|^2``, on zero-mean signals;
    multichannel signals are flattened (one scale for all channels).

    Taught in: notebooks/02_waveform_fnn.ipynb, notebooks/07_time_domain.ipynb

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


def bss_eval(references: dict, estimates: dict, sample_rate: int, *, frame_seconds: float = 1.0,
             hop_seconds: float = 1.0) -> dict:
    """BSS Eval v4 through museval, MUSDB style: metrics on 1-s windows, then the median over windows.

    museval marks a window NaN when a reference or an estimate is silent in it; those windows are left out of
    the median (``np.nanmedian``, as museval's own track aggregation does). A source silent throughout gets NaN,
    with a warning. Never pass an all-zero estimate: add the MIX baseline instead.

    Taught in: notebooks/02_waveform_fnn.ipynb, notebooks/04_masks_and_spectrogram_fnn.ipynb

    Parameters
    ----------
    references : dict[str, np.ndarray [shape=(n_channels, n_samples) or (n_samples,)]]
        The true sources; together they should make up the mixture (add ``accompaniment`` for two-source scoring,
        see :func:`bss_eval_target`).
    estimates : dict[str, np.ndarray], same keys and shapes
    sample_rate : int > 0
        In Hz.
    frame_seconds, hop_seconds : float > 0
        Length of BSS Eval's windows and the step between them, in seconds (museval's ``win`` and ``hop``, which
        it takes in samples).

    Returns
    -------
    scores : dict[str, dict[str, float]]
        ``scores[source][metric]`` for metric in ``SDR, SIR, SAR, ISR``, in dB.

    Raises
    ------
    ParameterError
        If keys or shapes differ, or a reference or an estimate is silent throughout (museval rejects those).
    """
    ensure_ffmpeg()  # museval imports musdb, which needs ffmpeg/ffprobe on PATH
    import museval

    if set(references) != set(estimates):
        raise ParameterError(f"references {sorted(references)} and estimates {sorted(estimates)} differ")
    names = list(references)
    ref = np.stack([_as_samples_channels(references[n]) for n in names])
    est = np.stack([_as_samples_channels(estimates[n]) for n in names])
    if ref.shape != est.shape:
        raise ParameterError(f"reference shape {ref.shape} differs from estimate shape {est.shape}")
    for kind, arrays in (("reference", ref), ("estimate", est)):
        for name, array in zip(names, arrays):
            if not np.any(array):
                raise ParameterError(
                    f"{kind} {name!r} is silent throughout; BSS Eval is undefined for it (museval refuses "
                    "all-zero signals). Score a silent target's estimate with si_sdr or energy instead, and never "
                    "emit an all-zero estimate: fall back to the mixture (the MIX baseline)."
                )
    sdr, isr, sir, sar = museval.evaluate(ref, est, win=int(frame_seconds * sample_rate),
                                          hop=int(hop_seconds * sample_rate))
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


def seam_error_profile(references, estimates, positions, sample_rate: int, *, radius: float = 0.5,
                       frame_seconds: float = 0.02):
    """Error-to-signal ratio around given instants (e.g. window seams), pooled over all of them.

    For each offset ``tau`` in ``[-radius, radius)``: ``10 log10(sum ||e(p + tau)||^2 / sum ||s(p + tau)||^2)`` over
    positions ``p`` and tracks, with ``e = estimate - reference`` and both energies smoothed over ``frame_seconds``.
    A seam that hurts shows as a peak at ``tau = 0``; without one the curve is flat.

    Taught in: notebooks/06_separate_your_song.ipynb

    Parameters
    ----------
    references, estimates : sequence of np.ndarray [shape=(n_channels, n_samples) or (n_samples,)]
        One pair per track.
    positions : sequence of array-like of int
        One set of sample indices per track; those closer than ``radius`` to an end are skipped.
    sample_rate : int > 0
        In Hz.
    radius, frame_seconds : float > 0
        In seconds: the half-width of the profile, and the length of the smoothing frame.

    Returns
    -------
    offsets : np.ndarray [shape=(n_offsets,)]
        Seconds from the instant.
    ratio_db : np.ndarray [shape=(n_offsets,)]
        Error-to-signal ratio in dB (lower is better; ``-SDR`` in spirit, local).

    Raises
    ------
    ParameterError
        If the sequences differ in length, a pair differs in shape, or no position is far enough from the ends.
    """
    if not len(references) == len(estimates) == len(positions):
        raise ParameterError("references, estimates and positions must have one entry per track")
    half = int(round(radius * sample_rate))
    error, signal, count = np.zeros(2 * half), np.zeros(2 * half), 0
    for reference, estimate, where in zip(references, estimates, positions):
        reference, estimate = np.atleast_2d(reference), np.atleast_2d(estimate)
        if reference.shape != estimate.shape:
            raise ParameterError(f"reference shape {reference.shape} differs from estimate shape {estimate.shape}")
        e = ((estimate - reference) ** 2).sum(axis=0)
        s = (reference ** 2).sum(axis=0)
        for p in np.asarray(where, dtype=int):
            if half <= p <= reference.shape[1] - half:
                error += e[p - half:p + half]
                signal += s[p - half:p + half]
                count += 1
    if not count:
        raise ParameterError(f"no position lies at least radius={radius} s from both ends")
    smooth = np.ones(max(1, int(round(frame_seconds * sample_rate))))
    ratio = np.convolve(error, smooth, "same") / np.maximum(np.convolve(signal, smooth, "same"), 1e-12)
    return (np.arange(2 * half) - half) / sample_rate, 10 * np.log10(np.maximum(ratio, 1e-12))


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
        The target's ``SDR, SIR, SAR, ISR`` (median over 1-s windows) and its ``SI-SDR`` over the whole signal
        (:func:`si_sdr`; NaN for a silent reference), in dB.
    """
    reference, estimate, mixture = (np.asarray(a, dtype=np.float64) for a in (reference, estimate, mixture))
    accompaniment_estimate = mixture - estimate
    if not np.any(accompaniment_estimate):
        accompaniment_estimate = mixture
    scores = bss_eval({"target": reference, "accompaniment": mixture - reference},
                      {"target": estimate, "accompaniment": accompaniment_estimate}, sample_rate)
    return scores["target"] | {"SI-SDR": si_sdr(reference, estimate) if np.any(reference) else float("nan")}


def _as_samples_channels(audio) -> np.ndarray:
    """librosa layout (n_channels, n_samples) or (n_samples,) → museval's (n_samples, n_channels)."""
    audio = np.asarray(audio, dtype=np.float64)
    return audio[:, None] if audio.ndim == 1 else audio.T


ORACLES = ("IBM", "IRM1", "IRM2", "Wiener", "MAGPHASE")


def baselines(track_arrays: dict, sample_rate: int, *, targets=DEFAULT_TARGETS, n_fft: int = N_FFT,
              hop_length: int = HOP_LENGTH, methods=("MIX", "HALF", "IBM", "IRM1", "IRM2", "Wiener")) -> dict:
    """Score the no-learning baselines and the oracle masks for one track, SiSEC-style, per target.

    - **MIX**: the mixture as the estimate (what doing nothing scores);
    - **HALF**: half the mixture — SDR rewards mere scaling when the target is quiet;
    - **IBM**, **IRM1**, **IRM2**: ideal binary, magnitude-ratio and power-ratio masks from the four stems;
    - **Wiener**: multichannel Wiener filter (norbert, 1 EM iteration) fed the true stem magnitudes;
    - **MAGPHASE**: the target's true magnitude with the mixture's phase, ``|S| e^{i∠X}``: a perfect magnitude
      estimate under the mixture-phase constraint that every mask shares and a waveform model does not. Often
      quoted as the mask models' ceiling, it is not one in SDR: where sources overlap, the exact magnitude with the
      wrong phase can score below a smaller, masked one (IRM1 on the generated drums does better).

    Taught in: notebooks/04_masks_and_spectrogram_fnn.ipynb

    Parameters
    ----------
    track_arrays : dict
        From :func:`helpers.data.track_arrays` with all four stems: ``mixture``, ``vocals``, ``drums``, ``bass``,
        ``other`` as ``(n_channels, n_samples)``.
    sample_rate : int > 0
        Their rate, in Hz (the ``sample_rate`` they were read at).
    targets : sequence of str
        Stems to score.
    n_fft, hop_length : int
        STFT used by the oracle masks.
    methods : sequence of str
        Any of ``MIX, HALF, IBM, IRM1, IRM2, Wiener, MAGPHASE``.

    Returns
    -------
    scores : dict[str, dict[str, dict[str, float]]]
        ``scores[method][target][metric]`` (see :func:`bss_eval_target`), in dB.
    estimates : dict[str, dict[str, np.ndarray]]
        ``estimates[method][target]``, ``(n_channels, n_samples)``.

    Raises
    ------
    ParameterError
        If a stem is missing or a method is unknown.
    """
    import librosa

    stems = STEMS
    missing = [s for s in ("mixture",) + stems if s not in track_arrays]
    if missing:
        raise ParameterError(f"track_arrays lacks {missing}; use data.track_arrays(track, targets={stems})")
    unknown = [m for m in methods if m not in ("MIX", "HALF") + ORACLES]
    if unknown:
        raise ParameterError(f"unknown methods {unknown}; choose from {('MIX', 'HALF') + ORACLES}")
    mixture = track_arrays["mixture"]
    n = mixture.shape[-1]
    stfts = {s: spectral.stft(track_arrays[s], n_fft=n_fft, hop_length=hop_length) for s in stems}
    mixture_stft = spectral.stft(mixture, n_fft=n_fft, hop_length=hop_length)
    mask_sets = {}
    if "IBM" in methods:
        mask_sets["IBM"] = masks.binary_masks(stfts)
    if "IRM1" in methods:
        mask_sets["IRM1"] = masks.ratio_masks(stfts, power=1)
    if "IRM2" in methods:
        mask_sets["IRM2"] = masks.ratio_masks(stfts, power=2)
    estimates = {}
    for method in methods:
        if method == "MIX":
            estimates[method] = {t: mixture for t in targets}
        elif method == "HALF":
            estimates[method] = {t: 0.5 * mixture for t in targets}
        elif method == "MAGPHASE":
            phase = librosa.magphase(mixture_stft)[1]
            estimates[method] = {t: spectral.istft(np.abs(stfts[t]) * phase, hop_length=hop_length, length=n)
                                 for t in targets}
        elif method == "Wiener":
            filtered = masks.wiener({s: np.abs(x) for s, x in stfts.items()}, mixture_stft, iterations=1)
            estimates[method] = {t: spectral.istft(filtered[t], hop_length=hop_length, length=n) for t in targets}
        else:
            estimates[method] = {t: masks.apply_mask(mask_sets[method][t], mixture_stft, hop_length=hop_length,
                                                     length=n)
                                 for t in targets}
    scores = {m: {t: bss_eval_target(track_arrays[t], est[t], mixture, sample_rate) for t in targets}
              for m, est in estimates.items()}
    return scores, estimates


class ResultsTable:
    """Method × target table of one metric, median over tracks; prints as text and renders as HTML.

    Used by: helpers.evaluation.results_table

    Attributes
    ----------
    values : dict[str, dict[str, float]]
        ``values[method][target]``, the median over tracks (NaN-aware).
    n_tracks : dict[str, int]
        Tracks scored per method.
    metric : str
    """

    def __init__(self, values: dict, n_tracks: dict, metric: str):
        self.values, self.n_tracks, self.metric = values, n_tracks, metric

    @property
    def targets(self) -> list:
        """The target columns, in first-seen order."""
        return list(dict.fromkeys(t for row in self.values.values() for t in row))

    def __str__(self) -> str:
        width = max(len(m) for m in self.values) + 2
        lines = [f"{self.metric + ' (dB)':<{width}}" + "".join(f"{t:>10}" for t in self.targets) + "    tracks"]
        for method, row in self.values.items():
            cells = "".join(f"{row.get(t, float('nan')):>10.2f}" for t in self.targets)
            lines.append(f"{method:<{width}}{cells}{self.n_tracks[method]:>10}")
        return "\n".join(lines)

    def _repr_html_(self) -> str:
        head = "".join(f"<th>{t}</th>" for t in self.targets)
        rows = "".join(
            f"<tr><td style='text-align:left'>{m}</td>"
            + "".join(f"<td>{r.get(t, float('nan')):.2f}</td>" for t in self.targets)
            + f"<td>{self.n_tracks[m]}</td></tr>"
            for m, r in self.values.items()
        )
        return (f"<table><tr><th>{self.metric} (dB), median over tracks</th>{head}<th>tracks</th></tr>"
                f"{rows}</table>")

    def __repr__(self) -> str:
        return str(self)


def results_table(per_track_scores, *, metric: str = "SDR") -> ResultsTable:
    """Aggregate per-track scores into a method × target table of medians; the MIX row is required, first.

    Taught in: notebooks/04_masks_and_spectrogram_fnn.ipynb, notebooks/05_unet_vocals_drums.ipynb,
    notebooks/06_separate_your_song.ipynb, notebooks/07_time_domain.ipynb

    Parameters
    ----------
    per_track_scores : sequence of dict
        One ``scores[method][target][metric]`` dict per track (as :func:`baselines` returns; merge in your own
        methods' rows with the same layout).
    metric : {"SDR", "SIR", "SAR", "ISR"}

    Returns
    -------
    table : ResultsTable

    Raises
    ------
    ParameterError
        If the list is empty, the metric is unknown, or a track lacks the MIX row.
    """
    per_track_scores = list(per_track_scores)
    if not per_track_scores:
        raise ParameterError("per_track_scores is empty")
    if metric not in TABLE_METRICS:
        raise ParameterError(f"metric={metric!r} must be one of {TABLE_METRICS}")
    if any("MIX" not in scores for scores in per_track_scores):
        raise ParameterError("every track needs a 'MIX' row (the mixture as estimate): it is the reference point")
    methods = ["MIX"] + [m for m in dict.fromkeys(m for s in per_track_scores for m in s) if m != "MIX"]
    values, counts = {}, {}
    for method in methods:
        rows = [s[method] for s in per_track_scores if method in s]
        counts[method] = len(rows)
        targets = list(dict.fromkeys(t for r in rows for t in r))
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", RuntimeWarning)
            values[method] = {t: float(np.nanmedian([r[t][metric] for r in rows if t in r])) for t in targets}
    return ResultsTable(values, counts, metric)


def score_on_tracks(tracks, estimators: dict, *, targets=DEFAULT_TARGETS, sample_rate: int = SAMPLE_RATE,
                    methods=("MIX", "HALF", "IRM1"), n_fft: int | None = None, hop_length: int | None = None) -> list:
    """Score baselines and estimators on tracks (BSS Eval, SiSEC-style), ready for :func:`results_table`.

    Taught in: notebooks/04_masks_and_spectrogram_fnn.ipynb, notebooks/05_unet_vocals_drums.ipynb,
    notebooks/06_separate_your_song.ipynb, notebooks/07_time_domain.ipynb

    Parameters
    ----------
    tracks : sequence of musdb.MultiTrack
    estimators : dict[str, callable]
        Name → function ``mixture (n_channels, n_samples) -> {target: estimate}``.
    targets : sequence of str
    sample_rate : int
        Scoring rate (Hz).
    methods : sequence of str
        Baseline methods (:func:`baselines`).
    n_fft, hop_length : int or None
        The oracles' STFT; ``None``: the course's 46-ms frames at ``sample_rate`` (``N_FFT`` scaled by
        ``sample_rate / SAMPLE_RATE`` to a power of two, and a quarter of it as the hop).

    Returns
    -------
    per_track : list of dict
        ``scores[method][target][metric]`` per track.
    """
    from helpers import data  # here, not at the top: helpers.data imports Keras (TensorFlow), too slow for the widgets

    n_fft, hop_length = spectral.stft_settings(sample_rate, n_fft=n_fft, hop_length=hop_length)
    per_track = []
    for track in tracks:
        arrays = data.track_arrays(track, targets=STEMS, sample_rate=sample_rate)
        scores, _ = baselines(arrays, sample_rate, targets=targets, methods=methods, n_fft=n_fft, hop_length=hop_length)
        for name, estimate in estimators.items():
            estimates = estimate(arrays["mixture"])
            scores[name] = {t: bss_eval_target(arrays[t], estimates[t], arrays["mixture"], sample_rate)
                            for t in targets}
        per_track.append(scores)
    return per_track
