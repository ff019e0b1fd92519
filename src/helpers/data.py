"""Data for the course: musdb tracks (generated, MUSDB18 previews or full), segments, an HDF5 cache, tf.data.

The flow, as in notebooks 04–05::

    tracks = load_tracks("generated", subset="train")            # musdb.MultiTrack objects
    cache = build_cache(tracks, "data/cache/train.h5", targets=("vocals", "drums"))
    dataset = tf_dataset(cache, targets=("vocals", "drums"), batch_size=16)

The cache holds magnitude spectrograms of fixed-length segments; every channel of a segment is one example
(the course's models are mono and are applied to each channel). Arrays in the cache use librosa's layout
``(n_examples, n_bins, n_frames)``; :func:`to_model_layout` turns them into the model layout
``(..., n_bins, n_frames, 1)`` (frequency rows, time columns, one channel: a spectrogram image).

Taught in: notebooks/04_masks_and_spectrogram_fnn.ipynb, notebooks/05_unet_vocals_drums.ipynb

References
----------
.. [1] Rafii et al., "MUSDB18 – a corpus for music separation", 2017; the ``musdb`` package (sigsep).
"""

from __future__ import annotations

import json
import os
from pathlib import Path

import numpy as np

from helpers import segments, spectral
from helpers.config import DUET_SOURCES, HOP_LENGTH, N_FFT, N_FRAMES, SAMPLE_RATE, check_targets, generated_root
from helpers.exceptions import ParameterError, check_int

#: Where :func:`load_tracks` can read songs from.
SOURCES = ("generated", "musdb-preview", "musdb", "auto")


def _no_data_message(what: str) -> str:
    return (
        f"{what}. Get data in one of three ways: generate the course's own songs with `make data` (or "
        "`python -m helpers.synth`); download the MUSDB18 7-second previews with source='musdb-preview' (needs "
        "the internet); or point MUSDB_ROOT (or root=) at a full MUSDB18 copy."
    )


def load_tracks(source: str = "generated", subset: str = "train", root=None):
    """Load musdb tracks from the generated set, the MUSDB18 previews, or a full MUSDB18 copy.

    All three go through ``musdb.DB``, so a notebook written for one works with the others.

    Taught in: notebooks/01_waveforms_and_mixtures.ipynb

    Parameters
    ----------
    source : {"generated", "musdb-preview", "musdb", "auto"}
        ``"generated"``: the course's songs under ``root`` (default ``data/generated``, WAV layout).
        ``"musdb-preview"``: ``musdb.DB(download=True)``, the 7-second MUSDB18 previews (downloaded once, online).
        ``"musdb"``: a full MUSDB18 copy at ``root`` or ``$MUSDB_ROOT`` (``.stem.mp4``, or the WAV layout when
        ``*/*/mixture.wav`` files are found).
        ``"auto"``: ``"musdb"`` when ``$MUSDB_ROOT`` (or ``root``) holds it, else ``"generated"``, saying which.
    subset : {"train", "test", "heldout"}
        ``"heldout"`` (generated only): the songs rendered with a bank, singers and effects never used in training
        (``root/heldout/test``; see :func:`helpers.synth.generate`).
    root : str or os.PathLike or None

    Returns
    -------
    tracks : list of musdb.MultiTrack
        Each has ``.audio`` ``(n_samples, n_channels)``, ``.rate``, ``.targets`` and ``.sources``.

    Raises
    ------
    ParameterError
        If ``source`` or ``subset`` is unknown, or no data can be found, with a message on how to get data.
    """
    from helpers.compat import import_musdb

    if source not in SOURCES:
        raise ParameterError(f"source={source!r} must be one of {SOURCES}")
    if subset not in ("train", "test", "heldout"):
        raise ParameterError(f"subset={subset!r} must be 'train', 'test' or 'heldout'")
    if subset == "heldout":
        if source != "generated":
            raise ParameterError(f"subset='heldout' is the generated set's held-out split; source={source!r} has "
                                 "only 'train' and 'test'")
        root = Path(root) if root is not None else generated_root()
        return load_tracks("generated", "test", root / "heldout")
    if source == "auto":
        musdb_root = root or os.environ.get("MUSDB_ROOT")
        if musdb_root and Path(musdb_root, subset).is_dir():
            print(f"load_tracks: using MUSDB18 at {musdb_root}")
            return load_tracks("musdb", subset, musdb_root)
        print("load_tracks: no MUSDB18 found (set MUSDB_ROOT); using the generated dataset")
        return load_tracks("generated", subset, None)
    musdb = import_musdb()
    if source == "generated":
        root = Path(root) if root is not None else generated_root()
        if not (root / subset).is_dir() or not any((root / subset).glob("*/mixture.wav")):
            raise ParameterError(_no_data_message(f"no generated songs in {root / subset}"))
        return list(musdb.DB(root=str(root), is_wav=True, subsets=subset))
    if source == "musdb-preview":
        try:
            db = musdb.DB(root=root, download=True, subsets=subset)
        except OSError as exc:  # URLError is an OSError
            raise ParameterError(_no_data_message(f"could not download the MUSDB18 previews ({exc})")) from None
        return list(db)
    root = root or os.environ.get("MUSDB_ROOT")
    if not root or not Path(root, subset).is_dir():
        raise ParameterError(_no_data_message(f"no MUSDB18 copy at root={root!r} (MUSDB_ROOT)"))
    is_wav = any(Path(root, subset).glob("*/mixture.wav"))
    return list(musdb.DB(root=str(root), is_wav=is_wav, subsets=subset))


def load_duets(subset: str = "train", root=None) -> list[dict]:
    """Load the generated piano + violin duets (notebook 02's data) as arrays.

    Taught in: notebooks/02_waveform_fnn.ipynb

    Parameters
    ----------
    subset : {"train", "test", "heldout"}
        ``"heldout"`` (generated only): the songs rendered with a bank, singers and effects never used in training
        (``root/heldout/test``; see :func:`helpers.synth.generate`).
    root : str or os.PathLike or None
        The generated dataset's root (default ``data/generated``); duets live in ``root/duets``.

    Returns
    -------
    duets : list of dict
        ``{"name": str, "sample_rate": int, "mixture", "piano", "violin": np.ndarray [shape=(2, n_samples)]}``.

    Raises
    ------
    ParameterError
        If there are no duets there.
    """
    from helpers import audio

    folder = (Path(root) if root is not None else generated_root()) / "duets" / subset
    track_dirs = sorted(p.parent for p in folder.glob("*/mixture.wav"))
    if not track_dirs:
        raise ParameterError(_no_data_message(f"no duets in {folder}"))
    duets = []
    for track_dir in track_dirs:
        item = {"name": track_dir.name}
        for stem in ("mixture",) + DUET_SOURCES:
            item[stem], item["sample_rate"] = audio.load(track_dir / f"{stem}.wav")
        duets.append(item)
    return duets


def track_arrays(track, targets=("vocals", "drums"), sample_rate: int | None = SAMPLE_RATE) -> dict:
    """Read a musdb track's mixture and target stems as float32 arrays in librosa's layout.

    Taught in: notebooks/04_masks_and_spectrogram_fnn.ipynb

    Parameters
    ----------
    track : musdb.MultiTrack
    targets : sequence of str
        Any of ``vocals, drums, bass, other`` and ``accompaniment``; ``accompaniment`` is the mixture minus the
        other requested stems (e.g. ``("bass", "accompaniment")`` gives bass and "bassless").
    sample_rate : int or None
        Resample to this rate (Hz); ``None`` keeps the track's.

    Returns
    -------
    arrays : dict[str, np.ndarray [shape=(n_channels, n_samples), dtype=float32]]
        ``"mixture"`` and one entry per target, plus ``"sample_rate"`` (int).

    Raises
    ------
    ParameterError
        If a target is unknown or repeated.
    """
    targets = check_targets(targets)
    rate = track.rate
    arrays = {"mixture": track.audio.T.astype(np.float32)}
    named = [t for t in targets if t != "accompaniment"]
    for name in named:
        arrays[name] = track.sources[name].audio.T.astype(np.float32)
    if "accompaniment" in targets:
        arrays["accompaniment"] = arrays["mixture"] - sum((arrays[n] for n in named), np.zeros_like(arrays["mixture"]))
    if sample_rate is not None and sample_rate != rate:
        import librosa

        arrays = {k: librosa.resample(v, orig_sr=rate, target_sr=sample_rate).astype(np.float32)
                  for k, v in arrays.items()}
        rate = sample_rate
    arrays["sample_rate"] = int(rate)
    return arrays


def to_model_layout(magnitude):
    """Convert magnitudes from librosa's layout to the model layout by adding a trailing channel axis.

    Parameters
    ----------
    magnitude : np.ndarray or tf.Tensor [shape=(..., n_bins, n_frames)]

    Returns
    -------
    image : same type [shape=(..., n_bins, n_frames, 1)]
    """
    return magnitude[..., None]


def from_model_layout(image):
    """Inverse of :func:`to_model_layout`: drop the trailing channel axis of size 1.

    Raises
    ------
    ParameterError
        If the last axis is not of size 1.
    """
    if image.shape[-1] != 1:
        raise ParameterError(f"expected a trailing channel axis of size 1, got shape={tuple(image.shape)}")
    return image[..., 0]


def cache_settings(targets, sample_rate, n_fft, hop_length, n_frames, source_names) -> dict:
    """The settings that identify a spectrogram cache (stored as HDF5 attributes)."""
    return {"targets": list(targets), "sample_rate": int(sample_rate), "n_fft": int(n_fft),
            "hop_length": int(hop_length), "n_frames": int(n_frames), "tracks": list(source_names), "version": 1}


def build_cache(tracks, path, targets=("vocals", "drums"), sample_rate: int = SAMPLE_RATE,
                n_fft: int = N_FFT, hop_length: int = HOP_LENGTH, n_frames: int = N_FRAMES,
                progress: bool = True) -> Path:
    """Write magnitude spectrograms of fixed-length segments of each track to an HDF5 file.

    Each segment spans ``n_frames`` STFT frames (``(n_frames - 1) * hop_length`` samples, the last one
    zero-padded); each channel of it is one example. The file is written incrementally (one track at a time,
    never the whole set in memory) to a temporary name, then renamed, so an interrupted build leaves no
    half-written cache. If ``path`` exists with the same settings it is re-used; with other settings it is rebuilt.

    Taught in: notebooks/04_masks_and_spectrogram_fnn.ipynb

    Parameters
    ----------
    tracks : sequence of musdb.MultiTrack
    path : str or os.PathLike
        The ``.h5`` file.
    targets : sequence of str
        See :func:`track_arrays`.
    sample_rate : int > 0
        Audio is resampled to this rate (Hz) before the STFT.
    n_fft, hop_length : int
        STFT parameters (samples).
    n_frames : int > 0
        Frames per example.
    progress : bool
        Show a tqdm progress bar.

    Returns
    -------
    path : pathlib.Path
        The file holds datasets ``mixture`` and one per target, each ``(n_examples, n_fft // 2 + 1, n_frames)``
        float32, and the settings as JSON in the attribute ``settings``.

    Raises
    ------
    ParameterError
        If the targets or STFT parameters are invalid, ``n_frames`` is not positive, or ``tracks`` is empty.
    """
    import h5py
    from tqdm.auto import tqdm

    targets = check_targets(targets)
    spectral.check_frame_params(n_fft, hop_length)
    check_int("sample_rate", sample_rate)
    check_int("n_frames", n_frames)
    tracks = list(tracks)
    if not tracks:
        raise ParameterError("tracks is empty; nothing to cache")
    path = Path(path)
    settings = cache_settings(targets, sample_rate, n_fft, hop_length, n_frames, [t.name for t in tracks])
    if path.exists():
        try:
            with h5py.File(path, "r") as f:
                if json.loads(f.attrs["settings"]) == settings:
                    return path
        except (OSError, KeyError, ValueError):
            pass  # unreadable or foreign file: rebuild
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f".{path.name}.tmp")
    n_bins = n_fft // 2 + 1
    segment_length = (n_frames - 1) * hop_length
    names = ("mixture",) + targets
    try:
        with h5py.File(tmp, "w") as f:
            datasets = {name: f.create_dataset(name, shape=(0, n_bins, n_frames), maxshape=(None, n_bins, n_frames),
                                               dtype="float32", chunks=(1, n_bins, n_frames), compression="lzf")
                        for name in names}
            for track in tqdm(tracks, desc=f"caching {path.name}", unit="track", disable=not progress):
                arrays = track_arrays(track, targets, sample_rate)
                for name in names:
                    pieces = segments.split(arrays[name], segment_length)  # (n_segments, n_channels, segment_length)
                    pieces = pieces.reshape(-1, segment_length)
                    magnitude = np.abs(spectral.stft(pieces, n_fft=n_fft, hop_length=hop_length))
                    data = datasets[name]
                    data.resize(data.shape[0] + magnitude.shape[0], axis=0)
                    data[-magnitude.shape[0]:] = magnitude
            f.attrs["settings"] = json.dumps(settings)
        os.replace(tmp, path)
    except BaseException:
        tmp.unlink(missing_ok=True)
        raise
    return path


def cache_info(path) -> dict:
    """Return a cache's settings plus ``n_examples``, ``shape`` (one example) and ``megabytes`` on disk.

    Raises
    ------
    ParameterError
        If ``path`` is not a cache written by :func:`build_cache`.
    """
    import h5py

    path = Path(path)
    try:
        with h5py.File(path, "r") as f:
            info = json.loads(f.attrs["settings"])
            info["n_examples"] = int(f["mixture"].shape[0])
            info["shape"] = tuple(f["mixture"].shape[1:])
    except (OSError, KeyError) as exc:
        raise ParameterError(f"{path}: not a spectrogram cache ({exc})") from None
    info["megabytes"] = path.stat().st_size / 1e6
    return info


def numpy_batches(path, targets=("vocals", "drums"), batch_size: int = 16, shuffle: bool = True, seed: int = 0):
    """Yield batches from a cache as NumPy arrays in the model layout (for small notebooks, without tf.data).

    Parameters
    ----------
    path : str or os.PathLike
        A cache from :func:`build_cache`.
    targets : sequence of str
        A subset of the cache's targets.
    batch_size : int > 0
    shuffle : bool
        Visit examples in a seeded random order.
    seed : int

    Yields
    ------
    mixture : np.ndarray [shape=(batch, n_bins, n_frames, 1), float32]
    sources : dict[str, np.ndarray [shape=(batch, n_bins, n_frames, 1), float32]]
        The last batch may be smaller.

    Raises
    ------
    ParameterError
        If a target is not in the cache or ``batch_size`` is not positive.
    """
    import h5py

    targets, _ = _check_batch_request(path, targets, batch_size)
    with h5py.File(path, "r") as f:
        n = f["mixture"].shape[0]
        order = np.random.default_rng(seed).permutation(n) if shuffle else np.arange(n)
        for start in range(0, n, batch_size):
            index = np.sort(order[start : start + batch_size])  # h5py fancy indexing needs increasing indices
            yield (to_model_layout(f["mixture"][index]),
                   {t: to_model_layout(f[t][index]) for t in targets})


def _check_batch_request(path, targets, batch_size):
    """Validate a batch request against a cache; return the targets as a tuple and the cache's info."""
    info = cache_info(path)
    targets = check_targets(targets)
    missing = [t for t in targets if t not in info["targets"]]
    if missing:
        raise ParameterError(f"targets {missing} are not in the cache {path} (it has {info['targets']})")
    check_int("batch_size", batch_size)
    return targets, info


def tf_dataset(path, targets=("vocals", "drums"), batch_size: int = 16, shuffle: bool = True, seed: int = 0,
               repeat: bool = False):
    """Stream batches from a cache with ``tf.data``: shuffled, batched and prefetched, never all in memory.

    Parameters
    ----------
    path : str or os.PathLike
        A cache from :func:`build_cache`.
    targets : sequence of str
        A subset of the cache's targets.
    batch_size : int > 0
    shuffle : bool
        Reshuffle the example order every epoch (seeded).
    seed : int
    repeat : bool
        Repeat forever (then give ``steps_per_epoch`` to ``fit``).

    Returns
    -------
    dataset : tf.data.Dataset
        Elements ``(mixture, {target: magnitude})``, each ``float32 [shape=(batch, n_bins, n_frames, 1)]``.

    Raises
    ------
    ParameterError
        If a target is not in the cache or ``batch_size`` is not positive.
    """
    import h5py
    import tensorflow as tf

    targets, info = _check_batch_request(path, targets, batch_size)
    n_bins, n_frames = info["shape"]
    names = ("mixture",) + targets
    path = str(path)

    def read(index):
        with h5py.File(path, "r") as f:
            return tuple(f[name][int(index)][..., None] for name in names)

    def load(index):
        arrays = tf.numpy_function(read, [index], [tf.float32] * len(names))
        for array in arrays:
            array.set_shape((n_bins, n_frames, 1))
        return arrays[0], dict(zip(targets, arrays[1:]))

    dataset = tf.data.Dataset.range(info["n_examples"])
    if shuffle:
        dataset = dataset.shuffle(info["n_examples"], seed=seed, reshuffle_each_iteration=True)
    if repeat:
        dataset = dataset.repeat()
    dataset = dataset.map(load, num_parallel_calls=tf.data.AUTOTUNE, deterministic=True)
    return dataset.batch(batch_size).prefetch(tf.data.AUTOTUNE)
