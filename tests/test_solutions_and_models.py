import librosa
import numpy as np
import pytest
import scipy.signal

from helpers import ParameterError, evaluation, models, solutions, spectral


@pytest.fixture
def signal():
    return np.random.default_rng(0).standard_normal(4000).astype(np.float32)


def test_frame_signal_matches_librosa_and_overlap_add_inverts(signal):
    frames = spectral.frame_signal(signal, 512, 128)
    np.testing.assert_array_equal(frames, librosa.util.frame(signal, frame_length=512, hop_length=128).T)
    window = scipy.signal.get_window("hann", 512)
    rebuilt = spectral.overlap_add(spectral.frame_signal(signal, 512, 256) * window, 256)
    np.testing.assert_allclose(rebuilt[256:-256], signal[256 : rebuilt.size - 256], atol=1e-6)
    with pytest.raises(ParameterError, match="at least frame_length"):
        spectral.frame_signal(signal[:10], 512, 128)


def test_si_sdr_closed_form():
    rng = np.random.default_rng(3)
    s = rng.standard_normal(100000)
    n = rng.standard_normal(100000)
    s -= s.mean()
    n -= n.mean()
    n -= np.dot(n, s) / np.dot(s, s) * s  # orthogonal noise: SI-SDR of 2s + 0.1n is 10 log10(|2s|² / |0.1 n|²)
    expected = 10 * np.log10(np.dot(2 * s, 2 * s) / np.dot(0.1 * n, 0.1 * n))
    assert evaluation.si_sdr(s, 2.0 * s + 0.1 * n) == pytest.approx(expected, abs=0.01)
    assert evaluation.si_sdr(s, 0.5 * (2.0 * s + 0.1 * n)) == pytest.approx(expected, abs=0.01)  # gain ignored
    with pytest.raises(ParameterError, match="silent"):
        evaluation.si_sdr(np.zeros(10), np.ones(10))


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
    assert solutions.check_n_windows(164, 180 * 22050, 32512, 8128)  # ceil((3969000 + 8128) / 24384)
    assert not solutions.check_n_windows(163, 180 * 22050, 32512, 8128)
    assert not solutions.check_n_windows(None, 180 * 22050, 32512, 8128)
    assert solutions.check_overlap_cost(100.0, overlap=0.5)
    assert solutions.check_overlap_cost(33.3, overlap=0.25)
    assert not solutions.check_overlap_cost(50.0, overlap=0.5)
    assert not solutions.check_overlap_cost(None, overlap=0.5)


def test_waveform_fnn_shapes_and_overlap_add_separation():
    import keras

    keras.utils.set_random_seed(0)
    model = models.waveform_fnn(64, sources=("piano", "violin"), hidden=(32,))
    outputs = model(np.zeros((3, 64), dtype=np.float32))
    assert {k: tuple(v.shape) for k, v in outputs.items()} == {"piano": (3, 64), "violin": (3, 64)}

    class Identity:  # a stand-in "model" that returns its input: separation must give the mixture back
        def predict(self, x, batch_size, verbose):
            return {"piano": x, "violin": 0 * x}

    mixture = np.random.default_rng(1).standard_normal(1000).astype(np.float32)
    estimates = models.separate_waveform(Identity(), mixture, 64, 32)
    np.testing.assert_allclose(estimates["piano"], mixture, atol=1e-5)
    assert estimates["violin"].shape == (1000,) and not estimates["violin"].any()
    with pytest.raises(ParameterError, match="frame_length / 2"):
        models.separate_waveform(Identity(), mixture, 64, 16)


def test_context_windows_centre_and_padding():
    magnitude = np.arange(2 * 3 * 5, dtype=np.float32).reshape(2, 3, 5)  # (channels, bins, frames)
    windows = models.context_windows(magnitude, 1)
    assert windows.shape == (2, 5, 3, 3)
    np.testing.assert_array_equal(windows[:, :, 1, :], np.swapaxes(magnitude, -1, -2))
    np.testing.assert_array_equal(windows[0, 0, 0], 0)  # zero padding before the first frame
    np.testing.assert_array_equal(windows[0, 1, 0], magnitude[0, :, 0])
    with pytest.raises(ParameterError, match="context=-1"):
        models.context_windows(magnitude, -1)


def test_spectrogram_fnn_outputs_masked_magnitudes_never_above_the_mixture():
    import keras

    keras.utils.set_random_seed(0)
    model = models.spectrogram_fnn(n_bins=33, context=2, targets=("vocals", "drums"), hidden=(16,))
    x = np.random.default_rng(0).random((4, 5, 33)).astype(np.float32)
    outputs = model.predict(x, verbose=0)
    assert sorted(outputs) == ["drums", "vocals"]
    for estimate in outputs.values():
        assert estimate.shape == (4, 33)
        assert (estimate >= 0).all() and (estimate <= x[:, 2, :] + 1e-6).all()


def test_spectrogram_fnn_batches_and_separation(small_dataset, tmp_path):
    import keras

    from helpers import data

    tracks = data.load_tracks("generated", "train", root=small_dataset)
    cache = data.build_cache(tracks, tmp_path / "c.h5", targets=("vocals",), n_fft=64, hop_length=16, n_frames=32,
                             sample_rate=4000, progress=False)
    x, y = next(models.spectrogram_fnn_batches(cache, ("vocals",), context=1, segments_per_batch=2))
    assert x.shape == (64, 3, 33) and y["vocals"].shape == (64, 33)
    keras.utils.set_random_seed(0)
    model = models.spectrogram_fnn(n_bins=33, context=1, targets=("vocals",), hidden=(8,))
    mixture = np.random.default_rng(0).standard_normal((2, 1000)).astype(np.float32)
    estimates = models.separate_spectrogram_fnn(model, mixture, context=1, n_fft=64, hop_length=16)
    assert estimates["vocals"].shape == (2, 1000)
