import librosa
import numpy as np
import pytest

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


@pytest.mark.parametrize("n_fft, hop_length", [(512, 128), (1024, 256), (2048, 512)])
def test_tf_twins_agree_with_numpy_and_reconstruct(noise, n_fft, hop_length):
    numpy_stft = spectral.stft(noise, n_fft=n_fft, hop_length=hop_length)
    tf_stft = spectral.tf_stft(noise, n_fft=n_fft, hop_length=hop_length).numpy()
    assert tf_stft.shape == numpy_stft.shape
    max_diff = np.max(np.abs(tf_stft - numpy_stft))
    print(f"n_fft={n_fft} hop={hop_length}: max |tf_stft - stft| = {max_diff:.2e}")
    assert max_diff < 1e-4 * np.max(np.abs(numpy_stft))
    tf_audio = spectral.tf_istft(numpy_stft, hop_length=hop_length, length=noise.shape[-1]).numpy()
    np_audio = spectral.istft(numpy_stft, hop_length=hop_length, length=noise.shape[-1])
    print(f"max |tf_istft - istft| = {np.max(np.abs(tf_audio - np_audio)):.2e}")
    assert np.max(np.abs(tf_audio - np_audio)) < 1e-5
    assert _snr_db(noise, tf_audio) > 60


def test_magphase_recombines(noise):
    stft_matrix = spectral.stft(noise)
    magnitude, phase = spectral.magphase(stft_matrix)
    assert (magnitude >= 0).all()
    np.testing.assert_allclose(np.abs(phase), 1.0, atol=1e-5)
    np.testing.assert_allclose(magnitude * phase, stft_matrix, atol=1e-5)
    _, zero_phase = spectral.magphase(np.zeros((3, 4), dtype=np.complex64))
    assert (zero_phase == 1).all()


def test_frames_and_seconds_match_librosa():
    frames = np.arange(0, 1000, 37)
    np.testing.assert_allclose(spectral.frames_to_seconds(frames, 22050, 256),
                               librosa.frames_to_time(frames, sr=22050, hop_length=256))
    seconds = np.linspace(0, 10, 51)
    np.testing.assert_array_equal(spectral.seconds_to_frames(seconds, 22050, 256),
                                  librosa.time_to_frames(seconds, sr=22050, hop_length=256))


@pytest.mark.parametrize("kwargs, message", [
    ({"n_fft": 1024, "hop_length": 0}, "hop_length=0"),
    ({"n_fft": 1, "hop_length": 1}, "n_fft=1"),
    ({"n_fft": 256, "hop_length": 512}, "must not exceed"),
])
def test_stft_rejects_bad_parameters(noise, kwargs, message):
    with pytest.raises(ParameterError, match=message):
        spectral.stft(noise, **kwargs)
