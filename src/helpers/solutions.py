"""Checkers for the notebooks' exercises: each prints a clear pass/fail message and returns True or False.

A checker never raises on a wrong or missing answer (``None`` means "not attempted yet"), so a notebook runs top
to bottom before the learner has solved anything.

Taught in: notebooks/01_waveforms_and_mixtures.ipynb to notebooks/07_time_domain.ipynb
"""

from __future__ import annotations

import numpy as np


def _report(ok: bool, what: str, detail: str = "") -> bool:
    print(("✅ Correct: " if ok else "❌ Not yet: ") + what + (f" — {detail}" if detail else ""))
    return ok


def _compare(answer, expected, what: str, atol: float, rtol: float = 0.0) -> bool:
    if answer is None:
        return _report(False, what, "no answer yet (the variable is None)")
    answer = np.asarray(answer)
    expected = np.asarray(expected)
    if answer.shape != expected.shape:
        return _report(False, what, f"shape {answer.shape}, expected {expected.shape}")
    error = float(np.max(np.abs(answer - expected))) if answer.size else 0.0
    scale = float(np.max(np.abs(expected))) if expected.size else 0.0
    return _report(error <= atol + rtol * scale, what, f"max abs error {error:.3g}")


def check_mixture(mixture, stems: dict) -> bool:
    """Exercise (01): build the mixture from its stems.

    Parameters
    ----------
    mixture : np.ndarray [shape=(n_channels, n_samples)] or None
        The learner's answer.
    stems : dict[str, np.ndarray [shape=(n_channels, n_samples)]]

    Returns
    -------
    ok : bool
    """
    return _compare(mixture, sum(stems.values()), "mixture = sum of the stems", atol=1e-5)


def check_rms_db(levels, stems: dict) -> bool:
    """Exercise (01): the RMS level of each stem in dBFS, ``20 log10(sqrt(mean(x ** 2)))``, within 0.1 dB.

    Parameters
    ----------
    levels : dict[str, float] or None
    stems : dict[str, np.ndarray]

    Returns
    -------
    ok : bool
    """
    if levels is None:
        return _report(False, "RMS levels in dBFS", "no answer yet (the variable is None)")
    if set(levels) != set(stems):
        return _report(False, "RMS levels in dBFS", f"expected one value per stem: {sorted(stems)}")
    expected = {n: 20 * np.log10(np.sqrt(np.mean(np.square(s, dtype=np.float64)))) for n, s in stems.items()}
    worst = max(abs(levels[n] - expected[n]) for n in stems)
    return _report(worst <= 0.1, "RMS levels in dBFS", f"largest error {worst:.2f} dB")


def check_frames(frames, audio: np.ndarray, frame_length: int, hop_length: int) -> bool:
    """Exercise (02): cut a signal into frames of ``(n_frames, frame_length)`` (no padding).

    Returns
    -------
    ok : bool
    """
    import librosa

    expected = librosa.util.frame(np.ascontiguousarray(audio), frame_length=frame_length, hop_length=hop_length).T
    return _compare(frames, expected, "framing", atol=0.0)


def check_si_sdr(value, reference: np.ndarray, estimate: np.ndarray) -> bool:
    """Exercise (02): SI-SDR of an estimate in dB, within 0.01 dB.

    Returns
    -------
    ok : bool
    """
    from helpers.evaluation import si_sdr

    if value is None:
        return _report(False, "SI-SDR", "no answer yet (the variable is None)")
    expected = si_sdr(reference, estimate)
    return _report(abs(float(value) - expected) <= 0.01, "SI-SDR", f"you: {float(value):.2f} dB")


def check_resolution(bin_hz, frame_ms, n_fft: int, sample_rate: int) -> bool:
    """Exercise (03): frequency-bin spacing (Hz) and frame duration (ms) of an STFT, within 0.1 %.

    Returns
    -------
    ok : bool
    """
    if bin_hz is None or frame_ms is None:
        return _report(False, "STFT resolution", "no answer yet (a variable is None)")
    ok = np.isclose(bin_hz, sample_rate / n_fft, rtol=1e-3) and np.isclose(frame_ms, 1000 * n_fft / sample_rate,
                                                                           rtol=1e-3)
    return _report(bool(ok), "STFT resolution", f"you: {bin_hz:.2f} Hz per bin, {frame_ms:.1f} ms per frame")


def check_stft(stft_matrix, audio: np.ndarray, n_fft: int, hop_length: int) -> bool:
    """Exercise (03): an STFT by hand — frames, periodic Hann window, ``np.fft.rfft`` — shape (n_bins, n_frames).

    Compared with ``librosa.stft(center=False)``.

    Returns
    -------
    ok : bool
    """
    import librosa

    expected = librosa.stft(np.asarray(audio, dtype=np.float64), n_fft=n_fft, hop_length=hop_length, center=False)
    return _compare(stft_matrix, expected, "STFT by hand", atol=1e-6, rtol=1e-4)


def check_ratio_mask(mask, stems_stft: dict, target: str, power: float = 1.0) -> bool:
    """Exercise (04): the ideal ratio mask ``|S_t|^p / sum_k |S_k|^p`` of one target, within 1e-4.

    Returns
    -------
    ok : bool
    """
    from helpers.masks import ratio_masks

    return _compare(mask, ratio_masks(stems_stft, power=power)[target], f"IRM (power {power}) for {target}",
                    atol=1e-4)


def check_masked_estimate(estimate, mask: np.ndarray, mixture_stft: np.ndarray, hop_length: int, length: int) -> bool:
    """Exercise (04): apply a mask by hand — mask × mixture STFT, then the ISTFT — to ``length`` samples.

    Returns
    -------
    ok : bool
    """
    from helpers.masks import apply_mask

    return _compare(estimate, apply_mask(mask, mixture_stft, hop_length=hop_length, length=length),
                    "masked estimate", atol=1e-4)


def check_bottleneck_shape(shape, n_bins: int = 512, n_frames: int = 128, depth: int = 5,
                           base_filters: int = 8) -> bool:
    """Exercise (05): the U-Net bottleneck's ``(n_bins, n_frames, channels)`` after ``depth`` stride-2 layers.

    Returns
    -------
    ok : bool
    """
    expected = (n_bins // 2 ** depth, n_frames // 2 ** depth, base_filters * 2 ** (depth - 1))
    if shape is None:
        return _report(False, "bottleneck shape", "no answer yet (the variable is None)")
    return _report(tuple(int(v) for v in shape) == expected, "bottleneck shape", f"you: {tuple(shape)}")


def check_gain_share(share, table, method: str, target: str, oracle: str = "IRM1") -> bool:
    """Exercise (05): the share (in %) of the oracle's SDR gain over MIX that a method recovers, within 0.5 %.

    ``100 * (SDR_method - SDR_MIX) / (SDR_oracle - SDR_MIX)`` from a :class:`helpers.evaluation.ResultsTable`.

    Returns
    -------
    ok : bool
    """
    if share is None:
        return _report(False, "share of the oracle's gain", "no answer yet (the variable is None)")
    v = table.values
    expected = 100 * (v[method][target] - v["MIX"][target]) / (v[oracle][target] - v["MIX"][target])
    return _report(abs(float(share) - expected) <= 0.5, "share of the oracle's gain", f"you: {float(share):.1f} %")


def check_n_segments(n_segments, n_samples: int, segment_length: int, overlap_length: int) -> bool:
    """Exercise (06): how many segments the separator runs over a signal of ``n_samples`` (at the model's rate).

    The answer is the length of :func:`helpers.segments.segment_starts`.

    Returns
    -------
    ok : bool
    """
    from helpers.segments import segment_starts

    if n_segments is None:
        return _report(False, "number of segments", "no answer yet (the variable is None)")
    expected = len(segment_starts(n_samples, segment_length, overlap_length))
    return _report(int(n_segments) == expected, "number of segments", f"you: {n_segments}")


def check_overlap_cost(extra_percent, overlap: float) -> bool:
    """Exercise (06): how much more model work (in %) an overlap costs than back-to-back segments, within 1 %.

    Segments advance by ``1 - overlap`` of their length, so there are ``1 / (1 - overlap)`` times as many.

    Returns
    -------
    ok : bool
    """
    if extra_percent is None:
        return _report(False, "extra work of the overlap", "no answer yet (the variable is None)")
    expected = 100 * (1 / (1 - overlap) - 1)
    return _report(abs(float(extra_percent) - expected) <= 1.0, "extra work of the overlap",
                   f"you: {float(extra_percent):.1f} %")


def check_receptive_field(function) -> bool:
    """Exercise (07): a function ``(n_levels, down_kernel, up_kernel) -> samples`` giving a Wave-U-Net's receptive
    field, checked against :func:`helpers.models.receptive_field` of real models of several sizes.

    Returns
    -------
    ok : bool
    """
    from helpers import models

    if function is None:
        return _report(False, "receptive field", "no answer yet (the variable is None)")
    for n_levels, down_kernel, up_kernel in ((1, 3, 3), (2, 15, 5), (4, 5, 9), (8, 15, 5)):
        model = models.wave_unet(segment_length=2 ** max(n_levels, 4), n_levels=n_levels, base_filters=1,
                                 down_kernel=down_kernel, up_kernel=up_kernel)
        expected = models.receptive_field(model)
        answer = function(n_levels, down_kernel, up_kernel)
        if answer != expected:
            return _report(False, "receptive field", f"{n_levels} levels, kernels {down_kernel}/{up_kernel}: you "
                                                     f"{answer}, the model {expected} samples")
    return _report(True, "receptive field", "right for 1, 2, 4 and 8 levels")


def check_scaled_stft_loss(value, gain: float) -> bool:
    """Exercise (07): the multi-resolution STFT loss of an estimate that is the reference times ``gain`` (0 < gain
    < 1), within 0.01: spectral convergence ``1 - gain`` plus log-magnitude error ``|log gain|``, at every
    resolution alike.

    Returns
    -------
    ok : bool
    """
    if value is None:
        return _report(False, "loss of a scaled estimate", "no answer yet (the variable is None)")
    expected = (1 - gain) + abs(np.log(gain))
    return _report(abs(float(value) - expected) <= 0.01, "loss of a scaled estimate", f"you: {float(value):.3f}")
