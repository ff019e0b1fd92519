"""Data for the course: musdb tracks (generated, MUSDB18 previews or full), segments, an HDF5 cache, tf.data.

The flow, as in notebooks 04–05::

    tracks = load_tracks("generated", subset="train")            # musdb.MultiTrack objects
    cache = build_cache(tracks, "data/cache/train.h5", targets=("vocals", "drums"))
    dataset = tf_dataset(cache, targets=("vocals", "drums"), batch_size=16)

The cache holds magnitude spectrograms of fixed-length segments; every channel of a segment is one example
(the course's models are mono and are applied to each channel). Arrays in the cache use librosa's layout
``(n_examples, n_bins, n_frames)``; :func:`to_model_layout` turns them into the model layout
``(..., n_bins, n_frames, 1)`` (frequency rows, time columns, one channel: a spectrogram image).

The models' own training data live here too: frames and context windows for the two FNNs
(:func:`waveform_frames`, :func:`context_windows`, :func:`spectrogram_fnn_batches`), and the **segment data sets**
that :func:`helpers.training.train` draws from, remixed on the fly: :class:`SpectrogramSegments` for spectrogram
models and :class:`WaveformSegments` for waveform models (an architecture's declaration names one,
:class:`helpers.models.Architecture`), both drawn by one policy, :class:`Augmentation`.

Taught in: notebooks/02_waveform_fnn.ipynb, notebooks/04_masks_and_spectrogram_fnn.ipynb,
notebooks/05_unet_vocals_drums.ipynb, notebooks/07_time_domain.ipynb

References
----------
.. [1] Rafii et al., "MUSDB18 – a corpus for music separation", 2017; the ``musdb`` package (sigsep).
"""

from __future__ import annotations

import json
import os
from dataclasses import dataclass
from pathlib import Path

import keras
import numpy as np

from helpers import audio, distributed, segments, spectral
from helpers.compat import import_musdb
from helpers.config import (DEFAULT_TARGETS, DUET_SOURCES, HOP_LENGTH, N_FFT, N_FRAMES, SAMPLE_RATE, STEMS, WINDOW,
                            check_targets, generated_root)
from helpers.exceptions import ParameterError, check_int

#: Where :func:`load_tracks` can read songs from.
SOURCES = ("generated", "musdb-preview", "musdb", "auto")


def _no_data_message(what: str) -> str:
    return (
        f"{what}. Get data in one of three ways: generate the course's own songs with `make data` (or "
        "`python -m helpers.songs`); download the MUSDB18 7-second previews with source='musdb-preview' (needs "
        "the internet); or point MUSDB_ROOT (or root=) at a full MUSDB18 copy."
    )


def load_tracks(source: str = "generated", subset: str = "train", root=None):
    """Load musdb tracks from the generated set, the MUSDB18 previews, or a full MUSDB18 copy.

    All three go through ``musdb.DB``, so a notebook written for one works with the others.

    Taught in: notebooks/01_waveforms_and_mixtures.ipynb, notebooks/03_stft.ipynb,
    notebooks/04_masks_and_spectrogram_fnn.ipynb, notebooks/05_unet_vocals_drums.ipynb,
    notebooks/06_separate_your_song.ipynb, notebooks/07_time_domain.ipynb

    Parameters
    ----------
    source : {"generated", "musdb-preview", "musdb", "auto"}
        ``"generated"``: the course's songs under ``root`` (default ``data/generated``, WAV layout).
        ``"musdb-preview"``: ``musdb.DB(download=True)``, the 7-second MUSDB18 previews (downloaded once, online).
        ``"musdb"``: a full MUSDB18 copy at ``root`` or ``$MUSDB_ROOT`` (``.stem.mp4``, or the WAV layout when
        ``*/*/mixture.wav`` files are found).
        ``"auto"``: ``"musdb"`` when ``$MUSDB_ROOT`` (or ``root``) holds it, else ``"generated"``, saying which.
    subset : {"train", "test", "heldout", "hard"}
        ``"heldout"`` (generated only): the songs rendered with a bank, kit, singers and effects never used in
        training (``root/heldout/test``); ``"hard"``: the same held-out sounds made hard on purpose, with quiet
        targets, dense confounders and long stretches without vocals (``root/hard/test``; see
        :func:`helpers.songs.generate`).
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
    if source not in SOURCES:
        raise ParameterError(f"source={source!r} must be one of {SOURCES}")
    if subset not in ("train", "test", "heldout", "hard"):
        raise ParameterError(f"subset={subset!r} must be 'train', 'test', 'heldout' or 'hard'")
    if subset in ("heldout", "hard"):
        if source != "generated":
            raise ParameterError(f"subset={subset!r} is a held-out split of the generated set; source={source!r} "
                                 "has only 'train' and 'test'")
        root = Path(root) if root is not None else generated_root()
        return load_tracks("generated", "test", root=root / subset)
    if source == "auto":
        musdb_root = root or os.environ.get("MUSDB_ROOT")
        if musdb_root and Path(musdb_root, subset).is_dir():
            print(f"load_tracks: using MUSDB18 at {musdb_root}")
            return load_tracks("musdb", subset, root=musdb_root)
        print("load_tracks: no MUSDB18 found (set MUSDB_ROOT); using the generated dataset")
        return load_tracks("generated", subset)
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
    subset : {"train", "test"}
        The duets have no held-out split (:func:`helpers.songs.generate` writes ``duets/train`` and ``duets/test``).
    root : str or os.PathLike or None
        The generated dataset's root (default ``data/generated``); duets live in ``root/duets``.

    Returns
    -------
    duets : list of dict
        ``{"name": str, "sample_rate": int, "mixture", "piano", "violin": np.ndarray [shape=(2, n_samples)]}``.

    Raises
    ------
    ParameterError
        If ``subset`` is not ``"train"`` or ``"test"``, or there are no duets there.
    """
    if subset not in ("train", "test"):
        raise ParameterError(f"subset={subset!r} must be 'train' or 'test' (the duets have no held-out split)")
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


def track_arrays(track, *, targets=DEFAULT_TARGETS, sample_rate: int | None = SAMPLE_RATE) -> dict:
    """Read a musdb track's mixture and target stems as float32 arrays in librosa's layout.

    Taught in: notebooks/03_stft.ipynb, notebooks/04_masks_and_spectrogram_fnn.ipynb,
    notebooks/05_unet_vocals_drums.ipynb, notebooks/06_separate_your_song.ipynb, notebooks/07_time_domain.ipynb

    Parameters
    ----------
    track : musdb.MultiTrack
    targets : sequence of str
        Any of ``vocals, drums, bass, other`` and ``accompaniment``; ``accompaniment`` is the mixture minus the
        other requested stems (e.g. ``("bass", "accompaniment")`` gives bass and "bassless").
    sample_rate : int or None
        Resample to this rate (Hz, with :func:`helpers.audio.resample`); ``None`` keeps the track's (``track.rate``).

    Returns
    -------
    arrays : dict[str, np.ndarray [shape=(n_channels, n_samples), dtype=float32]]
        ``"mixture"`` and one entry per target, at ``sample_rate`` (or ``track.rate``), which the caller knows.

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
        arrays = {k: audio.resample(v, int(rate), target_rate=sample_rate) for k, v in arrays.items()}
    return arrays


def to_model_layout(magnitude):
    """Convert magnitudes from librosa's layout to the model layout by adding a trailing channel axis.

    Used by: helpers.data.numpy_batches

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

    Used by: helpers.data.spectrogram_fnn_batches

    Raises
    ------
    ParameterError
        If the last axis is not of size 1.
    """
    if image.shape[-1] != 1:
        raise ParameterError(f"expected a trailing channel axis of size 1, got shape={tuple(image.shape)}")
    return image[..., 0]


def cache_settings(targets, sample_rate, n_fft, hop_length, n_frames, source_names) -> dict:
    """The settings that identify a spectrogram cache (stored as HDF5 attributes).

    Used by: helpers.data.build_cache
    """
    return {"targets": list(targets), "sample_rate": int(sample_rate), "n_fft": int(n_fft),
            "hop_length": int(hop_length), "n_frames": int(n_frames), "tracks": list(source_names), "version": 1}


def build_cache(tracks, path, *, targets=DEFAULT_TARGETS, sample_rate: int = SAMPLE_RATE,
                n_fft: int = N_FFT, hop_length: int = HOP_LENGTH, n_frames: int = N_FRAMES,
                progress: bool = True) -> Path:
    """Write magnitude spectrograms of fixed-length segments of each track to an HDF5 file.

    Each segment spans ``n_frames`` STFT frames (``(n_frames - 1) * hop_length`` samples, the last one
    zero-padded); each channel of it is one example. The file is written incrementally (one track at a time,
    never the whole set in memory) to a temporary name, then renamed, so an interrupted build leaves no
    half-written cache. If ``path`` exists with the same settings it is re-used; with other settings it is rebuilt.

    Taught in: notebooks/04_masks_and_spectrogram_fnn.ipynb, notebooks/05_unet_vocals_drums.ipynb

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
                arrays = track_arrays(track, targets=targets, sample_rate=sample_rate)
                for name in names:
                    # (n_segments, n_channels, segment_length)
                    pieces = segments.split(arrays[name], segment_length=segment_length)
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

    Taught in: notebooks/04_masks_and_spectrogram_fnn.ipynb, notebooks/05_unet_vocals_drums.ipynb

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


def numpy_batches(path, *, targets=DEFAULT_TARGETS, batch_size: int = 16, shuffle: bool = True, seed: int = 0):
    """Yield batches from a cache as NumPy arrays in the model layout (for small notebooks, without tf.data).

    Used by: helpers.data.spectrogram_fnn_batches

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


def tf_dataset(path, *, targets=DEFAULT_TARGETS, batch_size: int = 16, shuffle: bool = True, seed: int = 0,
               repeat: bool = False):
    """Stream batches from a cache with ``tf.data``: shuffled, batched and prefetched, never all in memory.

    Taught in: notebooks/05_unet_vocals_drums.ipynb

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


# Model inputs: frames for the FNNs, random segments (Keras data sets) for the U-Nets.


def waveform_frames(mixture: np.ndarray, sources: dict | None = None, *, frame_length: int, hop_length: int):
    """Frame a mono mixture (and its sources) for the waveform FNN.

    Taught in: notebooks/02_waveform_fnn.ipynb

    Parameters
    ----------
    mixture : np.ndarray [shape=(n_samples,)]
    sources : dict[str, np.ndarray [shape=(n_samples,)]] or None
    frame_length, hop_length : int

    Returns
    -------
    x : np.ndarray [shape=(n_frames, frame_length)], float32
    y : dict[str, np.ndarray [shape=(n_frames, frame_length)]] or None
    """
    x = spectral.frame_signal(mixture, frame_length=frame_length, hop_length=hop_length).astype(np.float32)
    if sources is None:
        return x, None
    return x, {name: spectral.frame_signal(s, frame_length=frame_length, hop_length=hop_length).astype(np.float32)
               for name, s in sources.items()}


def context_windows(magnitude: np.ndarray, *, context: int) -> np.ndarray:
    """Stack each frame with its ``context`` neighbours on both sides (zero-padded at the edges).

    Taught in: notebooks/04_masks_and_spectrogram_fnn.ipynb

    Parameters
    ----------
    magnitude : np.ndarray [shape=(..., n_bins, n_frames)]
    context : int >= 0
        Frames on each side.

    Returns
    -------
    windows : np.ndarray [shape=(..., n_frames, 2 * context + 1, n_bins)]
        ``windows[..., t, context]`` is frame ``t``.

    Raises
    ------
    ParameterError
        If ``context`` is negative.
    """
    check_int("context", context, minimum=0)
    frames = np.swapaxes(np.asarray(magnitude), -1, -2)  # (..., n_frames, n_bins)
    pad = [(0, 0)] * (frames.ndim - 2) + [(context, context), (0, 0)]
    padded = np.pad(frames, pad)
    n_frames = frames.shape[-2]
    return np.stack([padded[..., i : i + n_frames, :] for i in range(2 * context + 1)], axis=-2)


def spectrogram_fnn_batches(cache_path, *, targets=DEFAULT_TARGETS, context: int = 3, segments_per_batch: int = 4,
                            seed: int = 0):
    """Endless training batches for :func:`helpers.models.spectrogram_fnn`, built from a spectrogram cache a few
    segments at a time.

    Taught in: notebooks/04_masks_and_spectrogram_fnn.ipynb

    Parameters
    ----------
    cache_path : str or os.PathLike
        From :func:`build_cache`.
    targets : sequence of str
    context : int >= 0
    segments_per_batch : int > 0
        Cache examples per batch; a batch holds ``segments_per_batch * n_frames`` frames.
    seed : int
        The order of segments is reshuffled every pass, from this seed.

    Yields
    ------
    x : np.ndarray [shape=(batch, 2 * context + 1, n_bins)], float32
    y : dict[str, np.ndarray [shape=(batch, n_bins)]]
    """
    epoch = 0
    while True:
        for mixture, sources in numpy_batches(cache_path, targets=targets, batch_size=segments_per_batch, shuffle=True,
                                              seed=seed + epoch):
            x = context_windows(from_model_layout(mixture), context=context)
            yield (x.reshape(-1, *x.shape[-2:]),
                   {t: np.swapaxes(from_model_layout(s), -1, -2).reshape(-1, x.shape[-1]) for t, s in sources.items()})
        epoch += 1


@dataclass(frozen=True)
class Augmentation:
    """The policy that draws every training example of the segment data sets: stems remixed across songs, random
    gains in dB, random channels, and now and then a silent target (Uhlich et al. 2017 [1]_).

    One example is one mono segment of each of the four stems (``config.STEMS``); the mixture is their sum. With
    augmentation (:meth:`example` with ``augment=True``), independently for each stem:

    - a **track** drawn at random and an **offset** of its own: stems from different songs, new mixtures every time;
    - a **channel** drawn at random (left or right): stereo images swapped and mixed;
    - a **gain** drawn uniformly in ``gain_db`` (dB): with the default [-9, +6] dB each stem is scaled by 0.35 to 2.0,
      so one stem lies up to 15 dB below or above another: a target can be well below the rest or a little above;
    - a **target** stem (one of the model's targets that is a stem) is set to silence with probability ``p_drop``,
      so silence is a target too; the stems that are not targets are never dropped, and neither is the last
      audible stem, so the mixture is never silent by a drop.

    Without augmentation the example is one track's real stems at one offset, in one channel, gains 1 (a fixed
    validation set). Either way the mixture is exactly the float32 sum of the four stems after gains, so the
    targets and ``"accompaniment"`` (the mixture minus the stem targets) are consistent with it.

    Used by: helpers.data.SpectrogramSegments, helpers.data.WaveformSegments

    Parameters
    ----------
    gain_db : tuple (low, high) of float, low <= high
        The range of each stem's gain (dB), drawn uniformly.
    p_drop : float in [0, 1]
        The probability that a target stem is silenced in one example.

    Raises
    ------
    ParameterError
        If ``gain_db`` is not two finite numbers in order or ``p_drop`` is outside [0, 1].

    References
    ----------
    .. [1] Uhlich, Porcu, Giron, Enenkl, Kemp, Takahashi & Mitsufuji, "Improving music source separation based on
       deep neural networks through data augmentation and network blending", ICASSP 2017.
    """

    gain_db: tuple[float, float] = (-9.0, 6.0)
    p_drop: float = 0.1

    def __post_init__(self):
        try:
            low, high = (float(g) for g in self.gain_db)
        except (TypeError, ValueError):
            low = high = float("nan")
        if not (np.isfinite(low) and np.isfinite(high) and low <= high):
            raise ParameterError(f"gain_db={self.gain_db!r} must be two finite numbers (dB), low <= high")
        if not 0 <= self.p_drop <= 1:
            raise ParameterError(f"p_drop={self.p_drop!r} must be a probability in [0, 1]")
        object.__setattr__(self, "gain_db", (low, high))

    @property
    def description(self) -> str:
        """The policy in one line, for a model card (``SpectrogramSegments.augmentation``)."""
        low, high = self.gain_db
        return (f"stems remixed across songs, gains in [{low:+g}, {high:+g}] dB, channels swapped, "
                f"a target dropped with p = {self.p_drop:g}")

    def example(self, rng: np.random.Generator, arrays: list, *, segment_length: int, targets=(),
                augment: bool = True) -> dict:
        """Draw one mono example: a segment of each of the four stems.

        Parameters
        ----------
        rng : np.random.Generator
        arrays : list of dict[str, np.ndarray [shape=(n_channels, n_samples)]]
            One dict per track with the four stems (:func:`track_arrays` with ``targets=config.STEMS``).
        segment_length : int > 0
            Samples; a track shorter than that is zero-padded at the end.
        targets : sequence of str
            The model's targets: the stems among them may be dropped.
        augment : bool
            Remix as above; ``False``: one track's real stems at one offset, one channel.

        Returns
        -------
        stems : dict[str, np.ndarray [shape=(segment_length,), dtype=float32]]
            The four stems after gains; the mixture is their sum.

        Raises
        ------
        ParameterError
            If ``arrays`` is empty or a track lacks a stem.
        """
        check_int("segment_length", segment_length)
        if not arrays:
            raise ParameterError("arrays is empty")
        if not augment:  # one track, one channel, one offset: the real stems
            track = _stems_of(arrays[int(rng.integers(len(arrays)))])
            channel = int(rng.integers(track[STEMS[0]].shape[0]))
            start = _offset(rng, min(a.shape[-1] for a in track.values()), segment_length)
            return {s: _piece(track[s][channel], start, segment_length) for s in STEMS}
        stems = {}
        for s in STEMS:
            signal = _stems_of(arrays[int(rng.integers(len(arrays)))])[s]
            signal = signal[int(rng.integers(signal.shape[0]))]
            piece = _piece(signal, _offset(rng, signal.shape[-1], segment_length), segment_length)
            stems[s] = (10.0 ** (rng.uniform(*self.gain_db) / 20) * piece).astype(np.float32)
        audible = list(STEMS)
        for s in (t for t in targets if t in STEMS):
            if rng.random() < self.p_drop and len(audible) > 1:
                stems[s] = np.zeros(segment_length, np.float32)
                audible.remove(s)
        return stems

    def batch(self, rng: np.random.Generator, arrays: list, *, batch_size: int, segment_length: int, targets=(),
              augment: bool = True) -> tuple[np.ndarray, dict]:
        """Draw ``batch_size`` examples with :meth:`example` and sum each one's stems into its mixture.

        Returns
        -------
        mixture : np.ndarray [shape=(batch_size, segment_length), dtype=float32]
            Exactly ``sum(stems[s] for s in config.STEMS)``.
        stems : dict[str, np.ndarray [shape=(batch_size, segment_length), dtype=float32]]
            The four stems.

        Raises
        ------
        ParameterError
            As :meth:`example`, or if a count is not positive.
        """
        check_int("batch_size", batch_size)
        rows = [self.example(rng, arrays, segment_length=segment_length, targets=targets, augment=augment)
                for _ in range(batch_size)]
        stems = {s: np.stack([row[s] for row in rows]) for s in STEMS}
        mixture = np.zeros((batch_size, segment_length), np.float32)
        for s in STEMS:
            mixture += stems[s]
        return mixture, stems


#: The course's policy, shared by :class:`SpectrogramSegments` and :class:`WaveformSegments`.
AUGMENTATION = Augmentation()


def _stems_of(track: dict) -> dict:
    missing = [s for s in STEMS if s not in track]
    if missing:
        raise ParameterError(f"the arrays lack {missing}; read them with data.track_arrays(track, targets=STEMS)")
    return track


def _offset(rng, length: int, segment_length: int) -> int:
    return int(rng.integers(max(1, length - segment_length + 1)))


def _piece(signal, start: int, segment_length: int) -> np.ndarray:
    piece = signal[start:start + segment_length]
    return np.pad(piece, (0, segment_length - piece.size)).astype(np.float32, copy=False)


class _StemSegments(keras.utils.PyDataset):
    """What both segment data sets share: the four stems of each track, batches drawn by the class's ``policy``
    from ``default_rng([seed, epoch, index])``, and the targets computed from them."""

    policy: Augmentation

    def __init__(self, arrays: list, targets, *, segment_length: int, batch_size: int, n_batches: int, seed: int,
                 augment: bool, worker: distributed.Worker = distributed.SINGLE):
        super().__init__()
        if not arrays:
            raise ParameterError("arrays is empty")
        self.arrays = [{s: _stems_of(a)[s] for s in STEMS} for a in arrays]  # the mixture is not needed
        self.targets = check_targets(targets)
        self.segment_length = check_int("segment_length", segment_length)
        self.batch_size, self.n_batches = check_int("batch_size", batch_size), check_int("n_batches", n_batches)
        self.seed, self.augment, self.epoch, self.worker = seed, bool(augment), 0, worker

    def __len__(self):
        return self.n_batches

    def on_epoch_end(self):
        self.epoch += 1 if self.augment else 0

    def signals(self, index) -> tuple[np.ndarray, dict]:
        """Batch ``index``'s waveforms: ``mixture`` ``(batch_size, segment_length)`` and ``{stem: same shape}``
        for the four stems (float32); the mixture is exactly their sum (:meth:`Augmentation.batch`). Worker ``w``
        of ``n`` draws global batch ``index * n + w``: no two workers share a random stream."""
        number = index * self.worker.count + self.worker.index
        rng = np.random.default_rng([self.seed, self.epoch, number])
        return self.policy.batch(rng, self.arrays, batch_size=self.batch_size, segment_length=self.segment_length,
                                 targets=self.targets, augment=self.augment)

    def _target_signals(self, index) -> tuple[np.ndarray, dict]:
        # The mixture and {target: waveforms}; "accompaniment" is the mixture minus the stem targets.
        mixture, stems = self.signals(index)
        named = [t for t in self.targets if t in STEMS]
        outputs = {t: stems[t] for t in named}
        if "accompaniment" in self.targets:
            outputs["accompaniment"] = mixture - sum((stems[t] for t in named), np.zeros_like(mixture))
        return mixture, {t: outputs[t] for t in self.targets}


class SpectrogramSegments(_StemSegments):
    """Batches of magnitude spectrograms of random segments, remixed on the fly (Uhlich et al. 2017 [1]_).

    Every example is one channel of a new mixture, drawn by :class:`Augmentation` (the same policy as
    :class:`WaveformSegments`'s): with ``augment``, each of the four stems comes from a track of its own (drawn at
    random: stems from different songs) at an offset and in a channel of its own, with a random gain in dB, and a
    target stem is now and then silenced; the mixture is their sum, so it always equals its targets plus the rest.
    Without it, the example is one track's real stems at one offset. Each batch is transformed by
    :func:`helpers.spectral.stft` (``n_frames`` frames of ``(n_frames - 1) * hop_length`` samples). Batch ``i`` of
    epoch ``e`` is drawn from ``default_rng([seed, e, i])``; without ``augment`` the batches repeat every epoch (a
    fixed validation set).

    So an epoch is new data every time: 45 songs of 4 stems give 45**4 stem combinations per offset, against 45
    fixed mixtures. The cost: the STFT runs in the loop (about 2 ms per example at 44.1 kHz, n_fft 2048) and the
    stems stay in memory (4 stems x 2 channels x 4 bytes per sample: 1.4 MB per second of audio at 44.1 kHz).

    Taught in: notebooks/05_unet_vocals_drums.ipynb

    Used by: helpers.models.unet

    Parameters
    ----------
    arrays : list of dict
        From :func:`helpers.data.track_arrays` with all four stems (``config.STEMS``), at the model's rate; any
        ``"mixture"`` is ignored (the mixture is the sum of the stems).
    targets : sequence of str
        Stems, or ``"accompaniment"`` (the mixture minus the stem targets).
    n_fft, hop_length, n_frames : int
        The model's STFT and segment.
    window : str
        The STFT's window.
    batch_size, n_batches : int > 0
    seed : int
    augment : bool
        Draw with :data:`AUGMENTATION` (remixed); without it, real segments (a fixed validation set).
    worker : helpers.distributed.Worker
        In a run on ``n`` processes, worker ``w`` draws global batch ``i * n + w`` of epoch ``e`` from
        ``default_rng([seed, e, i * n + w])``: no two workers share a random stream, and each draws from its own
        shard of the tracks.

    Yields
    ------
    mixture : np.ndarray [shape=(batch_size, n_fft // 2 + 1, n_frames, 1)], float32
    targets : dict[str, np.ndarray [same shape]]
        Magnitudes.

    Raises
    ------
    ParameterError
        If ``arrays`` is empty, lacks a stem, or a count is not positive.

    References
    ----------
    .. [1] Uhlich, Porcu, Giron, Enenkl, Kemp, Takahashi & Mitsufuji, "Improving music source separation based on
       deep neural networks through data augmentation and network blending", ICASSP 2017.
    """

    #: The policy that draws the examples (the same object as :class:`WaveformSegments`'s).
    policy: Augmentation = AUGMENTATION
    #: What ``augment`` does, for a model card.
    augmentation = AUGMENTATION.description

    def __init__(self, arrays: list, targets, *, n_fft: int, hop_length: int, n_frames: int, batch_size: int,
                 n_batches: int, window: str = WINDOW, seed: int = 0, augment: bool = True,
                 worker: distributed.Worker = distributed.SINGLE):
        self.n_fft, self.hop_length = spectral.check_frame_params(n_fft, hop_length)
        self.n_frames = check_int("n_frames", n_frames)
        self.window = window
        super().__init__(arrays, targets, segment_length=(self.n_frames - 1) * self.hop_length,
                         batch_size=batch_size, n_batches=n_batches, seed=seed, augment=augment, worker=worker)

    @classmethod
    def from_tracks(cls, tracks, settings: dict, *, batch_size: int, n_batches: int, seed: int = 0,
                    augment: bool = True, worker: distributed.Worker = distributed.SINGLE):
        """The data set a spectrogram model with these settings trains on: the tracks' four stems at the model's
        rate, segments of its ``n_frames`` frames of its STFT (:class:`helpers.models.Architecture`'s ``segments``).

        Parameters
        ----------
        tracks : sequence of musdb.MultiTrack
        settings : dict
            A model's settings (:func:`helpers.models.settings`): ``targets``, ``sample_rate``, ``n_fft``,
            ``hop_length``, ``window``, ``n_frames``.
        batch_size, n_batches, seed, augment
            As for the class (``batch_size``: this worker's part of the global batch).
        worker : helpers.distributed.Worker
            In a run on several processes, this one: it reads only its shard of the tracks
            (:func:`helpers.distributed.shard`) and draws only its batches of the epoch.
        """
        arrays = [track_arrays(t, targets=STEMS, sample_rate=settings["sample_rate"])
                  for t in distributed.shard(tracks, worker)]
        return cls(arrays, settings["targets"], n_fft=settings["n_fft"], hop_length=settings["hop_length"],
                   n_frames=settings["n_frames"], window=settings["window"], batch_size=batch_size,
                   n_batches=n_batches, seed=seed, augment=augment, worker=worker)

    def __getitem__(self, index):
        mixture, outputs = self._target_signals(index)
        return self._magnitude(mixture), {t: self._magnitude(signal) for t, signal in outputs.items()}

    def _magnitude(self, signal):
        magnitude = np.abs(spectral.stft(signal, n_fft=self.n_fft, hop_length=self.hop_length, window=self.window))
        return magnitude[..., :self.n_frames, None].astype(np.float32)


class WaveformSegments(_StemSegments):
    """Batches of random mono segments for a waveform model, remixed on the fly (Uhlich et al. 2017 [1]_).

    Every example is drawn by :class:`Augmentation`, the same policy as :class:`SpectrogramSegments`'s: with
    ``augment``, each of the four stems from a random track at an offset and in a channel of its own, with a random
    gain in dB, a target stem now and then silenced, and the mixture their sum: new mixtures, always consistent
    with their targets. Without it, one track's real stems at one offset. Batch ``i`` of epoch ``e`` is drawn from
    ``default_rng([seed, e, i])``: reproducible, and different every epoch when augmenting; without ``augment`` the
    batches repeat every epoch (a fixed validation set). :meth:`signals` gives a batch's stems.

    Taught in: notebooks/07_time_domain.ipynb

    Used by: helpers.models.wave_unet

    Parameters
    ----------
    arrays : list of dict
        From :func:`helpers.data.track_arrays` with all four stems (``config.STEMS``), at the model's rate; any
        ``"mixture"`` is ignored.
    targets : sequence of str
        Stems, or ``"accompaniment"`` (the mixture minus the stem targets).
    segment_length, batch_size, n_batches : int > 0
    seed : int
    augment : bool
        Draw with :data:`AUGMENTATION` (remixed); without it, real segments (a fixed validation set).
    worker : helpers.distributed.Worker
        In a run on ``n`` processes, worker ``w`` draws global batch ``i * n + w`` of epoch ``e`` from
        ``default_rng([seed, e, i * n + w])``: no two workers share a random stream, and each draws from its own
        shard of the tracks.

    Yields
    ------
    mixture : np.ndarray [shape=(batch_size, segment_length, 1)], float32
    targets : dict[str, np.ndarray [shape=(batch_size, segment_length, 1)]]

    Raises
    ------
    ParameterError
        If ``arrays`` is empty, lacks a stem, or a count is not positive.

    References
    ----------
    .. [1] Uhlich et al., ICASSP 2017 (see :class:`Augmentation`).
    """

    #: The policy that draws the examples (the same object as :class:`SpectrogramSegments`'s).
    policy: Augmentation = AUGMENTATION
    #: What ``augment`` does, for a model card.
    augmentation = AUGMENTATION.description

    def __init__(self, arrays: list, targets, *, segment_length: int, batch_size: int, n_batches: int,
                 seed: int = 0, augment: bool = True, worker: distributed.Worker = distributed.SINGLE):
        super().__init__(arrays, targets, segment_length=segment_length, batch_size=batch_size,
                         n_batches=n_batches, seed=seed, augment=augment, worker=worker)

    @classmethod
    def from_tracks(cls, tracks, settings: dict, *, batch_size: int, n_batches: int, seed: int = 0,
                    augment: bool = True, worker: distributed.Worker = distributed.SINGLE):
        """The data set a waveform model with these settings trains on: the tracks' four stems at the model's
        rate, segments of its ``segment_length`` (:class:`helpers.models.Architecture`'s ``segments``).

        Parameters
        ----------
        tracks : sequence of musdb.MultiTrack
        settings : dict
            A model's settings (:func:`helpers.models.settings`): ``targets``, ``sample_rate``, ``segment_length``.
        batch_size, n_batches, seed, augment
            As for the class (``batch_size``: this worker's part of the global batch).
        worker : helpers.distributed.Worker
            As for :meth:`SpectrogramSegments.from_tracks`.
        """
        arrays = [track_arrays(t, targets=STEMS, sample_rate=settings["sample_rate"])
                  for t in distributed.shard(tracks, worker)]
        return cls(arrays, settings["targets"], segment_length=settings["segment_length"], batch_size=batch_size,
                   n_batches=n_batches, seed=seed, augment=augment, worker=worker)

    def __getitem__(self, index):
        mixture, outputs = self._target_signals(index)
        return mixture[..., None], {t: signal[..., None] for t, signal in outputs.items()}
