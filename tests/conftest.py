"""Shared fixtures: small signals and a small generated dataset, made by code."""

import os

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

import numpy as np
import pytest

from helpers import audio, songs

# The Colab-like run has an environment of its own and runs through `make test-colab` (tests/colab/test_colab.py);
# the multi-process tests run on Keras's JAX backend, through `make test-distributed`.
collect_ignore = ["colab"] + ([] if os.environ.get("KERAS_BACKEND") == "jax" else ["distributed"])


@pytest.fixture
def tone():
    """A 1-s, 440-Hz stereo tone at 22.05 kHz, float32, shape (2, 22050)."""
    t = np.arange(22050) / 22050
    mono = 0.5 * np.sin(2 * np.pi * 440 * t)
    return np.stack([mono, 0.5 * mono]).astype(np.float32), 22050


@pytest.fixture
def tone_file(tmp_path, tone):
    signal, sample_rate = tone
    return audio.save(tmp_path / "tone.wav", signal, sample_rate), signal, sample_rate


#: Bad inputs every reader of audio files must refuse, and the words its error must contain.
BAD_AUDIO = {
    "missing": "no such file",
    "directory": "is a directory",
    "empty": "file is empty",
    "not_audio": "not a readable audio file",
    "truncated": "truncated WAV",
    "no_samples": "contains no samples",
    "nan": "non-finite",
    "inf": "non-finite",
}


def write_bad_audio(path, case):
    """Make the bad input ``case`` (a key of ``BAD_AUDIO``) at ``path``; a NaN or Inf lies in the third block."""
    import soundfile as sf

    if case == "directory":
        path.mkdir()
    elif case == "empty":
        path.write_bytes(b"")
    elif case == "not_audio":
        path.write_text("this is a text file, not a song\n" * 20)
    elif case == "truncated":
        sf.write(path, np.zeros((22050, 2), np.float32), 22050, subtype="PCM_16")
        path.write_bytes(path.read_bytes()[: path.stat().st_size // 2])
    elif case == "no_samples":
        sf.write(path, np.zeros((0, 2), dtype=np.float32), 22050)
    elif case in ("nan", "inf"):
        signal = np.zeros((3 * 65536 + 5, 2), np.float32)
        signal[2 * 65536 + 1, 1] = np.nan if case == "nan" else np.inf
        sf.write(path, signal, 22050, subtype="FLOAT")
    return path


@pytest.fixture(scope="session")
def small_dataset(tmp_path_factory):
    """Two train songs and one test song of 4 s, plus one duet per subset: the NumPy generator, small."""
    root = tmp_path_factory.mktemp("generated")
    return songs.generate(root, n_train=2, n_test=1, duration=4.0, n_duets_train=1, n_duets_test=1,
                          duet_duration=3.0, workers=1, progress=False, engine="numpy")


def constant_mask_model(values, n_frames=16, sample_rate=22050, n_fft=1024, hop_length=256):
    """A stand-in U-Net whose masks are constants (``{target: value}``), carrying settings like a real one."""
    import keras

    from helpers import models

    settings = {"architecture": "unet", "sample_rate": sample_rate, "n_fft": n_fft, "hop_length": hop_length,
                "window": "hann", "n_frames": n_frames, "targets": list(values), "arguments": {}}
    inputs = keras.Input((n_fft // 2 + 1, n_frames, 1))
    magnitude = models.AudioSettings(settings, name=models.SETTINGS_LAYER)(inputs)
    outputs = {}
    for target, value in values.items():
        mask = keras.layers.Rescaling(0.0, offset=value, name=f"{target}_mask_full")(magnitude)
        outputs[target] = keras.layers.Multiply(name=target)([mask, magnitude])
    return keras.Model(inputs, outputs)


#: A tiny U-Net's settings, far from the defaults: another rate, FFT size and hop.
TINY_UNET = dict(sample_rate=16000, n_fft=256, hop_length=64, n_frames=16, base_filters=2, depth=2)


@pytest.fixture(scope="session")
def tiny_training(small_dataset, tmp_path_factory):
    """A U-Net trained for two epochs at 16 kHz, n_fft 256, hop 64 through the public training function."""
    from helpers import data, models, training

    folder = tmp_path_factory.mktemp("unet")
    tracks = data.load_tracks("generated", "train", root=small_dataset)
    settings = models.settings(models.unet(**TINY_UNET))
    model, history, seconds = training.train(settings, tracks[:1], tracks[1:], folder / "tiny.keras", epochs=2,
                                             batch_size=4, steps_per_epoch=5, augment=False, verbose=0)
    return folder, model, history


def constant_gain_wave_model(values, segment_length=1024, sample_rate=22050):
    """A stand-in Wave-U-Net whose target waveforms are the mixture times constants, carrying wave settings."""
    import keras

    from helpers import models

    settings = {"architecture": "wave_unet", "sample_rate": sample_rate, "segment_length": segment_length,
                "targets": list(values), "arguments": {}}
    inputs = keras.Input((segment_length, 1))
    mixture = models.AudioSettings(settings, name=models.SETTINGS_LAYER)(inputs)
    return keras.Model(inputs, {t: keras.layers.Rescaling(v, name=t)(mixture) for t, v in values.items()})
