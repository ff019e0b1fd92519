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
        total += np.linalg.norm(s - s_hat) / np.linalg.norm(s) + np.mean(np.abs(np.log(s) - np.log(s_hat)))
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
