"""Building the course's data set: the songs of every split, written once, in MUSDB18's folder layout.

The course must run without the internet, so it writes its own songs::

    data/generated/{train,test}/<track>/{mixture,vocals,drums,bass,other}.wav    (stereo, 44.1 kHz, float32)
    data/generated/heldout/test/<track>/...                                       (the held-out split)
    data/generated/hard/test/<track>/...                                          (the hard split)
    data/generated/duets/{train,test}/<track>/{mixture,piano,violin}.wav         (for notebook 02)

``musdb.DB(root="data/generated", is_wav=True, subsets=...)`` reads the first family unchanged. Song ``i`` of a
subset is drawn from its own generator: the same seed gives the same bytes, whatever the number of worker
processes. Run ``python -m helpers.songs --help`` (or ``make data``).

Taught in: notebooks/01_waveforms_and_mixtures.ipynb

References
----------
.. [1] Rafii et al., "The MUSDB18 corpus for music separation", 2017 (the folder layout).
"""

from __future__ import annotations

import argparse
import itertools
import json
import shutil
import sys
import tempfile
from concurrent.futures import ProcessPoolExecutor
from pathlib import Path

from helpers import audio as audio_io
from helpers.config import DATASET_SAMPLE_RATE, generated_root
from helpers.exceptions import ParameterError, check_int
import helpers.songs.numpy_engine as numpy_engine
import helpers.songs.soundfont_engine as soundfont_engine

def _write_track(job) -> str:
    """Write one song's stems, atomically: into a temporary folder beside the set, then renamed into place."""
    kind, seed, index, subset, duration, sample_rate, folder = job
    make = {"soundfont": soundfont_engine.make_song, "numpy": numpy_engine.make_song,
            "duets": numpy_engine.make_duet}[kind]
    signals, plan = make(seed, index, subset, duration=duration, sample_rate=sample_rate)
    track_dir = Path(folder) / ("test" if subset in HELD_OUT else subset) / plan["name"]
    (Path(folder) / _PARTIAL).mkdir(parents=True, exist_ok=True)
    partial = Path(tempfile.mkdtemp(dir=Path(folder) / _PARTIAL))
    for name, signal in signals.items():
        audio_io.save(partial / f"{name}.wav", signal, sample_rate)
    if track_dir.exists():  # left by a run that stopped before it recorded its settings
        shutil.rmtree(track_dir)
    track_dir.parent.mkdir(parents=True, exist_ok=True)
    partial.replace(track_dir)
    return plan["name"]


# The held-out splits: each in a folder of its own (``root/<split>/test``), rendered in a style of its own.
HELD_OUT = ("heldout", "hard")
# Songs being written; never listed by musdb, which reads only the subset folders.
_PARTIAL = ".partial"
# The settings that count songs: the folder under the set's root that holds them, and the subset they are drawn for.
_COUNTS = {"n_train": ("", "train"), "n_test": ("", "test"), "n_heldout": ("heldout", "heldout"),
           "n_hard": ("hard", "hard"),
           "n_duets_train": ("duets", "train"), "n_duets_test": ("duets", "test")}


def _tracks_folder(root: Path, count: str) -> Path:
    sub_root, subset = _COUNTS[count]
    return root / sub_root / ("test" if subset in HELD_OUT else subset)


def _build(root: Path, settings: dict, *, exact: bool, force: bool, workers: int, progress: bool) -> Path:
    """Bring the set under ``root`` to ``settings``, writing only the songs it lacks.

    Song ``i`` of a subset depends only on the seed, the engine and the other non-count settings, so a set whose
    non-count settings match is extended (and, when ``exact``, trimmed) rather than rebuilt.
    """
    from tqdm.auto import tqdm

    settings_file = root / "settings.json"
    existing = json.loads(settings_file.read_text()) if settings_file.exists() else None
    same_kind = existing is not None and all(existing.get(k) == v for k, v in settings.items() if k not in _COUNTS)
    if force or not same_kind:
        for sub in ("train", "test", "duets", *HELD_OUT, _PARTIAL):
            shutil.rmtree(root / sub, ignore_errors=True)
        settings_file.unlink(missing_ok=True)
        have = dict.fromkeys(_COUNTS, 0)
    else:
        have = {k: existing.get(k, 0) for k in _COUNTS}
    if not exact:
        settings = {**settings, **{k: max(have[k], settings[k]) for k in _COUNTS}}
    if settings == existing:
        return root
    kind = settings["engine"]
    jobs = []
    for count, (sub_root, subset) in _COUNTS.items():
        job_kind = "duets" if sub_root == "duets" else kind
        folder = root / sub_root if sub_root else root
        duration = settings["duet_duration"] if sub_root == "duets" else settings["duration"]
        jobs += [(job_kind, settings["seed"], i, subset, duration, settings["sample_rate"], folder)
                 for i in range(have[count], settings[count])]
    bar = tqdm(total=len(jobs), desc="generating songs", unit="track", disable=not progress or not jobs)
    if workers == 1 or len(jobs) < 2:
        for job in jobs:
            _write_track(job)
            bar.update()
    else:
        with ProcessPoolExecutor(max_workers=workers) as pool:
            for _ in pool.map(_write_track, jobs, chunksize=2):
                bar.update()
    bar.close()
    for sub_root in {sub_root for sub_root, _ in _COUNTS.values()}:  # what a stopped run left half-written
        shutil.rmtree(root / sub_root / _PARTIAL, ignore_errors=True)
    root.mkdir(parents=True, exist_ok=True)
    settings_file.write_text(json.dumps(settings, indent=2))  # written after the songs: they are complete
    for count in _COUNTS:  # an exact set smaller than the last one: drop the songs past its counts
        folder = _tracks_folder(root, count)
        if folder.is_dir():
            for extra in sorted(p for p in folder.iterdir() if p.is_dir())[settings[count]:]:
                shutil.rmtree(extra)
    return root


def generate(root=None, *, n_train: int = 100, n_test: int = 10, duration: float = 10.0, seed: int = 0,
             n_duets_train: int = 20, n_duets_test: int = 5, duet_duration: float = 8.0,
             sample_rate: int = DATASET_SAMPLE_RATE, workers: int = 2, force: bool = False,
             progress: bool = True, engine: str = "auto", n_heldout: int = 10, n_hard: int = 10,
             at_least: bool = False) -> Path:
    """Write the embedded dataset under ``root``, unless an identical one is already there.

    The settings are stored in ``root/settings.json``; a second call with the same settings returns at once
    (idempotent). Song ``i`` of a subset depends only on the seed, engine, duration and sample rate, so a call that
    changes only the numbers of songs writes the missing ones and removes the extra ones; any other change rebuilds
    the set. :func:`ensure` asks for at least some songs, as each notebook does.

    Two engines make the songs: ``"soundfont"`` (:mod:`helpers.songs.soundfont_engine`: sampled instruments and
    recorded drum kits, produced and mastered stems, what the shipped models learn from) and ``"numpy"``
    (:mod:`helpers.songs.numpy_engine`, built from sines and noise, the fallback where no SoundFont renderer or bank
    can be installed). With the SoundFont engine two held-out splits are also written: ``root/heldout/test``, songs
    from another bank and kit, other singers and other effect settings, and ``root/hard/test``, the same held-out
    sounds made hard on purpose (quiet targets, dense confounders, long stretches without vocals); read them with
    :func:`helpers.data.load_tracks` and ``subset="heldout"`` or ``"hard"``. The duets are always NumPy.

    Used by: helpers.train, benchmarks/run.py

    Parameters
    ----------
    root : str or os.PathLike or None
        Output folder; songs go to ``root/{train,test}``, duets to ``root/duets/{train,test}``. ``None`` is
        :func:`helpers.config.generated_root`, read at call time.
    n_train, n_test : int >= 0
        Number of songs per subset.
    duration : float > 0
        Song length in seconds.
    seed : int >= 0
    n_duets_train, n_duets_test : int >= 0
        Number of piano + violin duets per subset.
    duet_duration : float > 0
        Duet length in seconds.
    sample_rate : int > 0
        In Hz.
    workers : int >= 1
        Processes used for synthesis (the output does not depend on it).
    force : bool
        Rebuild even when the settings match.
    progress : bool
        Show a tqdm progress bar.
    engine : {"auto", "soundfont", "numpy"}
        ``"auto"``: the SoundFont engine where it can run, else NumPy with one line saying what is missing.
    n_heldout, n_hard : int >= 0
        Songs in the held-out and hard splits (SoundFont engine only; skipped, with one line, when their bank is
        missing).
    at_least : bool
        Take the counts as minimums: songs past them are kept, and the set records the larger counts (:func:`ensure`).

    Returns
    -------
    root : pathlib.Path

    Raises
    ------
    ParameterError
        If a count is negative, a duration, sample rate or worker count is not positive, the engine is unknown,
        or ``"soundfont"`` is asked for where it cannot run.
    """
    for name, value in (("n_train", n_train), ("n_test", n_test), ("n_duets_train", n_duets_train),
                        ("n_duets_test", n_duets_test), ("seed", seed), ("n_heldout", n_heldout),
                        ("n_hard", n_hard)):
        check_int(name, value, minimum=0)
    check_int("sample_rate", sample_rate)
    check_int("workers", workers)
    for name, value in (("duration", duration), ("duet_duration", duet_duration)):
        if not value > 0:
            raise ParameterError(f"{name}={value!r} must be positive")
    engine = choose_engine(engine)
    if engine == "soundfont":  # optional recorded sounds: each missing one is one line naming the fallback
        styles = ["train"] + [split for split, count in (("heldout", n_heldout), ("hard", n_hard)) if count]
        for line in dict.fromkeys(line for style in styles for line in soundfont_engine.optional_missing(style)):
            print(f"generate: {line}", file=sys.stderr)
    held_out = {"heldout": n_heldout, "hard": n_hard}
    for split, count in held_out.items():  # the NumPy engine has no held-out styles (its fallback line said so)
        reason = "NumPy engine" if engine == "numpy" else soundfont_engine.missing(split)
        if count and reason and engine == "soundfont":
            print(f"generate: {split} split skipped: {reason}", file=sys.stderr)
        held_out[split] = 0 if reason else count
    root = Path(root) if root is not None else generated_root()
    settings = {"n_train": n_train, "n_test": n_test, "duration": duration, "seed": seed,
                "n_duets_train": n_duets_train, "n_duets_test": n_duets_test, "duet_duration": duet_duration,
                "sample_rate": sample_rate, "engine": engine, "n_heldout": held_out["heldout"],
                "n_hard": held_out["hard"], "version": 5}
    return _build(root, settings, exact=not at_least, force=force, workers=workers, progress=progress)


def ensure(*, n_train: int = 0, n_test: int = 0, n_heldout: int = 0, n_hard: int = 0, n_duets_train: int = 0,
           n_duets_test: int = 0, root=None, progress: bool = True) -> Path:
    """Make sure the course's set holds at least its first songs of each subset, writing only the missing ones.

    What each notebook calls, so it runs on its own in a fresh runtime (a Colab one): it writes the few songs it
    needs in seconds, and does nothing where ``make data`` (:func:`generate` with its defaults) already made them.
    The songs are :func:`generate`'s, with its defaults (10-s songs at 44.1 kHz, seed 0, the engine that can run):
    song ``i`` is the same file whichever call wrote it. A set with other settings is rebuilt.

    Taught in: notebooks/01_waveforms_and_mixtures.ipynb, notebooks/02_waveform_fnn.ipynb, notebooks/03_stft.ipynb,
    notebooks/04_masks_and_spectrogram_fnn.ipynb, notebooks/05_unet_vocals_drums.ipynb,
    notebooks/06_separate_your_song.ipynb, notebooks/07_time_domain.ipynb

    Parameters
    ----------
    n_train, n_test, n_heldout, n_hard, n_duets_train, n_duets_test : int >= 0
        The least number of songs per subset (the held-out and hard splits need the SoundFont engine and the
        held-out bank; without them they are skipped with one line).
    root : str or os.PathLike or None
        ``None`` is :func:`helpers.config.generated_root`.
    progress : bool
        Show a tqdm progress bar while writing.

    Returns
    -------
    root : pathlib.Path

    Raises
    ------
    ParameterError
        If a count is negative.
    """
    return generate(root, n_train=n_train, n_test=n_test, n_duets_train=n_duets_train, n_duets_test=n_duets_test,
                    progress=progress, n_heldout=n_heldout, n_hard=n_hard, at_least=True)


ENGINES = ("auto", "soundfont", "numpy")


def choose_engine(engine: str = "auto") -> str:
    """The song engine to use: ``"soundfont"`` or ``"numpy"``.

    ``"auto"`` picks the SoundFont engine when its renderer and training bank are installed, and otherwise prints
    one line saying what is missing and that the NumPy synthesizer is used instead.

    Taught in: notebooks/01_waveforms_and_mixtures.ipynb

    Raises
    ------
    ParameterError
        If ``engine`` is unknown, or is ``"soundfont"`` and cannot run here (the message says what to install).
    """
    if engine not in ENGINES:
        raise ParameterError(f"engine={engine!r} must be one of {ENGINES}")
    if engine == "numpy":
        return engine
    reason = soundfont_engine.missing("train")
    if reason is None:
        return "soundfont"
    if engine == "soundfont":
        raise ParameterError(f"the SoundFont engine cannot run: {reason}")
    print(f"generate: {reason}; using the NumPy synthesizer instead", file=sys.stderr)
    return "numpy"


def demo_song(path, *, duration: float = 180.0, root=None, subset: str = "test") -> Path:
    """Write a long mixture made of the generated songs' mixtures, one after another (and again from the first).

    For trying ``separate`` on a file of realistic length (the benchmarks use 3 and 10 minutes). Written block by
    block as 16-bit PCM, like a song from a CD, and atomically.

    Taught in: notebooks/06_separate_your_song.ipynb

    Parameters
    ----------
    path : str or os.PathLike
        The ``.wav`` to write.
    duration : float > 0
        Seconds.
    root : str or os.PathLike or None
        A generated dataset (:func:`generate`); ``None`` is :func:`helpers.config.generated_root`.
    subset : str
        ``"train"`` or ``"test"``.

    Returns
    -------
    path : pathlib.Path

    Raises
    ------
    ParameterError
        If ``duration`` is not positive or the subset holds no songs.
    """
    import soundfile as sf

    if not duration > 0:
        raise ParameterError(f"duration={duration!r} must be positive")
    root = Path(root) if root is not None else generated_root()
    songs = sorted((root / subset).glob("*/mixture.wav"))
    if not songs:
        raise ParameterError(f"{root / subset}: no generated songs (run `make data`)")
    info = sf.info(str(songs[0]))
    remaining = int(round(duration * info.samplerate))
    path = Path(path)
    with audio_io.writers({"song": path}, info.samplerate, info.channels, subtype="PCM_16") as files:
        for i in itertools.count():
            if remaining <= 0:
                break
            signal, _ = sf.read(str(songs[i % len(songs)]), dtype="float32", frames=remaining, always_2d=True)
            files["song"].write(signal)
            remaining -= len(signal)
    return path


def main(argv=None) -> int:
    """Command line: ``python -m helpers.songs [options]`` (also ``make data``).

    Used by: helpers.songs.__main__, pyproject.toml (the ``songs`` command)
    """
    parser = argparse.ArgumentParser(
        prog="python -m helpers.songs",
        description="Generate the course's multitrack dataset (MUSDB18 layout), the held-out and hard splits and "
                    "piano+violin duets. Re-running with the same options does nothing; other numbers of songs add or "
                    "remove songs, other options rebuild the set.",
    )
    parser.add_argument("--root", type=Path, default=None,
                        help="output folder (default: data/generated, or $COURSE_DATA/generated)")
    parser.add_argument("--n-train", type=int, default=100, help="songs in the train subset (default: %(default)s)")
    parser.add_argument("--n-test", type=int, default=10, help="songs in the test subset (default: %(default)s)")
    parser.add_argument("--duration", type=float, default=10.0, help="song length in seconds (default: %(default)s)")
    parser.add_argument("--n-duets-train", type=int, default=20,
                        help="piano+violin duets for training (default: %(default)s)")
    parser.add_argument("--n-duets-test", type=int, default=5,
                        help="piano+violin duets for testing (default: %(default)s)")
    parser.add_argument("--duet-duration", type=float, default=8.0,
                        help="duet length in seconds (default: %(default)s)")
    parser.add_argument("--seed", type=int, default=0,
                        help="dataset seed; same seed, same bytes (default: %(default)s)")
    parser.add_argument("--sample-rate", type=int, default=DATASET_SAMPLE_RATE,
                        help="in Hz (default: %(default)s)")
    parser.add_argument("--workers", type=int, default=2, help="synthesis processes (default: %(default)s)")
    parser.add_argument("--force", action="store_true", help="rebuild even if the same set exists")
    parser.add_argument("--engine", choices=ENGINES, default="auto",
                        help="songs from sampled SoundFont instruments, from the NumPy synthesizer, or the first "
                             "that can run (default: %(default)s)")
    parser.add_argument("--n-heldout", type=int, default=10,
                        help="songs in the held-out split (another bank, kit, singers and effects; SoundFont engine) "
                             "(default: %(default)s)")
    parser.add_argument("--n-hard", type=int, default=10,
                        help="songs in the hard split (held-out sounds, quiet targets, dense confounders; SoundFont "
                             "engine) (default: %(default)s)")
    parser.add_argument("--demo-song", type=Path, default=None, metavar="PATH",
                        help="also write a long mixture of the test songs, one after another, to PATH")
    parser.add_argument("--demo-seconds", type=float, default=180.0,
                        help="length of the demo song in seconds (default: %(default)s)")
    args = parser.parse_args(argv)
    try:
        root = generate(args.root, n_train=args.n_train, n_test=args.n_test, duration=args.duration, seed=args.seed,
                        n_duets_train=args.n_duets_train, n_duets_test=args.n_duets_test,
                        duet_duration=args.duet_duration, sample_rate=args.sample_rate, workers=args.workers,
                        force=args.force, engine=args.engine, n_heldout=args.n_heldout,
                        n_hard=args.n_hard)
        if args.demo_song is not None:
            print(f"demo song written to {demo_song(args.demo_song, duration=args.demo_seconds, root=root)}")
    except ParameterError as exc:
        print(f"songs: error: {exc}", file=sys.stderr)
        return 2
    print(f"dataset ready in {root}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
