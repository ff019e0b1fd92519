"""Helpers for the source-separation course.

Every notebook in ``notebooks/`` is a thin layer over these modules: audio I/O (:mod:`helpers.audio`),
spectral transforms (:mod:`helpers.spectral`), plotting and widgets, and the dataset generator
(:mod:`helpers.synth`); names and defaults live in :mod:`helpers.config`. Import the module you need, e.g.
``from helpers import audio, spectral``.
"""

from helpers.config import data_dir
from helpers.exceptions import ParameterError

__version__ = "0.1.0"

#: Notebook names, so docstrings and tests refer to one list.
NOTEBOOKS = (
    "00_setup_check",
    "01_waveforms_and_mixtures",
    "02_waveform_fnn",
    "03_stft",
    "04_masks_and_spectrogram_fnn",
    "05_unet_vocals_drums",
    "06_separate_your_song",
    "07_time_domain",
)

#: Where the course is published; the notebooks' Colab setup cell and badges point here.
COURSE_REPO = "https://github.com/source-separation-course/course"


__all__ = ["ParameterError", "NOTEBOOKS", "COURSE_REPO", "data_dir", "__version__"]
