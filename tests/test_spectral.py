import librosa
import numpy as np
import pytest
import scipy.signal

from helpers import ParameterError, spectral


def _snr_db(reference, estimate):
    return 10 * np.log10(np.sum(reference ** 2) / np.sum((reference - estimate) ** 2))


@pytest.fixture
def noise():
    return np.random.default_rng(1).standard_normal((2, 11025)).astype(np.float32) * 0.3


@pytest.mark.parametrize("n_fft, hop_length", [(512, 128), (1024, 256), (1024, 128), (2048, 512)])
def test_stft_round_trip_snr_above_60_db(noise, n_fft, hop_length):
    stft_matrix = spectral.stft(noise, n_fft=n_fft, hop_length=hop_length)
    assert stft_matrix.shape == (2, n_fft // 2 + 1, 1 + noise.shape[-1] // hop_length)
    reconstruction = spectral.istft(stft_matrix, hop_length=hop_length, length=noise.shape[-1])
    assert _snr_db(noise, reconstruction) > 60


@pytest.mark.parametrize("n_fft, hop_length, message", [
    (1, 1, "n_fft=1 must be an integer >= 2"),
    (512, 0, "hop_length=0 must be a positive integer"),
    (512, 513, "hop_length=513 must not exceed n_fft=512"),
    (512.0, 128, "n_fft=512.0 must be an integer >= 2"),
])
def test_check_frame_params_names_the_bad_value(noise, n_fft, hop_length, message):
    with pytest.raises(ParameterError, match=message):
        spectral.check_frame_params(n_fft, hop_length)
    with pytest.raises(ParameterError, match=message):
        spectral.stft(noise, n_fft=n_fft, hop_length=hop_length)


@pytest.mark.parametrize("kwargs, message", [
    ({"n_fft": 1024, "hop_length": 0}, "hop_length=0"),
    ({"n_fft": 1, "hop_length": 1}, "n_fft=1"),
    ({"n_fft": 256, "hop_length": 512}, "must not exceed"),
])
def test_stft_rejects_bad_parameters(noise, kwargs, message):
    with pytest.raises(ParameterError, match=message):
        spectral.stft(noise, **kwargs)


def test_frame_signal_matches_librosa_and_overlap_add_inverts():
    signal = np.random.default_rng(0).standard_normal(4000).astype(np.float32)
    frames = spectral.frame_signal(signal, frame_length=512, hop_length=128)
    np.testing.assert_array_equal(frames, librosa.util.frame(signal, frame_length=512, hop_length=128).T)
    window = scipy.signal.get_window("hann", 512)
    frames = spectral.frame_signal(signal, frame_length=512, hop_length=256)
    rebuilt = spectral.overlap_add(frames * window, hop_length=256)
    np.testing.assert_allclose(rebuilt[256:-256], signal[256 : rebuilt.size - 256], atol=1e-6)
    with pytest.raises(ParameterError, match="at least frame_length"):
        spectral.frame_signal(signal[:10], frame_length=512, hop_length=128)


@pytest.mark.parametrize("shape, n_fft, hop_length", [((2, 65024), 2048, 512), ((2, 22050), 1024, 256),
                                                     ((3, 1000), 256, 64), ((5000,), 512, 128),
                                                     ((2, 4000), 64, 24), ((1, 2, 3000), 256, 100)])
def test_stft_and_istft_agree_with_librosa(shape, n_fft, hop_length):
    # The course writes both transforms itself (framing, window, real FFT; weighted overlap-add) and checks them
    # against librosa's: any batch shape, hops that divide n_fft or not, lengths shorter or longer than the signal.
    x = np.random.default_rng(0).standard_normal(shape).astype(np.float32)
    ours = spectral.stft(x, n_fft=n_fft, hop_length=hop_length)
    theirs = librosa.stft(x, n_fft=n_fft, hop_length=hop_length, window="hann", center=True, pad_mode="constant")
    assert ours.shape == theirs.shape and ours.dtype == np.complex64
    np.testing.assert_allclose(ours, theirs, atol=1e-5 * np.abs(theirs).max())
    for length in (None, shape[-1], shape[-1] + 37, shape[-1] - 50):
        back = spectral.istft(ours, hop_length=hop_length, length=length)
        expected = librosa.istft(theirs, hop_length=hop_length, n_fft=n_fft, window="hann", center=True, length=length)
        assert back.shape == expected.shape and back.dtype == np.float32
        np.testing.assert_allclose(back, expected, atol=1e-4)
    np.testing.assert_allclose(spectral.istft(ours, hop_length=hop_length, length=shape[-1]), x, atol=1e-4)
