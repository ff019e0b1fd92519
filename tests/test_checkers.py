"""helpers.checkers: every exercise checker passes a right answer and fails a wrong or missing one, prints one line
(and a hint for a usual mistake) and returns nothing, so a notebook echoes no value under the exercise."""

import numpy as np
import pytest
import scipy.signal

from helpers import checkers, evaluation, spectral


def verdict(capsys, checker, *args, **kwargs) -> bool:
    """Run a checker: it returns nothing and prints one ✅ or ❌ line (a hint may follow); True for ✅. The output
    is printed again, so a test can still read it."""
    before = capsys.readouterr().out
    assert checker(*args, **kwargs) is None
    printed = capsys.readouterr().out
    print(before + printed, end="")
    assert printed.startswith(("✅ Correct: ", "❌ Not yet: ")), printed
    return printed.startswith("✅")


@pytest.fixture
def signal():
    return np.random.default_rng(0).standard_normal(4000).astype(np.float32)


@pytest.mark.parametrize("checker, good, bad, args", [
    (checkers.check_resolution, "resolution", "resolution_wrong", ()),
    (checkers.check_stft, "stft", "stft_wrong", ()),
])
def test_checkers_pass_right_answers_and_fail_wrong_ones(signal, capsys, checker, good, bad, args):
    window = scipy.signal.get_window("hann", 256)
    frames = spectral.frame_signal(signal, frame_length=256, hop_length=64)
    answers = {
        "resolution": (22050 / 2048, 1000 * 2048 / 22050, 2048, 22050),
        "resolution_wrong": (22050 / 1024, 1000 * 2048 / 22050, 2048, 22050),
        "stft": (np.stack([np.fft.rfft(f * window) for f in frames], -1), signal, 256, 64),
        "stft_wrong": (np.stack([np.fft.rfft(f) for f in frames], -1), signal, 256, 64),
    }
    assert verdict(capsys, checker, *answers[good]) is True
    assert "✅" in capsys.readouterr().out
    assert verdict(capsys, checker, *answers[bad]) is False
    assert "❌" in capsys.readouterr().out
    none_args = list(answers[good])
    none_args[0] = None
    assert verdict(capsys, checker, *none_args) is False
    assert "no answer yet" in capsys.readouterr().out


def test_mixture_rms_and_si_sdr_checkers(signal, capsys):
    stems = {"a": signal[None, :] * 0.5, "b": signal[None, :] * 0.25}
    assert verdict(capsys, checkers.check_mixture, signal[None, :] * 0.75, stems)
    assert not verdict(capsys, checkers.check_mixture, signal[None, :], stems)
    levels = {k: 20 * np.log10(np.sqrt(np.mean(v ** 2))) for k, v in stems.items()}
    assert verdict(capsys, checkers.check_rms_db, levels, stems)
    assert not verdict(capsys, checkers.check_rms_db, {"a": 0.0, "b": 0.0}, stems)
    assert verdict(capsys, checkers.check_si_sdr, evaluation.si_sdr(signal, signal + 0.1), signal, signal + 0.1)
    assert not verdict(capsys, checkers.check_si_sdr, 0.0, signal, signal + 0.1)



def test_unet_exercise_checkers(capsys):
    from helpers.evaluation import ResultsTable

    assert verdict(capsys, checkers.check_bottleneck_shape, (16, 4, 128))
    assert not verdict(capsys, checkers.check_bottleneck_shape, (16, 4, 256))
    table = ResultsTable({"MIX": {"drums": -4.0}, "IRM1": {"drums": 6.0}, "U-Net": {"drums": 4.0}},
                         {"MIX": 1, "IRM1": 1, "U-Net": 1}, "SDR")
    assert verdict(capsys, checkers.check_gain_share, 80.0, table, "U-Net", "drums")
    assert not verdict(capsys, checkers.check_gain_share, 40.0, table, "U-Net", "drums")
    assert not verdict(capsys, checkers.check_gain_share, None, table, "U-Net", "drums")


def test_separation_exercise_checkers(capsys):
    assert verdict(capsys, checkers.check_n_segments, 164, 180 * 22050, 32512, 8128)  # ceil((3969000 + 8128) / 24384)
    assert not verdict(capsys, checkers.check_n_segments, 163, 180 * 22050, 32512, 8128)
    assert not verdict(capsys, checkers.check_n_segments, None, 180 * 22050, 32512, 8128)
    assert verdict(capsys, checkers.check_overlap_cost, 100.0, overlap=0.5)
    assert verdict(capsys, checkers.check_overlap_cost, 33.3, overlap=0.25)
    assert not verdict(capsys, checkers.check_overlap_cost, 50.0, overlap=0.5)
    assert not verdict(capsys, checkers.check_overlap_cost, None, overlap=0.5)


def test_time_domain_exercise_checkers(capsys):
    import keras

    from helpers import losses

    def field(n_levels, down_kernel, up_kernel):  # the reference solution of notebook 07
        return (1 + (down_kernel - 1) * (2 ** (n_levels + 1) - 1) + (2 ** (n_levels + 1) - 2)
                + (up_kernel - 1) * (2 ** n_levels - 1))

    assert verdict(capsys, checkers.check_receptive_field, field)
    assert not verdict(capsys, checkers.check_receptive_field, lambda n, k, u: 1 + (k - 1) * 2 ** n)
    assert not verdict(capsys, checkers.check_receptive_field, None)
    reference = np.random.default_rng(3).standard_normal((2, 8192, 1)).astype(np.float32)
    measured = float(keras.ops.convert_to_numpy(losses.MultiResolutionSTFTLoss()(reference, 0.5 * reference)))
    assert verdict(capsys, checkers.check_scaled_stft_loss, measured, 0.5)  # the closed form agrees with the loss itself
    assert not verdict(capsys, checkers.check_scaled_stft_loss, 0.5, 0.5)
    assert not verdict(capsys, checkers.check_scaled_stft_loss, None, 0.5)


def test_waveform_fnn_exercise_checkers(capsys):
    def overlap_add(frames, window, hop_length):  # the reference solution of notebook 02
        n_frames, frame_length = frames.shape
        numerator = np.zeros((n_frames - 1) * hop_length + frame_length)
        denominator = np.zeros_like(numerator)
        for m in range(n_frames):
            numerator[m * hop_length : m * hop_length + frame_length] += window * frames[m]
            denominator[m * hop_length : m * hop_length + frame_length] += window
        return numerator / np.maximum(denominator, 1e-8)

    assert verdict(capsys, checkers.check_overlap_add, overlap_add)
    assert not verdict(capsys, checkers.check_overlap_add, lambda f, w, h: spectral.overlap_add(f * w, hop_length=h))  # no normalising
    assert not verdict(capsys, checkers.check_overlap_add, 
        lambda f, w, h: spectral.overlap_add(f, hop_length=h) * h / f.shape[1])  # no window
    assert not verdict(capsys, checkers.check_overlap_add, lambda f, w, h: 1 / 0)
    assert not verdict(capsys, checkers.check_overlap_add, None)
    assert "no answer yet" in capsys.readouterr().out

    def n_params(frame_length, hidden, n_sources):  # the reference solution of notebook 02
        widths = [frame_length, *hidden]
        return (sum((a + 1) * b for a, b in zip(widths[:-1], widths[1:]))
                + n_sources * (hidden[-1] + 1) * frame_length)

    assert verdict(capsys, checkers.check_fnn_n_params, n_params)
    assert not verdict(capsys, checkers.check_fnn_n_params, lambda n, h, k: n_params(n, h, k) - k * n)  # heads without biases
    assert not verdict(capsys, checkers.check_fnn_n_params, None)


def test_predicted_mixture_level_checker(signal, capsys):
    stems = {"a": signal[None, :] * 0.5, "b": signal[::-1][None, :] * 0.25}
    powers = [np.mean(np.square(s, dtype=np.float64)) for s in stems.values()]
    assert verdict(capsys, checkers.check_predicted_rms_db, 10 * np.log10(sum(powers)), stems)
    assert not verdict(capsys, checkers.check_predicted_rms_db, 20 * np.log10(sum(np.sqrt(powers))), stems)  # amplitudes added
    assert not verdict(capsys, checkers.check_predicted_rms_db, None, stems)
    assert "no answer yet" in capsys.readouterr().out


def test_synthesis_window_checker(capsys):
    n_fft, hop = 1024, 384
    w = scipy.signal.get_window("hann", n_fft)
    dual = scipy.signal.ShortTimeFFT(w, hop=hop, fs=1).dual_win  # the canonical dual window
    assert verdict(capsys, checkers.check_synthesis_window, dual, n_fft, hop)
    assert not verdict(capsys, checkers.check_synthesis_window, w, n_fft, hop)  # Hann itself: the sum of w² is not one
    assert verdict(capsys, checkers.check_synthesis_window, w / 1.5, n_fft, n_fft // 4)  # the squared Hann is COLA at n_fft / 4
    assert not verdict(capsys, checkers.check_synthesis_window, w / 1.5, n_fft, hop)
    assert not verdict(capsys, checkers.check_synthesis_window, dual[:-1], n_fft, hop)
    assert not verdict(capsys, checkers.check_synthesis_window, None, n_fft, hop)
    assert "no answer yet" in capsys.readouterr().out


def test_percussive_mask_and_best_gain_checkers(capsys):
    import scipy.ndimage

    magnitude = np.abs(spectral.stft(np.random.default_rng(4).standard_normal(22050).astype(np.float32)))
    magnitude[:, :40] = 0.0  # a silent second: P = H = 0 well inside it, where the mask is 0.5
    harmonic = scipy.ndimage.median_filter(magnitude, size=(1, 31), mode="reflect")
    percussive = scipy.ndimage.median_filter(magnitude, size=(31, 1), mode="reflect")
    total = percussive ** 2 + harmonic ** 2
    mask = np.where(total > 0, percussive ** 2 / np.where(total > 0, total, 1), 0.5)  # the reference solution
    assert verdict(capsys, checkers.check_percussive_mask, mask, magnitude)
    assert not verdict(capsys, checkers.check_percussive_mask, 1 - mask, magnitude)  # the harmonic mask
    assert "harmonic mask" in capsys.readouterr().out
    with np.errstate(invalid="ignore"):
        assert not verdict(capsys, checkers.check_percussive_mask, percussive ** 2 / total, magnitude)  # 0 / 0 left as NaN
    assert "NaN" in capsys.readouterr().out
    assert not verdict(capsys, checkers.check_percussive_mask, None, magnitude)

    rng = np.random.default_rng(5)
    reference, rest = rng.standard_normal((2, 2, 1000))
    mixture = reference + rest
    best = float(np.sum(mixture * reference) / np.sum(mixture * mixture))
    assert verdict(capsys, checkers.check_best_gain, best, reference, mixture)
    assert not verdict(capsys, checkers.check_best_gain, 0.5, reference, mixture) or abs(best - 0.5) <= 1e-3
    assert not verdict(capsys, checkers.check_best_gain, best + 0.01, reference, mixture)
    assert not verdict(capsys, checkers.check_best_gain, None, reference, mixture)
    sdr = [10 * np.log10(np.sum(reference ** 2) / np.sum((c * mixture - reference) ** 2))
           for c in (best - 0.05, best, best + 0.05)]
    assert sdr[1] > max(sdr[0], sdr[2])  # it is the SDR's maximum


def test_midi_and_unet_parameter_checkers(capsys):
    assert verdict(capsys, checkers.check_midi_to_hz, lambda m: 440.0 * 2 ** ((m - 69) / 12))
    assert not verdict(capsys, checkers.check_midi_to_hz, lambda m: 440.0 * 2 ** ((m - 60) / 12))  # the wrong anchor
    assert not verdict(capsys, checkers.check_midi_to_hz, None)
    assert "MIDI 21" in capsys.readouterr().out

    def unet_parameters(depth, base_filters, n_heads, kernel=5):  # the notebook's reference solution
        count, channels, encoder = 0, 1, []
        for level in range(depth):
            out = base_filters * 2 ** level
            count += kernel * kernel * channels * out + 3 * out
            encoder.append(out)
            channels = out
        for level in reversed(range(depth)):
            channels += encoder[level] if level != depth - 1 else 0
            out = base_filters * 2 ** max(level - 1, 0)
            count += kernel * kernel * channels * out + 3 * out
            channels = out
        return count + n_heads * (9 * channels + 1)

    assert verdict(capsys, checkers.check_unet_parameters, unet_parameters(6, 8, 2), depth=6, base_filters=8)
    assert verdict(capsys, checkers.check_unet_parameters, unet_parameters(3, 4, 1), depth=3, base_filters=4, targets=("bass",))
    assert not verdict(capsys, checkers.check_unet_parameters, unet_parameters(6, 8, 2) + 2 * 752, depth=6)  # BatchNorm's statistics
    assert not verdict(capsys, checkers.check_unet_parameters, None)


def test_usual_mistakes_get_a_hint(signal, capsys):
    from helpers.evaluation import ResultsTable

    table = ResultsTable({"MIX": {"drums": -4.0}, "IRM1": {"drums": 6.0}, "U-Net": {"drums": 4.0}},
                         {"MIX": 1, "IRM1": 1, "U-Net": 1}, "SDR")
    assert not verdict(capsys, checkers.check_gain_share, 0.8, table, "U-Net", "drums")  # a fraction, not 80 %
    assert "Hint: a percent is asked" in capsys.readouterr().out
    assert not verdict(capsys, checkers.check_overlap_cost, 1 / 3, overlap=0.25)
    assert "Hint: a percent is asked" in capsys.readouterr().out
    assert not verdict(capsys, checkers.check_bottleneck_shape, (17, 4, 128))  # 513 bins, no Nyquist crop
    assert "Hint: the U-Net crops the Nyquist bin" in capsys.readouterr().out
    reference, estimate = signal + 0.5, signal + 0.3 * np.roll(signal, 7) + 0.2  # signals with a mean
    s, s_hat = reference.astype(np.float64), estimate.astype(np.float64)
    alpha = np.sum(s_hat * s) / np.sum(s * s)
    means_kept = 10 * np.log10(np.sum((alpha * s) ** 2) / np.sum((alpha * s - s_hat) ** 2))
    assert not verdict(capsys, checkers.check_si_sdr, means_kept, reference, estimate)
    assert "Hint: that is SI-SDR without removing each signal's mean" in capsys.readouterr().out
    assert not verdict(capsys, checkers.check_si_sdr, 0.0, reference, estimate)  # a plain wrong answer: no hint
    assert "Hint" not in capsys.readouterr().out
    assert verdict(capsys, checkers.check_gain_share, 80.0, table, "U-Net", "drums")
    assert "Hint" not in capsys.readouterr().out
