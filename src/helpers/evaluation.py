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
from helpers.exceptions import ParameterError, check_int

METRICS = ("SDR", "SIR", "SAR", "ISR")
#: What a results table can show: BSS Eval's metrics and SI-SDR.
TABLE_METRICS = METRICS + ("SI-SDR",)

#: SDR (dB) of the no-learning baselines on MUSDB18's test set, vocals and drums: BSS Eval v4 (museval, 1-s
#: windows), median over frames, then over the 50 songs. Source: SiSEC 2018 per-track results
#: (sigsep/sigsep-mus-2018, submissions MIX and IRM1), as collected in shared/REFERENCES.md.
#: MIX says how loud the target is against the rest; IRM1 how much the sources overlap in time and frequency.
MUSDB18_BASELINES = {"MIX": {"vocals": 1.12, "drums": 1.33}, "IRM1": {"vocals": 8.52, "drums": 7.33}}

#: Active level relative to the vocals (dB, :func:`stem_levels`), the range measured by the course's team on
#: held-out real multitracks (issue #23): a measurement of ours, not a published figure. No published per-stem
#: level figures for MUSDB18 are collected in shared/REFERENCES.md, so none is stored here.
REAL_LEVELS_DB = {"bass": (-6.0, 3.0), "other": (-5.0, 1.0)}

#: :func:`stem_levels`: frames of this many seconds, without overlap.
LEVEL_FRAME_SECONDS = 1.0
#: A frame is active when its RMS is within this many dB of the stem's loudest frame ...
LEVEL_ACTIVE_RANGE_DB = 40.0
#: ... and above this absolute RMS (full scale 1.0; -100 dBFS).
LEVEL_ACTIVE_FLOOR = 1e-5


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


def leakage(references: dict, estimates: dict, sample_rate: int) -> dict:
    """How an estimate fails: whole-track SIR and SAR against all four stems, and its energy against the truth.

    BSS Eval v4 (museval, images mode) with the whole song as one window, the four references ``vocals, drums,
    bass, other`` evaluated jointly as :func:`museval.eval_mus_track` does. A low SIR says the estimate carries
    the other stems (leakage); a low SAR says it carries what no reference explains (artefacts: musical noise,
    phase errors). ``energy_db`` tells whether the estimate is louder than the truth (> 0 dB, typically leakage)
    or quieter (< 0 dB, lost target).

    A target whose reference is silent throughout gets NaN for all three (nothing to compare with); an estimate
    that is silent throughout gets NaN for SIR and SAR and ``-inf`` for ``energy_db``. A silent stem among the
    other references is left out of the joint evaluation (it spans nothing, and museval refuses it).

    Used by: helpers.evaluation.score_on_tracks

    Parameters
    ----------
    references : dict[str, np.ndarray [shape=(n_channels, n_samples) or (n_samples,)]]
        The true stems; all four of ``vocals, drums, bass, other`` (more keys, such as ``mixture``, are ignored).
    estimates : dict[str, np.ndarray], shapes as the references
        Estimates of any of the four stems (at least one).
    sample_rate : int > 0
        In Hz. Whole-track metrics do not depend on it; it is checked, and kept for the same call as
        :func:`bss_eval`.

    Returns
    -------
    diagnostic : dict[str, dict[str, float]]
        ``diagnostic[target]`` for each estimated target: ``SIR`` and ``SAR`` (dB, whole track) and
        ``energy_db = 10 log10(sum(estimate**2) / sum(reference**2))`` (dB).

    Raises
    ------
    ParameterError
        If a reference is missing (the message names it), an estimate is not one of the four stems, there is no
        estimate, shapes differ, a signal is not finite, or ``sample_rate`` is not a positive integer.

    References
    ----------
    .. [1] Vincent, Gribonval & Févotte, IEEE TASLP 2006 (the SIR/SAR decomposition).
    .. [2] Stöter, Liutkus & Ito, LVA/ICA 2018 (BSS Eval v4, museval).
    """
    check_int("sample_rate", sample_rate)
    missing = [stem for stem in STEMS if stem not in references]
    if missing:
        raise ParameterError(f"references lack {missing}: leakage needs all four stems {STEMS} (SIR counts "
                             "interference from every one of them)")
    unknown = [target for target in estimates if target not in STEMS]
    if unknown:
        raise ParameterError(f"estimates {unknown} are not stems; leakage scores estimates of {STEMS}")
    if not estimates:
        raise ParameterError("estimates is empty: give at least one stem's estimate")
    ref = {stem: _as_samples_channels(references[stem]) for stem in STEMS}
    est = {target: _as_samples_channels(estimates[target]) for target in estimates}
    shape = ref["vocals"].shape
    for kind, arrays in (("reference", ref), ("estimate", est)):
        for name, array in arrays.items():
            if array.shape != shape:
                raise ParameterError(f"{kind} {name!r} has shape {array.T.shape}, the vocals reference "
                                     f"{ref['vocals'].T.shape}")
            if not np.all(np.isfinite(array)):
                raise ParameterError(f"{kind} {name!r} is not finite (NaN or inf)")
    sounding = [stem for stem in STEMS if np.any(ref[stem])]
    scored = [t for t in est if t in sounding and np.any(est[t])]
    results = {}
    for target in est:
        with np.errstate(divide="ignore", invalid="ignore"):
            energy = 10 * np.log10(np.sum(est[target] ** 2) / np.sum(ref[target] ** 2))
        results[target] = {"SIR": float("nan"), "SAR": float("nan"),
                           "energy_db": float(energy) if target in sounding else float("nan")}
    if scored:
        ensure_ffmpeg()  # museval imports musdb, which needs ffmpeg/ffprobe on PATH
        import museval

        # With framewise filters off and no permutation (museval's v4 mode), an estimate's SIR and SAR come from
        # projecting that estimate alone onto the span of all the references: the other estimates never enter.
        # museval still wants one estimate per reference, so a stem without an estimate (or with a silent one)
        # is given its own reference as estimate; its figures are dropped.
        stand_ins = np.stack([est[stem] if stem in scored else ref[stem] for stem in sounding])
        n_samples = shape[0]
        _, _, sir, sar = museval.evaluate(np.stack([ref[stem] for stem in sounding]), stand_ins,
                                          win=n_samples, hop=n_samples)
        for target in scored:
            i = sounding.index(target)
            results[target]["SIR"], results[target]["SAR"] = float(sir[i][0]), float(sar[i][0])
    return results


def gain_share(model_sdr: float, mix_sdr: float, irm1_sdr: float) -> float:
    """The share (in %) of IRM1's SDR gain over MIX that a model recovers: ``100 (model - MIX) / (IRM1 - MIX)``.

    0 % is doing nothing (the mixture as estimate), 100 % matches the ideal ratio mask; a waveform model can pass
    100 %. Use medians over the same songs for all three.

    Used by: benchmarks/run.py, helpers.evaluation.split_diagnostics

    Parameters
    ----------
    model_sdr, mix_sdr, irm1_sdr : float
        SDR in dB of the model, of MIX and of IRM1 (:func:`baselines`) for one target.

    Returns
    -------
    share : float
        In %; NaN when an input is NaN or IRM1 gains nothing over MIX (``irm1_sdr == mix_sdr``).
    """
    model_sdr, mix_sdr, irm1_sdr = float(model_sdr), float(mix_sdr), float(irm1_sdr)
    if irm1_sdr == mix_sdr:
        return float("nan")
    return 100 * (model_sdr - mix_sdr) / (irm1_sdr - mix_sdr)


def _frame_powers(audio: np.ndarray, frame_length: int, n_frames: int) -> np.ndarray:
    """Mean square per frame over channels and samples: (n_channels, n_samples) -> (n_frames,)."""
    return (audio[:, :n_frames * frame_length] ** 2).reshape(audio.shape[0], n_frames, frame_length).mean(axis=(0, 2))


def _active_frames(power: np.ndarray) -> np.ndarray:
    """Frames within LEVEL_ACTIVE_RANGE_DB of the loudest one and above LEVEL_ACTIVE_FLOOR (RMS)."""
    rms = np.sqrt(power)
    return (rms > LEVEL_ACTIVE_FLOOR) & (rms >= rms.max(initial=0.0) * 10 ** (-LEVEL_ACTIVE_RANGE_DB / 20))


def _ratio_db(numerator_power, denominator_power) -> float:
    with np.errstate(divide="ignore", invalid="ignore"):
        return float(10 * np.log10(numerator_power / denominator_power))


def stem_levels(stems: dict, sample_rate: int) -> dict:
    """Each stem's level relative to the vocals, as active RMS, and the vocals against the rest.

    The signal is cut into frames of ``LEVEL_FRAME_SECONDS`` (1 s, no overlap; the last partial frame is dropped,
    and a clip shorter than a frame is one frame). A stem is *active* in a frame whose RMS (over channels and
    samples) lies within ``LEVEL_ACTIVE_RANGE_DB`` (40 dB) of its loudest frame and above ``LEVEL_ACTIVE_FLOOR``
    (1e-5). A stem's active RMS is its RMS over its active frames, so a bass that plays half the song reads the
    level it plays at, not half of it. Together with MIX and IRM1 (:func:`baselines`) these levels describe a data
    set: compare a generated split with real songs (``REAL_LEVELS_DB``).

    Taught in: notebooks/01_waveforms_and_mixtures.ipynb

    Used by: helpers.evaluation.score_on_tracks

    Parameters
    ----------
    stems : dict[str, np.ndarray [shape=(n_channels, n_samples) or (n_samples,)]]
        ``vocals`` and any of ``drums, bass, other``, all of one shape (``mixture`` and ``accompaniment`` are
        ignored, so :func:`helpers.data.track_arrays`'s dict can be passed as it is).
    sample_rate : int > 0
        In Hz.

    Returns
    -------
    levels : dict
        ``levels[stem]`` for each stem but the vocals: ``20 log10(active RMS of stem / active RMS of vocals)``
        (dB; NaN when the stem or the vocals are never active). ``levels["vocals_vs_rest"]``: the vocals' RMS over
        the RMS of the sum of the other stems, both over the frames where the vocals are active (dB, a
        target-to-rest measure; NaN without active vocals, ``inf`` when the rest is silent there).
        ``levels["active"]``: ``{stem: fraction of frames where it is active}``, vocals included.

    Raises
    ------
    ParameterError
        If ``vocals`` is missing, a key is not a stem, shapes differ, a signal is empty or not finite, or
        ``sample_rate`` is not a positive integer.
    """
    check_int("sample_rate", sample_rate)
    if "vocals" not in stems:
        raise ParameterError(f"stems {sorted(stems)} lack 'vocals': levels are relative to the vocals")
    unknown = [name for name in stems if name not in STEMS + ("mixture", "accompaniment")]
    if unknown:
        raise ParameterError(f"{unknown} are not stems; give any of {STEMS}")
    names = [stem for stem in STEMS if stem in stems]
    arrays = {stem: np.atleast_2d(np.asarray(stems[stem], dtype=np.float64)) for stem in names}
    shape = arrays["vocals"].shape
    for stem, array in arrays.items():
        if array.shape != shape:
            raise ParameterError(f"stem {stem!r} has shape {array.shape}, the vocals {shape}")
        if not np.all(np.isfinite(array)):
            raise ParameterError(f"stem {stem!r} is not finite (NaN or inf)")
    n_samples = shape[-1]
    if n_samples == 0:
        raise ParameterError("the stems contain no samples")
    frame_length = int(round(LEVEL_FRAME_SECONDS * sample_rate))
    n_frames = n_samples // frame_length
    if n_frames == 0:
        frame_length, n_frames = n_samples, 1
    power = {stem: _frame_powers(array, frame_length, n_frames) for stem, array in arrays.items()}
    active = {stem: _active_frames(p) for stem, p in power.items()}

    def active_power(stem):
        return power[stem][active[stem]].mean() if active[stem].any() else float("nan")

    vocals = active_power("vocals")
    levels = {stem: _ratio_db(active_power(stem), vocals) for stem in names if stem != "vocals"}
    rest = sum((arrays[stem] for stem in names if stem != "vocals"), np.zeros(shape))
    voiced = active["vocals"]
    if voiced.any():
        levels["vocals_vs_rest"] = _ratio_db(vocals, _frame_powers(rest, frame_length, n_frames)[voiced].mean())
    else:
        levels["vocals_vs_rest"] = float("nan")
    levels["active"] = {stem: float(a.mean()) for stem, a in active.items()}
    return levels


def level_distribution(per_song_levels) -> dict:
    """Median and 10th / 90th percentiles over songs of each level :func:`stem_levels` gives, NaN ignored.

    Taught in: notebooks/01_waveforms_and_mixtures.ipynb

    Used by: helpers.evaluation.split_diagnostics

    Parameters
    ----------
    per_song_levels : sequence of dict
        One :func:`stem_levels` result per song (its ``active`` fractions are left out).

    Returns
    -------
    distribution : dict[str, dict[str, float]]
        ``distribution[name]`` for ``bass, drums, other, vocals_vs_rest`` (those present): ``median``, ``p10``,
        ``p90`` in dB, and ``n_songs``, the songs with a value that is not NaN (all NaN: NaN percentiles).

    Raises
    ------
    ParameterError
        If the sequence is empty.
    """
    per_song_levels = list(per_song_levels)
    if not per_song_levels:
        raise ParameterError("per_song_levels is empty")
    names = [name for name in dict.fromkeys(k for levels in per_song_levels for k in levels)
             if not any(isinstance(levels.get(name), dict) for levels in per_song_levels)]
    distribution = {}
    for name in names:
        values = np.array([float(levels[name]) for levels in per_song_levels if name in levels])
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", RuntimeWarning)  # all-NaN
            p10, median, p90 = np.nanpercentile(values, [10, 50, 90])
        distribution[name] = {"median": float(median), "p10": float(p10), "p90": float(p90),
                              "n_songs": int(np.sum(~np.isnan(values)))}
    return distribution


def level_table(distribution: dict, reference: dict = REAL_LEVELS_DB) -> str:
    """The level distribution as text, one row per stem, with the real songs' range beside it where known.

    ``bass            median -4.1 dB  (10 % -9.0, 90 % +1.2)   real songs -6 to +3 dB``

    Taught in: notebooks/01_waveforms_and_mixtures.ipynb

    Used by: benchmarks/run.py

    Parameters
    ----------
    distribution : dict
        From :func:`level_distribution`.
    reference : dict[str, tuple[float, float]]
        Name -> (low, high) in dB to print beside the row (default: ``REAL_LEVELS_DB``; ``{}`` for none).

    Returns
    -------
    table : str
    """
    width = max((len(name) for name in distribution), default=0) + 2
    rows = []
    for name, d in distribution.items():
        row = f"{name:<{width}}median {d['median']:+.1f} dB  (10 % {d['p10']:+.1f}, 90 % {d['p90']:+.1f})"
        if name in reference:
            low, high = reference[name]
            row += f"   real songs {low:+.0f} to {high:+.0f} dB"
        rows.append(row)
    return "\n".join(rows)


def split_diagnostics(per_track, diagnostics, method: str) -> dict:
    """What a split says about a model and about the data: gain share, HALF count, leakage, baselines, levels.

    Used by: helpers.train, benchmarks/run.py

    Parameters
    ----------
    per_track, diagnostics : sequence of dict
        From :func:`score_on_tracks` with ``diagnostics=True``; ``per_track`` must hold ``MIX``, ``HALF`` and
        ``IRM1`` rows and ``method``'s.
    method : str
        The estimator to diagnose (its name in ``score_on_tracks``'s ``estimators``).

    Returns
    -------
    summary : dict
        - ``irm1_share``: ``{target: %}``, :func:`gain_share` on the medians over songs;
        - ``at_or_below_half``: ``{target: n_songs}`` where the method's SDR <= HALF's;
        - ``leakage``: ``{target: {"SIR", "SAR", "energy_db"}}``, medians over songs of :func:`leakage` (dB);
        - ``baselines_vs_musdb18``: ``{"MIX" | "IRM1": {target: {"median": dB, "musdb18": dB or None}}}``
          (``MUSDB18_BASELINES``; None where no MUSDB18 figure is collected);
        - ``stem_levels``: :func:`level_distribution` of the references' :func:`stem_levels`.

    Raises
    ------
    ParameterError
        If the sequences are empty or differ in length, or a row or the method's diagnostics are missing.
    """
    per_track, diagnostics = list(per_track), list(diagnostics)
    if not per_track or len(per_track) != len(diagnostics):
        raise ParameterError(f"per_track ({len(per_track)}) and diagnostics ({len(diagnostics)}) must have one "
                             "entry per track, at least one")
    needed = ("MIX", "HALF", "IRM1", method)
    lacking = sorted({row for scores in per_track for row in needed if row not in scores})
    if lacking:
        raise ParameterError(f"per_track lacks the rows {lacking}; score_on_tracks(methods=('MIX', 'HALF', "
                             "'IRM1'), ...) with the method among the estimators")
    if any(method not in d["leakage"] for d in diagnostics):
        raise ParameterError(f"diagnostics lack {method!r}: use score_on_tracks(..., diagnostics=True)")
    sdr = results_table(per_track).values
    targets = list(sdr[method])
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)  # all-NaN slices
        leak = {t: {m: float(np.nanmedian([d["leakage"][method][t][m] for d in diagnostics]))
                    for m in ("SIR", "SAR", "energy_db")} for t in targets}
    return {
        "irm1_share": {t: gain_share(sdr[method][t], sdr["MIX"][t], sdr["IRM1"][t]) for t in targets},
        "at_or_below_half": {t: int(sum(s[method][t]["SDR"] <= s["HALF"][t]["SDR"] for s in per_track))
                             for t in targets},
        "leakage": leak,
        "baselines_vs_musdb18": {b: {t: {"median": sdr[b][t], "musdb18": MUSDB18_BASELINES[b].get(t)}
                                     for t in targets} for b in ("MIX", "IRM1")},
        "stem_levels": level_distribution(d["stem_levels"] for d in diagnostics),
    }


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
    - **MAGPHASE**: the target's true magnitude with the mixture's phase, ``|S| e^{i∠X}``: the mixture's STFT times
      the unbounded ideal amplitude mask ``|S| / |X|``, a perfect magnitude under the mixture-phase constraint that
      every mask shares and a waveform model does not. IRM1 is never larger (``|X| <= sum_k |S_k|``) and the PSM
      shrinks it by ``cos(∠S - ∠X)``. Sometimes quoted as the mask models' ceiling, it bounds nothing in SDR: where
      sources overlap, a smaller, masked magnitude can score higher (notebook 07 prints where it lands).

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
                    methods=("MIX", "HALF", "IRM1"), n_fft: int | None = None, hop_length: int | None = None,
                    diagnostics=False):
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
    diagnostics : bool or sequence of str
        Also return, per track, the estimators' :func:`leakage` (whole-track SIR, SAR, energy against all four
        stems) and the references' :func:`stem_levels` (for :func:`split_diagnostics`): ``True`` for every
        estimator, or the names of those to diagnose. Each costs about a second per target and track on two cores
        (museval solves one 4096-unknown system per estimate, however short the song).

    Returns
    -------
    per_track : list of dict
        ``scores[method][target][metric]`` per track.
    per_track_diagnostics : list of dict
        Only with ``diagnostics``: ``{"leakage": {estimator: {target: {...}}}, "stem_levels": {...}}`` per track.

    Raises
    ------
    ParameterError
        If ``diagnostics`` names an estimator that ``estimators`` lacks.
    """
    from helpers import data  # here, not at the top: helpers.data imports Keras (TensorFlow), too slow for the widgets

    n_fft, hop_length = spectral.stft_settings(sample_rate, n_fft=n_fft, hop_length=hop_length)
    diagnosed = list(estimators) if diagnostics is True else list(diagnostics or ())
    if [name for name in diagnosed if name not in estimators]:
        raise ParameterError(f"diagnostics={diagnostics!r} names estimators not among {list(estimators)}")
    per_track, per_track_diagnostics = [], []
    for track in tracks:
        arrays = data.track_arrays(track, targets=STEMS, sample_rate=sample_rate)
        scores, _ = baselines(arrays, sample_rate, targets=targets, methods=methods, n_fft=n_fft, hop_length=hop_length)
        leaks = {}
        for name, estimate in estimators.items():
            estimates = estimate(arrays["mixture"])
            scores[name] = {t: bss_eval_target(arrays[t], estimates[t], arrays["mixture"], sample_rate)
                            for t in targets}
            if name in diagnosed and any(t in STEMS for t in targets):  # accompaniment alone: no stem to check
                leaks[name] = leakage(arrays, {t: estimates[t] for t in targets if t in STEMS}, sample_rate)
        per_track.append(scores)
        if diagnostics:
            per_track_diagnostics.append({"leakage": leaks, "stem_levels": stem_levels(arrays, sample_rate)})
    return (per_track, per_track_diagnostics) if diagnostics else per_track
