"""Helpers for the source-separation course.

Every notebook in ``notebooks/`` is a thin layer over these modules. Import the module you need, e.g. ``from
helpers import audio, spectral``.

**The layout's rule**: a module named by a noun is a library (``training``, ``separation``); a module named by a
verb is that library's command line, a thin layer that parses arguments and turns bad input into exit status 2
(``train`` is ``python -m helpers.train``, ``separate`` the ``separate`` command). A small command stays in its
library as ``main`` (``python -m helpers.songs``, ``helpers.course``, ``helpers.app``). One concept has one home:
a model, and everything that differs between models, lives in its module of :mod:`helpers.models`; the rest reads
its declaration.

The modules, one line each:

- ``config``: names, defaults and paths; ``exceptions``: :class:`ParameterError` and its checks;
- ``audio``: reading, writing, checking, resampling and encoding audio; ``compat``: musdb without ffmpeg, optional
  nussl, quiet TensorFlow;
- ``songs`` (a package): the generated multitrack songs (the musical plan, voices, the NumPy and SoundFont
  engines, production and the data set's splits); ``data``: tracks, caches and the segment data sets models train
  on, with their one augmentation policy;
- ``spectral``: the STFT and its inverse; ``masks``: ideal masks and the Wiener filter; ``segments``: segments,
  overlaps and cross-fades; ``classic``: REPET-SIM and HPSS;
- ``models`` (a package): the networks, each with its declaration, and saving and loading them; ``losses``: the
  waveform losses;
- ``training`` and ``train``: training any registered model, and its command; ``separation`` and ``separate``:
  the streaming separator, and its command; ``app``: the separator as a web app;
- ``evaluation``: BSS Eval scores and baselines; ``plotting`` and ``widgets``: figures, players and interactive
  widgets; ``checkers``: the notebooks' exercise checkers; ``course``: runs every notebook headless.

Taught in: notebooks/00_setup_check.ipynb
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
