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


@pytest.fixture(scope="session")
def small_dataset(tmp_path_factory):
    """Two train songs and one test song of 4 s, plus one duet per subset: the real generator, small."""
    root = tmp_path_factory.mktemp("generated")
    return synth.generate(root, n_train=2, n_test=1, duration=4.0, n_duets_train=1, n_duets_test=1,
                          duet_duration=3.0, workers=1, progress=False)
