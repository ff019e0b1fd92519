"""helpers.losses: the multi-resolution STFT loss against a NumPy/librosa computation of the same formula."""

import keras
import librosa
import numpy as np
import pytest

from helpers import ParameterError, losses


def reference_loss(y_true, y_pred, fft_sizes, waveform_weight=0.0):
    """The loss written out with librosa's STFT (periodic Hann, hop n/4, no centring), in float64."""
    total = 0.0
    for n in fft_sizes:
        def magnitude(y):
            spectrum = librosa.stft(y[..., 0].astype(np.float64), n_fft=n, hop_length=n // 4, center=False)
            return np.sqrt(np.abs(spectrum) ** 2 + losses.EPS)

        s, s_hat = magnitude(y_true), magnitude(y_pred)
        floor = losses.LOG_FLOOR
        total += (np.linalg.norm(s - s_hat) / np.sqrt(np.linalg.norm(s) ** 2 + s.size * floor ** 2)
                  + np.mean(np.abs(np.log(s + floor) - np.log(s_hat + floor))))
    return total / len(fft_sizes) + waveform_weight * np.mean(np.abs(y_true - y_pred))


@pytest.fixture
def signals():
    rng = np.random.default_rng(0)
    t = np.arange(8192) / 22050
    clean = (0.5 * np.sin(2 * np.pi * 440 * t) * np.hanning(t.size))[None, :, None]
    clean = np.concatenate([clean, 0.3 * rng.standard_normal((1, 8192, 1))]).astype(np.float32)
    return clean, (clean + 0.05 * rng.standard_normal(clean.shape)).astype(np.float32)


@pytest.mark.parametrize("fft_sizes, weight", [((512, 1024, 2048), 0.0), ((256,), 0.0), ((512, 1024), 1.0)])
def test_the_loss_matches_its_formula(signals, fft_sizes, weight):
    y_true, y_pred = signals
    loss = losses.MultiResolutionSTFTLoss(fft_sizes=fft_sizes, waveform_weight=weight)
    measured = float(keras.ops.convert_to_numpy(loss(y_true, y_pred)))
    assert measured == pytest.approx(reference_loss(y_true, y_pred, fft_sizes, weight), rel=2e-4)


def test_the_loss_is_zero_for_a_perfect_estimate_and_grows_with_the_error(signals):
    y_true, y_pred = signals
    loss = losses.MultiResolutionSTFTLoss()
    assert float(keras.ops.convert_to_numpy(loss(y_true, y_true))) == pytest.approx(0.0, abs=1e-5)
    worse = y_true + 4 * (y_pred - y_true)
    assert float(keras.ops.convert_to_numpy(loss(y_true, worse))) > float(keras.ops.convert_to_numpy(
        loss(y_true, y_pred)))


def test_waveform_losses_by_name_and_bad_arguments():
    assert isinstance(losses.waveform_loss("l1"), keras.losses.MeanAbsoluteError)
    assert losses.waveform_loss("stft").waveform_weight == 0.0
    assert losses.waveform_loss("l1+stft").waveform_weight == 1.0
    with pytest.raises(ParameterError, match="loss='mse' must be one of l1, stft, l1\\+stft"):
        losses.waveform_loss("mse")
    with pytest.raises(ParameterError, match="fft_sizes is empty"):
        losses.MultiResolutionSTFTLoss(fft_sizes=())
    with pytest.raises(ParameterError, match="waveform_weight=-1"):
        losses.MultiResolutionSTFTLoss(waveform_weight=-1)


def training_curve(clip_norm, steps=300, seed=0):
    """Train a small 1-D conv net to pick a low-passed signal out of its input where a gate channel says it sounds
    (silent elsewhere, and all silent in one example: a dropped target) with the loss; the loss of every step."""
    keras.utils.set_random_seed(seed)
    rng = np.random.default_rng(seed)
    signal = rng.standard_normal((4, 2048)).astype(np.float32)
    gate = np.ones_like(signal)
    gate[1] = 0.0  # a dropped target: the input plays, the reference is silence
    gate[2, 1024:] = 0.0  # a target that stops halfway
    kernel = np.hanning(9) / np.hanning(9).sum()
    y_true = (0.3 * gate * np.apply_along_axis(np.convolve, 1, signal, kernel, "same"))[..., None]
    x = np.stack([signal, gate], axis=-1)
    model = keras.Sequential([keras.Input(x.shape[1:]), keras.layers.Conv1D(16, 15, padding="same",
                              activation="tanh"), keras.layers.Conv1D(1, 15, padding="same")])
    model.compile(optimizer=keras.optimizers.Adam(3e-3, global_clipnorm=clip_norm),
                  loss=losses.MultiResolutionSTFTLoss(fft_sizes=(64, 128, 256)))
    history = model.fit(x, y_true.astype(np.float32), batch_size=len(x), epochs=steps, verbose=0)
    return np.array(history.history["loss"])


def test_a_few_hundred_steps_stay_finite_and_decrease_even_on_silent_references():
    curve = training_curve(clip_norm=1.0)
    assert np.isfinite(curve).all()
    assert curve[-20:].mean() < 0.6 * curve[:20].mean()
    assert curve.max() <= 1.5 * curve[0]  # no jump anywhere along the way


def test_the_loss_and_its_gradient_are_finite_where_the_reference_is_silent():
    silent = np.zeros((2, 4096, 1), np.float32)
    loss = losses.MultiResolutionSTFTLoss()
    for estimate in (silent, silent + 1e-3 * np.random.default_rng(2).standard_normal(silent.shape)):
        value = float(keras.ops.convert_to_numpy(loss(silent, estimate.astype(np.float32))))
        assert np.isfinite(value) and value >= 0
    assert float(keras.ops.convert_to_numpy(loss(silent, silent))) == pytest.approx(0.0, abs=1e-6)
    # the log term saturates where both are far below the floor: a faint estimate of silence costs little
    faint = float(keras.ops.convert_to_numpy(loss(silent, (silent + 1e-6).astype(np.float32))))
    assert faint < 0.05
    # noise at -60 dBFS against silence: 21.7 with the floors, 67.5 without them (the plain log and ratio)
    noise = (1e-3 * np.random.default_rng(2).standard_normal(silent.shape)).astype(np.float32)
    assert float(keras.ops.convert_to_numpy(loss(silent, noise))) == pytest.approx(21.7, rel=0.05)
