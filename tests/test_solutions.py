"""helpers.solutions: every exercise checker passes a right answer and fails a wrong or missing one."""

import numpy as np
import pytest
import scipy.signal

from helpers import evaluation, solutions, spectral


@pytest.fixture
def signal():
    return np.random.default_rng(0).standard_normal(4000).astype(np.float32)


@pytest.mark.parametrize("checker, good, bad, args", [
    (solutions.check_frames, "frames", "frames_wrong", ()),
    (solutions.check_resolution, "resolution", "resolution_wrong", ()),
    (solutions.check_stft, "stft", "stft_wrong", ()),
])
def test_checkers_pass_right_answers_and_fail_wrong_ones(signal, capsys, checker, good, bad, args):
    window = scipy.signal.get_window("hann", 256)
    answers = {
        "frames": (spectral.frame_signal(signal, 256, 64), signal, 256, 64),
        "frames_wrong": (spectral.frame_signal(signal, 256, 128), signal, 256, 64),
        "resolution": (22050 / 2048, 1000 * 2048 / 22050, 2048, 22050),
        "resolution_wrong": (22050 / 1024, 1000 * 2048 / 22050, 2048, 22050),
        "stft": (np.stack([np.fft.rfft(f * window) for f in spectral.frame_signal(signal, 256, 64)], -1), signal, 256, 64),
        "stft_wrong": (np.stack([np.fft.rfft(f) for f in spectral.frame_signal(signal, 256, 64)], -1), signal, 256, 64),
    }
    assert checker(*answers[good]) is True
    assert "✅" in capsys.readouterr().out
    assert checker(*answers[bad]) is False
    assert "❌" in capsys.readouterr().out
    none_args = list(answers[good])
    none_args[0] = None
    assert checker(*none_args) is False
    assert "no answer yet" in capsys.readouterr().out


def test_mixture_rms_and_si_sdr_checkers(signal, capsys):
    stems = {"a": signal[None, :] * 0.5, "b": signal[None, :] * 0.25}
    assert solutions.check_mixture(signal[None, :] * 0.75, stems)
    assert not solutions.check_mixture(signal[None, :], stems)
    levels = {k: 20 * np.log10(np.sqrt(np.mean(v ** 2))) for k, v in stems.items()}
    assert solutions.check_rms_db(levels, stems)
    assert not solutions.check_rms_db({"a": 0.0, "b": 0.0}, stems)
    assert solutions.check_si_sdr(evaluation.si_sdr(signal, signal + 0.1), signal, signal + 0.1)
    assert not solutions.check_si_sdr(0.0, signal, signal + 0.1)


def test_mask_checkers(signal, capsys):
    from helpers import masks

    stfts = {"a": spectral.stft(signal), "b": spectral.stft(signal[::-1].copy())}
    irm = masks.ratio_masks(stfts)["a"]
    assert solutions.check_ratio_mask(irm, stfts, "a")
    assert not solutions.check_ratio_mask(np.abs(stfts["a"]) / (np.abs(stfts["a"]) + 1), stfts, "a")
    mixture_stft = stfts["a"] + stfts["b"]
    estimate = spectral.istft(irm * mixture_stft, length=signal.size)
    assert solutions.check_masked_estimate(estimate, irm, mixture_stft, spectral.HOP_LENGTH, signal.size)
    assert not solutions.check_masked_estimate(estimate[:-1], irm, mixture_stft, spectral.HOP_LENGTH, signal.size)


def test_unet_exercise_checkers(capsys):
    from helpers.evaluation import ResultsTable

    assert solutions.check_bottleneck_shape((16, 4, 128))
    assert not solutions.check_bottleneck_shape((16, 4, 256))
    table = ResultsTable({"MIX": {"drums": -4.0}, "IRM1": {"drums": 6.0}, "U-Net": {"drums": 4.0}},
                         {"MIX": 1, "IRM1": 1, "U-Net": 1}, "SDR")
    assert solutions.check_gain_share(80.0, table, "U-Net", "drums")
    assert not solutions.check_gain_share(40.0, table, "U-Net", "drums")
    assert not solutions.check_gain_share(None, table, "U-Net", "drums")


def test_separation_exercise_checkers(capsys):
    assert solutions.check_n_segments(164, 180 * 22050, 32512, 8128)  # ceil((3969000 + 8128) / 24384)
    assert not solutions.check_n_segments(163, 180 * 22050, 32512, 8128)
    assert not solutions.check_n_segments(None, 180 * 22050, 32512, 8128)
    assert solutions.check_overlap_cost(100.0, overlap=0.5)
    assert solutions.check_overlap_cost(33.3, overlap=0.25)
    assert not solutions.check_overlap_cost(50.0, overlap=0.5)
    assert not solutions.check_overlap_cost(None, overlap=0.5)


def test_time_domain_exercise_checkers(capsys):
    import keras

    from helpers import losses

    def field(n_levels, down_kernel, up_kernel):  # the reference solution of notebook 07
        return (1 + (down_kernel - 1) * (2 ** (n_levels + 1) - 1) + (2 ** (n_levels + 1) - 2)
                + (up_kernel - 1) * (2 ** n_levels - 1))

    assert solutions.check_receptive_field(field)
    assert not solutions.check_receptive_field(lambda n, k, u: 1 + (k - 1) * 2 ** n)
    assert not solutions.check_receptive_field(None)
    reference = np.random.default_rng(3).standard_normal((2, 8192, 1)).astype(np.float32)
    measured = float(keras.ops.convert_to_numpy(losses.MultiResolutionSTFTLoss()(reference, 0.5 * reference)))
    assert solutions.check_scaled_stft_loss(measured, 0.5)  # the closed form agrees with the loss itself
    assert not solutions.check_scaled_stft_loss(0.5, 0.5)
    assert not solutions.check_scaled_stft_loss(None, 0.5)
