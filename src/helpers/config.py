"""The course's vocabulary and defaults, in one place: stem names, target rules, STFT settings, data folders.

Every other module reads these names from here, so a stem list, a sample rate or a data folder cannot drift
between modules. Folders are resolved when a function is called, never at import, so setting ``COURSE_DATA``
after ``import helpers`` moves all data together.

Taught in: notebooks/01_waveforms_and_mixtures.ipynb
"""

from __future__ import annotations

import os
from pathlib import Path

from helpers.exceptions import ParameterError

#: MUSDB18's four stems, in its order.
STEMS = ("vocals", "drums", "bass", "other")
#: What a model may separate: a stem, or the accompaniment (the mixture minus the other targets).
TARGET_NAMES = STEMS + ("accompaniment",)
#: What `separate` and the web app write when no targets are chosen, where the model has them: the course's two.
DEFAULT_TARGETS = ("vocals", "drums")
#: The residual's default name, and the field's names for a single target's residual.
DEFAULT_RESIDUAL = "accompaniment"
RESIDUAL_NAMES = {"bass": "bassless", "drums": "drumless"}
#: The sources of notebook 02's duets.
DUET_SOURCES = ("piano", "violin")

#: The rate of the generated dataset (MUSDB18's, in Hz).
DATASET_SAMPLE_RATE = 44100
#: The course's teaching STFT: rate (Hz), FFT size and hop (samples), window; the defaults of notebooks 03-05, of
#: :mod:`helpers.spectral` and of the small models built there (see notebooks/03_stft.ipynb). A saved model carries
#: its own settings: the shipped U-Net runs at 44100 Hz with n_fft 2048 and hop 512 (:func:`helpers.models.settings`).
SAMPLE_RATE = 22050
N_FFT = 1024
HOP_LENGTH = 256
WINDOW = "hann"
#: STFT frames in one segment, the piece of a song a model sees at once (about 1.5 s at the defaults).
N_FRAMES = 128
#: Share of each segment that overlaps the next one when a song is separated; see notebooks/06.
DEFAULT_OVERLAP = 0.25


def check_targets(targets) -> tuple[str, ...]:
    """Validate a target list and return it as a tuple.

    Used by: helpers.data, helpers.separation, helpers.separate, helpers.train, helpers.app.server and the model
    builders

    Parameters
    ----------
    targets : str or sequence of str
        Names from :data:`TARGET_NAMES`.

    Returns
    -------
    targets : tuple of str

    Raises
    ------
    ParameterError
        If it is empty, has an unknown name (the message lists the valid ones), or repeats a name.
    """
    if isinstance(targets, str):
        targets = (targets,)
    targets = tuple(targets)
    if not targets:
        raise ParameterError("targets is empty; choose from " + ", ".join(TARGET_NAMES))
    for name in targets:
        if name not in TARGET_NAMES:
            raise ParameterError(f"unknown target {name!r}; choose from " + ", ".join(TARGET_NAMES))
    if len(set(targets)) != len(targets):
        raise ParameterError(f"targets={targets} repeats a name")
    return targets


def residual_name(targets) -> str:
    """The residual's default name: ``bassless`` or ``drumless`` for those single targets, else ``accompaniment``.

    Used by: helpers.separate, helpers.app.server

    Parameters
    ----------
    targets : sequence of str

    Returns
    -------
    name : str
    """
    targets = tuple(targets)
    return RESIDUAL_NAMES.get(targets[0], DEFAULT_RESIDUAL) if len(targets) == 1 else DEFAULT_RESIDUAL


def data_dir() -> Path:
    """The folder for generated and downloaded audio: ``$COURSE_DATA``, else the checkout's ``data/``.

    Notebooks run from ``notebooks/`` and ``make`` from the checkout's root; both find the same folder.
    Outside a checkout (a plain ``pip install``) it is ``./data``. Read at every call.

    Taught in: notebooks/00_setup_check.ipynb, notebooks/04_masks_and_spectrogram_fnn.ipynb,
    notebooks/05_unet_vocals_drums.ipynb, notebooks/06_separate_your_song.ipynb

    Returns
    -------
    path : pathlib.Path
    """
    if os.environ.get("COURSE_DATA"):
        return Path(os.environ["COURSE_DATA"])
    checkout = Path(__file__).resolve().parents[2]
    if (checkout / "pyproject.toml").is_file() and (checkout / "notebooks").is_dir():
        return checkout / "data"
    return Path.cwd() / "data"


def generated_root() -> Path:
    """Where :func:`helpers.songs.generate` writes the course's songs by default: ``data_dir() / "generated"``.

    Used by: helpers.data, helpers.songs.dataset

    Returns
    -------
    path : pathlib.Path
    """
    return data_dir() / "generated"
