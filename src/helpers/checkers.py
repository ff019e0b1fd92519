"""Checkers for the notebooks' exercises: each prints one clear pass/fail line and returns nothing, so a notebook
shows that line and no echoed value under the exercise. Where a wrong answer is a usual mistake (a fraction where a
percent is asked, SI-SDR without removing the means, the bottleneck without the Nyquist crop), a hint follows.

A checker never raises on a wrong or missing answer (``None`` means "not attempted yet"), so a notebook runs top
to bottom before the learner has solved anything.

Taught in: notebooks/00_setup_check.ipynb, notebooks/01_waveforms_and_mixtures.ipynb, notebooks/02_waveform_fnn.ipynb,
notebooks/03_stft.ipynb, notebooks/04_masks_and_spectrogram_fnn.ipynb, notebooks/05_unet_vocals_drums.ipynb,
notebooks/06_separate_your_song.ipynb, notebooks/07_time_domain.ipynb
"""

from __future__ import annotations

import numpy as np

from helpers import spectral
from helpers.songs.plan import midi_to_hz
from helpers.config import DEFAULT_TARGETS
from helpers.evaluation import si_sdr
from helpers.segments import segment_starts


def _report(ok: bool, what: str, detail: str = "", hint: str = "") -> None:
    print(("✅ Correct: " if ok else "❌ Not yet: ") + what + (f" — {detail}" if detail else "")
          + (f"\n   Hint: {hint}" if hint and not ok else ""))


def _percent_hint(value, expected: float) -> str:
    """The hint for a fraction given where a percent is asked."""
    return ("a percent is asked: that looks like the fraction (multiply by 100)"
            if value is not None and abs(100 * float(value) - expected) <= 0.5 else "")


def _compare(answer, expected, what: str, atol: float, rtol: float = 0.0) -> None:
    if answer is None:
        return _report(False, what, "no answer yet (the variable is None)")
    answer = np.asarray(answer)
    expected = np.asarray(expected)
    if answer.shape != expected.shape:
        return _report(False, what, f"shape {answer.shape}, expected {expected.shape}")
    error = float(np.max(np.abs(answer - expected))) if answer.size else 0.0
    scale = float(np.max(np.abs(expected))) if expected.size else 0.0
    return _report(error <= atol + rtol * scale, what, f"max abs error {error:.3g}")


def check_mixture(mixture, stems: dict) -> None:
    """Exercise (01): build the mixture from its stems.

    Taught in: notebooks/01_waveforms_and_mixtures.ipynb

    Parameters
    ----------
    mixture : np.ndarray [shape=(n_channels, n_samples)] or None
        The learner's answer.
    stems : dict[str, np.ndarray [shape=(n_channels, n_samples)]]
    """
    return _compare(mixture, sum(stems.values()), "mixture = sum of the stems", atol=1e-5)


def check_rms_db(levels, stems: dict) -> None:
    """Exercise (01): the RMS level of each stem in dBFS, ``20 log10(sqrt(mean(x ** 2)))``, within 0.1 dB.

    Taught in: notebooks/01_waveforms_and_mixtures.ipynb

    Parameters
    ----------
    levels : dict[str, float] or None
    stems : dict[str, np.ndarray]
    """
    if levels is None:
        return _report(False, "RMS levels in dBFS", "no answer yet (the variable is None)")
    if set(levels) != set(stems):
        return _report(False, "RMS levels in dBFS", f"expected one value per stem: {sorted(stems)}")
    expected = {n: 20 * np.log10(np.sqrt(np.mean(np.square(s, dtype=np.float64)))) for n, s in stems.items()}
    worst = max(abs(levels[n] - expected[n]) for n in stems)
    return _report(worst <= 0.1, "RMS levels in dBFS", f"largest error {worst:.2f} dB")


def check_si_sdr(value, reference: np.ndarray, estimate: np.ndarray) -> None:
    """Exercise (02): SI-SDR of an estimate in dB, within 0.01 dB.

    Taught in: notebooks/02_waveform_fnn.ipynb
    """

    if value is None:
        return _report(False, "SI-SDR", "no answer yet (the variable is None)")
    expected = si_sdr(reference, estimate)
    s, s_hat = np.asarray(reference, np.float64), np.asarray(estimate, np.float64)
    alpha = np.sum(s_hat * s) / np.sum(s * s)  # the same formula without removing the means
    with_means = 10 * np.log10(np.sum((alpha * s) ** 2) / np.sum((alpha * s - s_hat) ** 2))
    hint = ("that is SI-SDR without removing each signal's mean first" if abs(float(value) - with_means) <= 0.01
            and abs(with_means - expected) > 0.01 else "")
    return _report(abs(float(value) - expected) <= 0.01, "SI-SDR", f"you: {float(value):.2f} dB", hint)


def check_resolution(bin_hz, frame_ms, n_fft: int, sample_rate: int) -> None:
    """Exercise (03): frequency-bin spacing (Hz) and frame duration (ms) of an STFT, within 0.1 %.

    Taught in: notebooks/03_stft.ipynb
    """
    if bin_hz is None or frame_ms is None:
        return _report(False, "STFT resolution", "no answer yet (a variable is None)")
    ok = np.isclose(bin_hz, sample_rate / n_fft, rtol=1e-3) and np.isclose(frame_ms, 1000 * n_fft / sample_rate,
                                                                           rtol=1e-3)
    return _report(bool(ok), "STFT resolution", f"you: {bin_hz:.2f} Hz per bin, {frame_ms:.1f} ms per frame")


def check_stft(stft_matrix, audio: np.ndarray, n_fft: int, hop_length: int) -> None:
    """Exercise (03): an STFT by hand — frames, periodic Hann window, ``np.fft.rfft`` — shape (n_bins, n_frames).

    Compared with ``librosa.stft(center=False)``.

    Taught in: notebooks/03_stft.ipynb
    """
    import librosa

    expected = librosa.stft(np.asarray(audio, dtype=np.float64), n_fft=n_fft, hop_length=hop_length, center=False)
    return _compare(stft_matrix, expected, "STFT by hand", atol=1e-6, rtol=1e-4)


def check_bottleneck_shape(shape, n_bins: int = 512, n_frames: int = 128, depth: int = 5,
                           base_filters: int = 8) -> None:
    """Exercise (05): the U-Net bottleneck's ``(n_bins, n_frames, channels)`` after ``depth`` stride-2 layers.

    Taught in: notebooks/05_unet_vocals_drums.ipynb
    """
    expected = (n_bins // 2 ** depth, n_frames // 2 ** depth, base_filters * 2 ** (depth - 1))
    if shape is None:
        return _report(False, "bottleneck shape", "no answer yet (the variable is None)")
    uncropped = (-(-(n_bins + 1) // 2 ** depth),) + expected[1:]  # 513 bins, halved with "same" padding
    answer = tuple(int(v) for v in shape)
    hint = "the U-Net crops the Nyquist bin first (513 -> 512 bins)" if answer == uncropped else ""
    return _report(answer == expected, "bottleneck shape", f"you: {tuple(shape)}", hint)


def check_gain_share(share, table, method: str, target: str, oracle: str = "IRM1") -> None:
    """Exercise (05): the share (in %) of the oracle's SDR gain over MIX that a method recovers, within 0.5 %.

    ``100 * (SDR_method - SDR_MIX) / (SDR_oracle - SDR_MIX)`` from a :class:`helpers.evaluation.ResultsTable`.

    Taught in: notebooks/05_unet_vocals_drums.ipynb
    """
    if share is None:
        return _report(False, "share of the oracle's gain", "no answer yet (the variable is None)")
    v = table.values
    expected = 100 * (v[method][target] - v["MIX"][target]) / (v[oracle][target] - v["MIX"][target])
    return _report(abs(float(share) - expected) <= 0.5, "share of the oracle's gain", f"you: {float(share):.1f} %",
                   _percent_hint(share, expected))


def check_n_segments(n_segments, n_samples: int, segment_length: int, overlap_length: int) -> None:
    """Exercise (06): how many segments the separator runs over a signal of ``n_samples`` (at the model's rate).

    The answer is the length of :func:`helpers.segments.segment_starts`.

    Taught in: notebooks/06_separate_your_song.ipynb
    """

    if n_segments is None:
        return _report(False, "number of segments", "no answer yet (the variable is None)")
    expected = len(segment_starts(n_samples, segment_length=segment_length, overlap_length=overlap_length))
    return _report(int(n_segments) == expected, "number of segments", f"you: {n_segments}")


def check_overlap_cost(extra_percent, overlap: float) -> None:
    """Exercise (06): how much more model work (in %) an overlap costs than back-to-back segments, within 1 %.

    Segments advance by ``1 - overlap`` of their length, so there are ``1 / (1 - overlap)`` times as many.

    Taught in: notebooks/06_separate_your_song.ipynb
    """
    if extra_percent is None:
        return _report(False, "extra work of the overlap", "no answer yet (the variable is None)")
    expected = 100 * (1 / (1 - overlap) - 1)
    return _report(abs(float(extra_percent) - expected) <= 1.0, "extra work of the overlap",
                   f"you: {float(extra_percent):.1f} %", _percent_hint(extra_percent, expected))


def check_receptive_field(function) -> None:
    """Exercise (07): a function ``(n_levels, down_kernel, up_kernel) -> samples`` giving a Wave-U-Net's receptive
    field, checked against :func:`helpers.models.receptive_field` of real models of several sizes.

    Taught in: notebooks/07_time_domain.ipynb
    """
    from helpers import models  # here, not at the top: it imports Keras (TensorFlow), too slow for notebook 01

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


def check_scaled_stft_loss(value, gain: float) -> None:
    """Exercise (07): the multi-resolution STFT loss of an estimate that is the reference times ``gain`` (0 < gain
    < 1), within 0.01: spectral convergence ``1 - gain`` plus log-magnitude error ``|log gain|``, at every
    resolution alike.

    Taught in: notebooks/07_time_domain.ipynb
    """
    if value is None:
        return _report(False, "loss of a scaled estimate", "no answer yet (the variable is None)")
    expected = (1 - gain) + abs(np.log(gain))
    return _report(abs(float(value) - expected) <= 0.01, "loss of a scaled estimate", f"you: {float(value):.3f}")


def check_unet_parameters(count, *, depth: int = 6, base_filters: int = 8, targets=DEFAULT_TARGETS) -> None:
    """Exercise (05): the number of trainable weights of a :func:`helpers.models.unet` with ``depth`` levels and
    ``base_filters`` filters, predicted before the model is built, checked against the built model's count.

    Taught in: notebooks/05_unet_vocals_drums.ipynb
    """
    from helpers import models  # here, not at the top: it imports Keras (TensorFlow), too slow for notebook 01

    if count is None:
        return _report(False, "U-Net parameter count", "no answer yet (the variable is None)")
    model = models.unet(targets=tuple(targets), depth=depth, base_filters=base_filters, n_frames=2 ** depth,
                        n_fft=2 ** (depth + 1), hop_length=2 ** depth // 2)
    expected = sum(int(np.prod(w.shape)) for w in model.trainable_weights)
    return _report(int(count) == expected, "U-Net parameter count", f"you: {int(count):,}, the model: {expected:,}")


def check_overlap_add(function) -> None:
    """Exercise (02): a function ``(frames, window, hop_length) -> signal``: weighted overlap-add normalised by the
    summed window, ``y[n] = sum_m w[n - mH] f_m[n - mH] / sum_m w[n - mH]``, for unwindowed frames of shape
    ``(n_frames, frame_length)``; the output has ``(n_frames - 1) * hop_length + frame_length`` samples.

    Checked away from the first and last frame (where the summed window may be zero) at hops of 1/2, 1/4 and 3/8
    of the frame: on random frames (so that the window and the division both matter) and on the frames of a
    signal, which must come back unchanged.

    Taught in: notebooks/02_waveform_fnn.ipynb
    """
    import scipy.signal


    what = "normalised overlap-add"
    if function is None:
        return _report(False, what, "no answer yet (the variable is None)")
    rng = np.random.default_rng(2)
    signal = rng.standard_normal(3000)
    for frame_length, hop_length in ((256, 128), (256, 64), (256, 96)):
        window = scipy.signal.get_window("hann", frame_length)
        for kind, frames in (("random frames", rng.standard_normal((12, frame_length))),
                             ("the frames of a signal", spectral.frame_signal(signal, frame_length=frame_length,
                                                                               hop_length=hop_length))):
            numerator = spectral.overlap_add(frames * window, hop_length=hop_length)
            denominator = spectral.overlap_add(np.tile(window, (len(frames), 1)), hop_length=hop_length)
            inner = slice(frame_length, len(numerator) - frame_length)
            expected = numerator[inner] / denominator[inner]
            try:
                answer = np.asarray(function(frames.copy(), window.copy(), hop_length), dtype=np.float64)
            except Exception as exc:  # the learner's code failed: say how, do not stop the notebook
                return _report(False, what, f"hop {hop_length}: {type(exc).__name__}: {exc}")
            if answer.shape != numerator.shape:
                return _report(False, what, f"hop {hop_length}, {kind}: shape {answer.shape}, expected "
                                            f"{numerator.shape} = ((n_frames - 1) * hop_length + frame_length,)")
            error = float(np.max(np.abs(answer[inner] - expected)))
            if not error <= 1e-6:
                hint = (" (the shifted windows do not sum to one at this hop: divide by their sum)"
                        if hop_length != frame_length // 2 else "")
                return _report(False, what, f"frame {frame_length}, hop {hop_length}, {kind}: max abs error "
                                            f"{error:.3g}{hint}")
    return _report(True, what, "right at hops of 1/2, 1/4 and 3/8 of the frame")


def check_fnn_n_params(function) -> None:
    """Exercise (02): a function ``(frame_length, hidden, n_sources) -> int`` giving the parameter count of
    :func:`helpers.models.waveform_fnn` without building it, checked against Keras's count for several sizes.

    Taught in: notebooks/02_waveform_fnn.ipynb
    """
    from helpers import models  # here, not at the top: it imports Keras (TensorFlow), too slow for notebook 01

    what = "parameter count of the waveform FNN"
    if function is None:
        return _report(False, what, "no answer yet (the variable is None)")
    for frame_length, hidden, n_sources in ((8, (4,), 1), (16, (8, 4), 2), (32, (16, 16, 8), 3),
                                            (512, (1024, 1024), 2)):
        model = models.waveform_fnn(frame_length, sources=[f"source_{i}" for i in range(n_sources)], hidden=hidden)
        expected = model.count_params()
        try:
            answer = function(frame_length, hidden, n_sources)
        except Exception as exc:  # the learner's code failed: say how, do not stop the notebook
            return _report(False, what, f"{type(exc).__name__}: {exc}")
        if answer != expected:
            return _report(False, what, f"frame_length={frame_length}, hidden={hidden}, n_sources={n_sources}: "
                                        f"you {answer}, Keras {expected:,} (a dense layer from a to b units has "
                                        "a × b weights and b biases)")
    return _report(True, what, "right for 1 to 3 hidden layers and 1 to 3 sources")


def check_predicted_rms_db(prediction_db, stems: dict) -> None:
    """Exercise (01): the mixture's RMS level (dBFS) predicted from its stems' levels alone, assuming uncorrelated
    stems whose mean squares add: ``10 log10(sum_k mean(s_k ** 2))``, within 0.1 dB.

    Taught in: notebooks/01_waveforms_and_mixtures.ipynb
    """
    what = "mixture level predicted from the stems' levels"
    if prediction_db is None:
        return _report(False, what, "no answer yet (the variable is None)")
    expected = 10 * np.log10(sum(np.mean(np.square(s, dtype=np.float64)) for s in stems.values()))
    hint = "" if abs(float(prediction_db) - expected) <= 0.1 else " (powers add, not amplitudes or dB values)"
    return _report(abs(float(prediction_db) - expected) <= 0.1, what,
                   f"you: {float(prediction_db):.2f} dBFS{hint}")


def check_synthesis_window(synthesis_window, n_fft: int, hop_length: int, window: str = "hann") -> None:
    """Exercise (03): a synthesis window ``g`` for plain overlap-add (no division) after an STFT with the analysis
    window ``w``; exact when ``sum_m w[n - m H] g[n - m H] = 1`` for every ``n``, within 1e-6. One answer is
    ``g[n] = w[n] / sum_j w[n - j H] ** 2`` (scipy's canonical dual window, ``ShortTimeFFT.dual_win``).

    Taught in: notebooks/03_stft.ipynb
    """
    import scipy.signal

    what = "synthesis window for plain overlap-add"
    if synthesis_window is None:
        return _report(False, what, "no answer yet (the variable is None)")
    g = np.asarray(synthesis_window, dtype=np.float64)
    if g.shape != (n_fft,):
        return _report(False, what, f"shape {g.shape}, expected ({n_fft},)")
    w = scipy.signal.get_window(window, n_fft)
    n_copies = 2 * int(np.ceil(n_fft / hop_length)) + 2
    total = np.zeros((n_copies - 1) * hop_length + n_fft)
    for m in range(n_copies):
        total[m * hop_length : m * hop_length + n_fft] += w * g
    inner = total[n_fft : (n_copies - 1) * hop_length]  # where every overlapping frame is present
    error = float(np.max(np.abs(inner - 1)))
    return _report(error <= 1e-6, what, f"sum_m w·g over the frames lies in [{inner.min():.4f}, {inner.max():.4f}]")


def check_percussive_mask(mask, magnitude: np.ndarray, kernel_size: int = 31, power: float = 2.0) -> None:
    """Exercise (04): HPSS's percussive soft mask by hand, within 1e-4 of ``librosa.decompose.hpss(mask=True)``.

    ``H`` is the median over ``kernel_size`` frames (along time) of each bin, ``P`` the median over ``kernel_size``
    bins (along frequency) of each frame (``scipy.ndimage.median_filter``, mode ``"reflect"``), and the mask is
    ``P^p / (P^p + H^p)``, 0.5 where both are zero.

    Taught in: notebooks/04_masks_and_spectrogram_fnn.ipynb

    Parameters
    ----------
    mask : np.ndarray [shape=magnitude.shape] or None
        The learner's answer.
    magnitude : np.ndarray [shape=(n_bins, n_frames)], >= 0
    kernel_size : int
    power : float
    """
    import librosa

    if mask is not None and not np.all(np.isfinite(mask)):
        return _report(False, "percussive mask", "it has NaN or Inf values: where P and H are both 0, use 0.5")
    harmonic, percussive = librosa.decompose.hpss(np.asarray(magnitude), kernel_size=kernel_size, power=power,
                                                  mask=True)
    if mask is None or np.shape(mask) != percussive.shape:
        return _compare(mask, percussive, "percussive mask", atol=1e-4)  # no answer, or the wrong shape
    error = float(np.max(np.abs(np.asarray(mask) - percussive)))
    hint = ("that is the harmonic mask; P, the median along frequency, goes on top of the fraction"
            if np.allclose(mask, harmonic, atol=1e-4) else "")
    return _report(error <= 1e-4, "percussive mask", f"max abs error {error:.3g}", hint)


def check_best_gain(gain, reference: np.ndarray, mixture: np.ndarray) -> None:
    """Exercise (04): the gain ``c`` that maximises the SDR of ``c * mixture`` over the whole signal, within 0.001.

    ``SDR(c) = 10 log10(|s|^2 / |c x - s|^2)`` is largest where ``|c x - s|^2`` is smallest:
    ``c = <x, s> / <x, x>`` (all channels and samples together).

    Taught in: notebooks/04_masks_and_spectrogram_fnn.ipynb

    Parameters
    ----------
    gain : float or None
        The learner's answer.
    reference, mixture : np.ndarray [shape=(n_channels, n_samples) or (n_samples,)]
    """
    if gain is None:
        return _report(False, "best gain", "no answer yet (the variable is None)")
    s = np.asarray(reference, dtype=np.float64).ravel()
    x = np.asarray(mixture, dtype=np.float64).ravel()
    expected = float(np.dot(x, s) / np.dot(x, x))
    return _report(abs(float(gain) - expected) <= 1e-3, "best gain", f"you: {float(gain):.4f}")


def check_midi_to_hz(function) -> None:
    """Exercise (00): a function from MIDI note numbers to frequencies in Hz (A4 = MIDI 69 = 440 Hz, twelve equal
    semitones per octave), checked against :func:`helpers.songs.plan.midi_to_hz` from MIDI 21 to 108 (a piano's range).

    Taught in: notebooks/00_setup_check.ipynb
    """

    if function is None:
        return _report(False, "MIDI to Hz", "no answer yet (the variable is None)")
    notes = np.arange(21, 109)
    answer = np.array([float(function(int(m))) for m in notes])
    expected = midi_to_hz(notes)
    worst = int(notes[np.argmax(np.abs(answer / expected - 1))])
    ok = bool(np.allclose(answer, expected, rtol=1e-6))
    return _report(ok, "MIDI to Hz", "right for MIDI 21..108" if ok else
                   f"MIDI {worst}: you {function(worst):.2f} Hz, expected {float(midi_to_hz(worst)):.2f} Hz")
