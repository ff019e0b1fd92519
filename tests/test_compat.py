import shutil

import pytest
import scipy.signal

from helpers import compat


def test_restore_scipy_window_aliases(monkeypatch):
    for name in compat.SCIPY_WINDOW_ALIASES:
        monkeypatch.delattr(scipy.signal, name, raising=False)
    added = compat.restore_scipy_window_aliases()
    assert set(added) == set(compat.SCIPY_WINDOW_ALIASES)
    assert (scipy.signal.hamming(8) == scipy.signal.windows.hamming(8)).all()
    assert (scipy.signal.hanning(8) == scipy.signal.windows.hann(8)).all()
    assert compat.restore_scipy_window_aliases() == []  # idempotent


@pytest.mark.skipif(not compat.nussl_available(), reason="nussl (optional) is not installed")
def test_nussl_imports_on_current_scipy():
    nussl = compat.import_nussl()
    assert hasattr(nussl, "AudioSignal")


@pytest.mark.skipif(compat.nussl_available(), reason="nussl is installed")
def test_import_nussl_says_how_to_install():
    with pytest.raises(ImportError, match=r"pip install -e \.\[nussl\]"):
        compat.import_nussl()


def test_ensure_ffmpeg_finds_ffprobe():
    folder = compat.ensure_ffmpeg()
    assert shutil.which("ffprobe") is not None
    assert shutil.which("ffprobe").startswith(folder)


def test_ensure_ffmpeg_explains_when_nothing_is_found(monkeypatch):
    monkeypatch.setattr(compat.shutil, "which", lambda cmd: None)
    monkeypatch.setattr(compat, "_bundled_ffmpeg_folder", lambda: None)
    with pytest.raises(ImportError, match="apt-get install ffmpeg"):
        compat.ensure_ffmpeg()
