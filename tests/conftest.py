"""Shared fixtures: small signals and a small generated dataset, made by code."""

import os

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

import numpy as np
import pytest

from helpers import audio, synth


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
    """Two train songs and one test song of 4 s, plus one duet per subset: the real generator, small."""
    root = tmp_path_factory.mktemp("generated")
    return synth.generate(root, n_train=2, n_test=1, duration=4.0, n_duets_train=1, n_duets_test=1,
                          duet_duration=3.0, workers=1, progress=False)
