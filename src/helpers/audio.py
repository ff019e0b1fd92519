"""Audio I/O and basic signal utilities.

Signals follow librosa's layout: mono audio is ``(n_samples,)``, multichannel audio is
``(n_channels, n_samples)``, float32 in [-1, 1]. Files are read and written with soundfile; players' WAV and Ogg
bytes are encoded in memory the same way (:func:`wav_bytes`, :func:`ogg_bytes`). Resampling uses soxr's
high-quality resampler (:func:`resample`), the one the separator streams through, so the course has one.

Taught in: notebooks/00_setup_check.ipynb, notebooks/01_waveforms_and_mixtures.ipynb
"""

from __future__ import annotations

import contextlib
import io
import math
import os
import struct
import tempfile
import warnings
from pathlib import Path

import numpy as np
import soundfile as sf
import soxr

from helpers.exceptions import ParameterError, check_int

#: More channels than this means the array is almost certainly ``(n_samples, n_channels)``.
MAX_CHANNELS = 64


def validate_audio(audio, *, name: str = "audio") -> np.ndarray:
    """Check that an array is a usable audio signal and return it unchanged.

    Used by: helpers.classic, helpers.widgets, helpers.separation

    Parameters
    ----------
    audio : np.ndarray [shape=(n_samples,) or (n_channels, n_samples)], real floating dtype
        The signal, in librosa's layout.
    name : str
        What to call the array in error messages.

    Returns
    -------
    audio : np.ndarray
        The same object, not copied.

    Raises
    ------
    ParameterError
        If ``audio`` is not a NumPy array, not real floating point, not 1-D or 2-D, empty, has more than
        ``MAX_CHANNELS`` channels (a sign of the ``(n_samples, n_channels)`` layout), or holds NaN or Inf.
    """
    if not isinstance(audio, np.ndarray):
        raise ParameterError(f"{name} must be a numpy.ndarray, got {type(audio).__name__}")
    if not np.issubdtype(audio.dtype, np.floating):
        raise ParameterError(f"{name} must have a real floating-point dtype, got dtype={audio.dtype}")
    if audio.ndim not in (1, 2):
        raise ParameterError(
            f"{name} must have shape (n_samples,) or (n_channels, n_samples), got shape={audio.shape}"
        )
    if audio.size == 0:
        raise ParameterError(f"{name} is empty (shape={audio.shape})")
    if audio.ndim == 2 and audio.shape[0] > MAX_CHANNELS:
        raise ParameterError(
            f"{name} has shape={audio.shape}: {audio.shape[0]} channels is too many; "
            "is it laid out (n_samples, n_channels)? Pass audio.T"
        )
    if not np.all(np.isfinite(audio)):
        bad = int(np.size(audio) - np.count_nonzero(np.isfinite(audio)))
        raise ParameterError(f"{name} contains {bad} non-finite values (NaN or Inf)")
    return audio


def _wav_data_chunk_complete(path: Path) -> bool:
    """Return False when a RIFF/WAVE file's data chunk claims more bytes than the file holds."""
    size = path.stat().st_size
    with open(path, "rb") as f:
        header = f.read(12)
        if len(header) < 12 or header[:4] != b"RIFF" or header[8:12] != b"WAVE":
            return True  # not a plain WAV; soundfile judges it
        offset = 12
        while offset + 8 <= size:
            f.seek(offset)
            chunk_id, chunk_size = struct.unpack("<4sI", f.read(8))
            if chunk_id == b"data":
                return offset + 8 + chunk_size <= size
            offset += 8 + chunk_size + (chunk_size & 1)
    return False  # no data chunk at all


def check_file(path, *, scan: bool = True, block_length: int = 1 << 16):
    """Check that a path is a complete, readable audio file with finite samples, without loading it whole.

    :func:`load` and the ``separate`` command call it before reading, so every bad input gets the same message.

    Used by: helpers.separate, helpers.separation, helpers.app.server

    Parameters
    ----------
    path : str or os.PathLike
    scan : bool
        Read the samples block by block and reject NaN or Inf (memory stays flat whatever the length).
    block_length : int > 0
        Frames per block of the scan.

    Returns
    -------
    info : soundfile's info object
        ``samplerate`` (Hz), ``channels``, ``frames``, ``duration`` (s), ``format``, ``subtype``.

    Raises
    ------
    ParameterError
        Naming the path and the problem: missing, a directory, empty, not audio, a truncated WAV, no samples,
        or (with ``scan``) NaN/Inf samples.
    """
    path = Path(path)
    if not path.exists():
        raise ParameterError(f"{path}: no such file")
    if path.is_dir():
        raise ParameterError(f"{path}: is a directory, not an audio file")
    if path.stat().st_size == 0:
        raise ParameterError(f"{path}: file is empty (0 bytes)")
    if not _wav_data_chunk_complete(path):
        raise ParameterError(f"{path}: truncated WAV (the data chunk is shorter than its header says)")
    try:
        info = sf.info(str(path))
    except (sf.LibsndfileError, RuntimeError, TypeError) as exc:
        raise ParameterError(f"{path}: not a readable audio file ({exc})") from None
    if info.frames <= 0:
        raise ParameterError(f"{path}: contains no samples")
    if scan:
        for block in sf.blocks(str(path), blocksize=block_length, dtype="float32", always_2d=True):
            if not np.all(np.isfinite(block)):
                raise ParameterError(f"{path}: contains non-finite samples (NaN or Inf)")
    return info


def load(path, *, sample_rate: int | None = None, mono: bool = False) -> tuple[np.ndarray, int]:
    """Read an audio file into a float32 array, optionally resampled and mixed down to mono.

    Taught in: notebooks/00_setup_check.ipynb, notebooks/01_waveforms_and_mixtures.ipynb,
    notebooks/06_separate_your_song.ipynb

    Parameters
    ----------
    path : str or os.PathLike
        Any format libsndfile reads (WAV, FLAC, OGG, AIFF, MP3 with libsndfile >= 1.1).
    sample_rate : int > 0 or None
        Target sample rate in Hz; ``None`` keeps the file's rate. Resampling uses :func:`resample` (soxr, high
        quality).
    mono : bool
        Average the channels into one.

    Returns
    -------
    audio : np.ndarray [shape=(n_samples,) if mono or the file is mono, else (n_channels, n_samples)], float32
    sample_rate : int
        The sample rate of ``audio`` in Hz.

    Raises
    ------
    ParameterError
        Naming the path and the problem: the file is missing, is a directory, is empty, is not audio,
        is a truncated WAV, holds no samples, or holds NaN/Inf samples; or ``sample_rate`` is not a positive int.
    """
    path = Path(path)
    if sample_rate is not None and (not isinstance(sample_rate, (int, np.integer)) or sample_rate <= 0):
        raise ParameterError(f"sample_rate={sample_rate!r} must be a positive integer or None")
    check_file(path, scan=False)
    try:
        data, file_rate = sf.read(str(path), dtype="float32", always_2d=True)
    except (sf.LibsndfileError, RuntimeError) as exc:
        raise ParameterError(f"{path}: not a readable audio file ({exc})") from None
    if not np.all(np.isfinite(data)):
        raise ParameterError(f"{path}: contains non-finite samples (NaN or Inf)")
    audio = np.ascontiguousarray(data.T)  # (n_channels, n_samples)
    if mono or audio.shape[0] == 1:
        audio = to_mono(audio)
    if sample_rate is not None and sample_rate != file_rate:
        audio = resample(audio, file_rate, target_rate=int(sample_rate))
        file_rate = int(sample_rate)
    return audio, int(file_rate)


def resample(audio: np.ndarray, sample_rate: int, *, target_rate: int) -> np.ndarray:
    """Resample a signal with soxr's high-quality band-limited resampler (``quality="HQ"``).

    The course's one resampler: :func:`load`, :func:`helpers.data.track_arrays` and the separator's stream
    (:mod:`helpers.separation`) all use soxr HQ. It gives the same samples as ``librosa.resample`` (whose default,
    ``res_type="soxr_hq"``, is this resampler) and the same length, ``ceil(n_samples * target_rate / sample_rate)``.

    Taught in: notebooks/02_waveform_fnn.ipynb

    Parameters
    ----------
    audio : np.ndarray [shape=(n_samples,) or (n_channels, n_samples)], float
    sample_rate : int > 0
        The rate of ``audio``, in Hz.
    target_rate : int > 0
        The rate wanted, in Hz.

    Returns
    -------
    resampled : np.ndarray [shape=(..., ceil(n_samples * target_rate / sample_rate))], float32
        A new array (a copy when the rates are equal).

    Raises
    ------
    ParameterError
        If a rate is not a positive integer.
    """
    sample_rate = check_int("sample_rate", sample_rate)
    target_rate = check_int("target_rate", target_rate)
    audio = np.asarray(audio, dtype=np.float32)
    if sample_rate == target_rate:
        return audio.copy()
    resampled = soxr.resample(audio.T, sample_rate, target_rate, quality="HQ").T  # soxr: (n_samples, n_channels)
    n_samples = math.ceil(audio.shape[-1] * target_rate / sample_rate)
    resampled = resampled[..., :n_samples]
    padding = [(0, 0)] * (audio.ndim - 1) + [(0, n_samples - resampled.shape[-1])]
    return np.ascontiguousarray(np.pad(resampled, padding), dtype=np.float32)


def save(path, audio: np.ndarray, sample_rate: int, *, subtype: str = "FLOAT", overwrite: bool = True) -> Path:
    """Write audio to a file atomically: a temporary file in the same folder, then a rename.

    A crash or a bad argument never leaves a half-written file at ``path``. Equal audio gives equal bytes (no
    timestamped PEAK chunk), so generated data is reproducible to the byte.

    Taught in: notebooks/00_setup_check.ipynb

    Parameters
    ----------
    path : str or os.PathLike
        Destination; its suffix picks the format (``.wav``, ``.flac``, ...). Parent folders are created.
    audio : np.ndarray [shape=(n_samples,) or (n_channels, n_samples)], float
        Samples in [-1, 1] (float WAV stores values beyond that; PCM subtypes clip them, with a warning).
    sample_rate : int > 0
        In Hz.
    subtype : str
        A soundfile subtype: ``"FLOAT"`` (32-bit float, default), ``"PCM_24"``, ``"PCM_16"``.
    overwrite : bool
        If False, refuse to replace an existing file.

    Returns
    -------
    path : pathlib.Path

    Raises
    ------
    ParameterError
        If the audio is invalid (see :func:`validate_audio`), ``sample_rate`` is not a positive int, the
        path is a directory, or it exists and ``overwrite`` is False.
    """
    path = Path(path)
    validate_audio(audio)
    if not isinstance(sample_rate, (int, np.integer)) or sample_rate <= 0:
        raise ParameterError(f"sample_rate={sample_rate!r} must be a positive integer")
    if path.is_dir():
        raise ParameterError(f"{path}: is a directory")
    if path.exists() and not overwrite:
        raise ParameterError(f"{path}: exists (pass overwrite=True to replace it)")
    if subtype.startswith("PCM") and np.max(np.abs(audio)) > 1.0:
        warnings.warn(f"{path}: samples beyond [-1, 1] are clipped by subtype={subtype}", stacklevel=2)
    n_channels = 1 if audio.ndim == 1 else audio.shape[0]
    with writers({"audio": path}, int(sample_rate), n_channels, subtype=subtype) as files:
        files["audio"].write(np.asarray(audio).T)
    return path


@contextlib.contextmanager
def writers(paths: dict, sample_rate: int, n_channels: int, *, subtype: str = "FLOAT"):
    """Open several sound files for streaming writes that appear only once all of them are complete.

    Each file is written to a temporary name in its destination folder (created if needed); when the ``with`` block
    ends normally, every file is renamed into place (:func:`publish`); if it raises, every temporary file is
    removed and the destinations are untouched. No timestamped PEAK chunk is written, so equal audio gives equal
    bytes.

    Used by: helpers.songs.dataset, helpers.separation

    Parameters
    ----------
    paths : dict[str, str or os.PathLike]
        Names to destinations; each suffix picks its format.
    sample_rate : int > 0
        In Hz.
    n_channels : int > 0
    subtype : str
        A soundfile subtype (``"FLOAT"``, ``"PCM_24"``, ``"PCM_16"``).

    Yields
    ------
    files : dict[str, soundfile.SoundFile]
        Open for writing ``(n_samples, n_channels)`` blocks.
    """
    temporary, files = {}, {}
    try:
        for name, path in paths.items():
            temporary[name] = tmp = _temporary_name(path)
            files[name] = sf.SoundFile(tmp, "w", sample_rate, n_channels, subtype=subtype)
            _no_peak_chunk(files[name])
        yield files
        for f in files.values():
            f.close()
        for name, path in paths.items():
            publish(temporary[name], path)
    finally:
        for f in files.values():
            f.close()
        for tmp in temporary.values():
            Path(tmp).unlink(missing_ok=True)


def _temporary_name(path) -> str:
    """Reserve a hidden temporary file beside ``path`` (its folder is created), with the same suffix."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.stem}.", suffix=path.suffix)
    os.close(fd)
    return tmp


@contextlib.contextmanager
def atomic_path(path):
    """A temporary path beside ``path`` that becomes ``path`` when the block ends normally, and is removed if it
    raises: whatever writes there (soundfile, Keras), ``path`` is never half-written.

    Used by: helpers.models.base

    Yields
    ------
    tmp : str
    """
    tmp = _temporary_name(path)
    try:
        yield tmp
        publish(tmp, path)
    finally:
        Path(tmp).unlink(missing_ok=True)


def publish(tmp, path) -> None:
    """Give a finished temporary file the usual permissions (``mkstemp`` makes it private) and rename it to ``path``.

    The rename is atomic on one file system, so readers see the old file or the new one, never half of one.

    Used by: helpers.audio.writers, helpers.audio.atomic_path
    """
    umask = os.umask(0)
    os.umask(umask)
    os.chmod(tmp, 0o666 & ~umask)
    os.replace(tmp, path)


def _no_peak_chunk(sound_file) -> None:
    """Stop libsndfile adding a PEAK chunk (float WAV/AIFF): it holds a timestamp, so equal audio gave unequal bytes."""
    from soundfile import _ffi, _snd

    SFC_SET_ADD_PEAK_CHUNK = 0x1050  # from sndfile.h
    _snd.sf_command(sound_file._file, SFC_SET_ADD_PEAK_CHUNK, _ffi.NULL, 0)


def to_mono(audio: np.ndarray) -> np.ndarray:
    """Average the channels of a signal.

    Taught in: notebooks/01_waveforms_and_mixtures.ipynb, notebooks/02_waveform_fnn.ipynb, notebooks/03_stft.ipynb,
    notebooks/04_masks_and_spectrogram_fnn.ipynb

    Parameters
    ----------
    audio : np.ndarray [shape=(n_samples,) or (n_channels, n_samples)]

    Returns
    -------
    mono : np.ndarray [shape=(n_samples,)]
        A new array (mono input is copied).

    Raises
    ------
    ParameterError
        If ``audio`` is not valid audio (see :func:`validate_audio`).
    """
    validate_audio(audio)
    if audio.ndim == 1:
        return audio.copy()
    return audio.mean(axis=0).astype(audio.dtype)


def wav_bytes(audio: np.ndarray, sample_rate: int) -> bytes:
    """Encode a signal as an in-memory 16-bit WAV file, clipping to [-1, 1] without normalising.

    Players in the course never normalise, so a quiet estimate sounds quiet: loudness is part of what
    the learner compares.

    Used by: helpers.widgets

    Parameters
    ----------
    audio : np.ndarray [shape=(n_samples,) or (n_channels, n_samples)], float
    sample_rate : int > 0
        In Hz.

    Returns
    -------
    wav : bytes
        A complete RIFF/WAVE file.

    Raises
    ------
    ParameterError
        If ``audio`` is not valid audio or ``sample_rate`` is not positive.
    """
    return _encoded(audio, sample_rate, "WAV", "PCM_16")


def ogg_bytes(audio: np.ndarray, sample_rate: int) -> bytes:
    """Encode a signal as an in-memory Ogg Vorbis file, clipping to [-1, 1] without normalising.

    About a tenth of the size of a 16-bit WAV at the quality players need, so notebooks full of players stay small.

    Used by: helpers.widgets

    Parameters
    ----------
    audio : np.ndarray [shape=(n_samples,) or (n_channels, n_samples)], float
    sample_rate : int > 0
        In Hz.

    Returns
    -------
    ogg : bytes

    Raises
    ------
    ParameterError
        If ``audio`` is not valid audio or ``sample_rate`` is not positive.
    """
    return _encoded(audio, sample_rate, "OGG", "VORBIS")


def _encoded(audio, sample_rate: int, file_format: str, subtype: str) -> bytes:
    """Check a signal and encode it in memory, clipped to [-1, 1] and never normalised."""
    validate_audio(audio)
    if sample_rate <= 0:
        raise ParameterError(f"sample_rate={sample_rate!r} must be positive")
    buffer = io.BytesIO()
    sf.write(buffer, np.clip(audio, -1.0, 1.0).T, int(sample_rate), format=file_format, subtype=subtype)
    return buffer.getvalue()
