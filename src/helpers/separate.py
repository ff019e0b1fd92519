"""Separate any song with the course's U-Net: chunked inference with overlapping windows and a cross-fade.

The functional API is :func:`separate` (``audio, sample_rate, targets -> {target: estimate}``); the command
``separate SONG [SONG ...]`` writes the stems of whole files (see :func:`main`). Both run the same stream:

1. the audio arrives in blocks (from a file, never loaded whole);
2. a streaming soxr resampler takes it to the model's rate (22.05 kHz for the shipped checkpoint) — the output
   is identical to resampling the whole song at once;
3. it is cut into **windows** of the model's length (128 frames, about 1.5 s) that **overlap** by a quarter;
4. each window and channel is transformed (STFT), masked by the U-Net (one mask per target), optionally refined
   with a multichannel Wiener filter (norbert), and transformed back (ISTFT);
5. the windows are **cross-faded**: linear ramps over each overlap, summing to one, so no seam is audible and
   the samples near a window's edge — where the network saw the least context — count the least;
6. a second resampler takes the estimates back to the input's rate;
7. the **residual** (``accompaniment``, or e.g. ``bassless``) is the input minus the targets, so the stems plus the
   residual add up to the input exactly (up to float32 rounding).

Channels: the U-Net is a mono model, so every channel is separated on its own — stereo in, stereo out; a 5.1 file
gives 5.1 stems. With ``wiener=True`` the channels are filtered jointly (norbert's multichannel Wiener filter).
Bandwidth: the stems hold only what the model's rate can carry (up to 11.025 kHz for the shipped model); content
above that, e.g. in a 44.1-kHz file, goes to the residual.

Taught in: notebooks/06_separate_your_song.ipynb

References
----------
.. [1] Jansson et al., "Singing voice separation with deep U-Net convolutional networks", ISMIR 2017.
.. [2] Défossez et al., "Music source separation in the waveform domain", 2019 (overlapping segments with a
   linear transition, as in ``demucs.apply``).
.. [3] Stöter et al., "Open-Unmix – a reference implementation for music source separation", JOSS 2019
   (the functional ``separate`` API).
"""

from __future__ import annotations

import argparse
import contextlib
import functools
import math
import os
import sys
import warnings
from pathlib import Path

import numpy as np

from helpers import audio as audio_io
from helpers import data, spectral
from helpers.exceptions import ParameterError

#: Share of each window that overlaps the next one.
DEFAULT_OVERLAP = 0.25
#: Frames read from a file per block.
BLOCK_LENGTH = 1 << 16
#: The residual's default name, and the field's names for a single target's residual.
DEFAULT_RESIDUAL = "accompaniment"
RESIDUAL_NAMES = {"bass": "bassless", "drums": "drumless"}


def crossfade_window(chunk_length: int, overlap_length: int) -> np.ndarray:
    """The weight of each sample of a window: linear ramps over the overlaps, one in between.

    Consecutive windows placed ``chunk_length - overlap_length`` apart have weights that sum to exactly one.

    Taught in: notebooks/06_separate_your_song.ipynb

    Parameters
    ----------
    chunk_length : int > 0
        Window length in samples.
    overlap_length : int in [0, chunk_length // 2]
        Samples shared with each neighbour.

    Returns
    -------
    window : np.ndarray [shape=(chunk_length,)], float32, values in (0, 1]

    Raises
    ------
    ParameterError
        If the lengths are out of range.
    """
    if not isinstance(chunk_length, (int, np.integer)) or chunk_length <= 0:
        raise ParameterError(f"chunk_length={chunk_length!r} must be a positive integer")
    if not isinstance(overlap_length, (int, np.integer)) or not 0 <= overlap_length <= chunk_length // 2:
        raise ParameterError(f"overlap_length={overlap_length!r} must be an integer in [0, chunk_length // 2]")
    window = np.ones(chunk_length, dtype=np.float32)
    if overlap_length:
        ramp = (np.arange(overlap_length, dtype=np.float32) + 0.5) / overlap_length
        window[:overlap_length] = ramp
        window[chunk_length - overlap_length:] = 1 - ramp
    return window


def chunk_starts(n_samples: int, chunk_length: int, overlap_length: int) -> np.ndarray:
    """Where the windows start so that every sample of a signal is covered by full cross-fade weight.

    The first window starts ``overlap_length`` samples before the signal (zeros are fed there), and windows follow
    every ``chunk_length - overlap_length`` samples until the signal's last sample lies before the next one's start.

    Taught in: notebooks/06_separate_your_song.ipynb

    Parameters
    ----------
    n_samples : int >= 0
        Length of the signal.
    chunk_length, overlap_length : int
        As in :func:`crossfade_window`.

    Returns
    -------
    starts : np.ndarray [shape=(n_chunks,)], int
        ``n_chunks = max(1, ceil((n_samples + overlap_length) / (chunk_length - overlap_length)))``.
    """
    hop = chunk_length - overlap_length
    n_chunks = max(1, math.ceil((n_samples + overlap_length) / hop))
    return np.arange(n_chunks) * hop - overlap_length


def seam_positions(n_samples: int, chunk_length: int, overlap_length: int) -> np.ndarray:
    """Where one window hands over to the next: the boundaries (no overlap) or the middles of the cross-fades.

    Taught in: notebooks/06_separate_your_song.ipynb

    Parameters
    ----------
    n_samples, chunk_length, overlap_length : int
        As in :func:`chunk_starts`.

    Returns
    -------
    positions : np.ndarray [shape=(n_chunks - 1,)], int
        Sample indices inside ``[0, n_samples)`` (windows reaching past the end hand over nowhere).
    """
    starts = chunk_starts(n_samples, chunk_length, overlap_length)
    positions = starts[1:] + overlap_length // 2
    return positions[(positions > 0) & (positions < n_samples)]


class Separator:
    """A U-Net with its STFT settings, ready to separate audio of any length, sample rate and channel count.

    Taught in: notebooks/06_separate_your_song.ipynb

    Parameters
    ----------
    model : keras.Model, str, os.PathLike or None
        A U-Net from :func:`helpers.models.unet`, a ``.keras`` file saved by :func:`helpers.training.train_unet`
        (its model card gives the sample rate and hop length), or ``None`` for the shipped checkpoint.
    targets : sequence of str or None
        Which of the model's outputs to separate; ``None`` means all of them.
    overlap : float in [0, 0.5]
        Share of each window that overlaps the next (0 gives back-to-back windows, as in notebook 05).
    wiener : bool
        Refine the masked estimates with one EM iteration of norbert's multichannel Wiener filter.
    batch_size : int > 0
        Windows per model call (each of them with all its channels).

    Attributes
    ----------
    targets : tuple of str
    sample_rate, n_fft, hop_length, n_frames : int
        The model's rate (Hz) and STFT; a window is ``n_frames`` frames.
    chunk_length, overlap_length : int
        Window and overlap lengths in samples at the model's rate.
    window : np.ndarray [shape=(chunk_length,)]
        The cross-fade (:func:`crossfade_window`).

    Raises
    ------
    ParameterError
        If the model file is missing or corrupt, a target is unknown or not among the model's outputs, or
        ``overlap`` or ``batch_size`` is out of range.
    """

    def __init__(self, model=None, targets=None, overlap: float = DEFAULT_OVERLAP, wiener: bool = False,
                 batch_size: int = 8):
        from helpers import models, training

        if not 0 <= overlap <= 0.5:
            raise ParameterError(f"overlap={overlap!r} must be in [0, 0.5]")
        if not isinstance(batch_size, (int, np.integer)) or batch_size <= 0:
            raise ParameterError(f"batch_size={batch_size!r} must be a positive integer")
        card = {}
        if model is None or isinstance(model, (str, os.PathLike)):
            model, card = training.load_unet(model)
        available = tuple(model.output)
        self.targets = available if targets is None else data.check_targets(targets)
        missing = [t for t in self.targets if t not in available]
        if missing:
            raise ParameterError(f"target {missing[0]!r} is not separated by this model; it separates "
                                 + ", ".join(available))
        settings = card.get("training", {})
        self.sample_rate = int(settings.get("sample_rate", spectral.SAMPLE_RATE))
        self.hop_length = int(settings.get("hop_length", spectral.HOP_LENGTH))
        self.n_fft = 2 * (int(model.input_shape[1]) - 1)
        self.n_frames = int(model.input_shape[2])
        self.chunk_length = (self.n_frames - 1) * self.hop_length  # a centred STFT gives exactly n_frames frames
        self.overlap_length = int(round(overlap * self.chunk_length))
        self.window = crossfade_window(self.chunk_length, self.overlap_length)
        self.wiener = bool(wiener)
        self.batch_size = int(batch_size)
        self._mask_model = models.unet_mask_model(model, self.targets)

    def separate_chunks(self, chunks: np.ndarray) -> dict:
        """Separate a batch of windows and weight them by the cross-fade (steps 4 and 5 of the module's recipe).

        Parameters
        ----------
        chunks : np.ndarray [shape=(n_chunks, n_channels, chunk_length)], float32, at the model's rate

        Returns
        -------
        estimates : dict[str, np.ndarray [shape=chunks.shape]], float32
            Each target's estimate, multiplied by :attr:`window`.
        """
        from helpers import masks as masks_module

        mixture_stft = spectral.stft(chunks, n_fft=self.n_fft, hop_length=self.hop_length)
        magnitude = np.abs(mixture_stft)
        patches = magnitude.reshape((-1,) + magnitude.shape[-2:] + (1,))
        n_patches = self.batch_size * chunks.shape[1]  # a short last batch is padded: no new trace of the model
        patches = np.pad(patches, ((0, max(0, n_patches - len(patches))), (0, 0), (0, 0), (0, 0)))
        predicted = self._mask_model.predict_on_batch(patches)
        masks = {t: np.asarray(predicted[t])[:magnitude[..., 0, 0].size].reshape(magnitude.shape)
                 for t in self.targets}
        if self.wiener:
            residual = np.clip(1 - sum(masks.values()), 0, 1)
            estimates_stft = {t: np.empty_like(mixture_stft) for t in self.targets}
            for i in range(len(chunks)):
                magnitudes = {t: masks[t][i] * magnitude[i] for t in self.targets}
                magnitudes["_residual"] = residual[i] * magnitude[i]
                filtered = masks_module.wiener(magnitudes, mixture_stft[i], iterations=1)
                for t in self.targets:
                    estimates_stft[t][i] = filtered[t]
        else:
            estimates_stft = {t: masks[t] * mixture_stft for t in self.targets}
        return {t: spectral.istft(s, hop_length=self.hop_length, length=self.chunk_length) * self.window
                for t, s in estimates_stft.items()}

    def stream(self, blocks, sample_rate: int, n_channels: int):
        """Separate a stream of audio blocks; memory stays flat whatever the total length.

        Parameters
        ----------
        blocks : iterable of np.ndarray [shape=(n_channels, n_samples_i)], float32
            Consecutive pieces of the input (any sizes).
        sample_rate : int > 0
            Of the input, in Hz.
        n_channels : int > 0

        Yields
        ------
        mixture : np.ndarray [shape=(n_channels, k)]
            The next ``k`` input samples ...
        estimates : dict[str, np.ndarray [shape=(n_channels, k)]], float32
            ... and every target's estimate of them, at the input's rate. Over the whole stream the pieces add up
            to the input's length.
        """
        import soxr

        resampling = sample_rate != self.sample_rate
        if resampling:
            down = soxr.ResampleStream(sample_rate, self.sample_rate, n_channels, dtype=np.float32, quality="HQ")
            ups = {t: soxr.ResampleStream(self.sample_rate, sample_rate, n_channels, dtype=np.float32, quality="HQ")
                   for t in self.targets}
        hop, overlap, length = self.chunk_length - self.overlap_length, self.overlap_length, self.chunk_length
        buffer = np.zeros((n_channels, overlap), dtype=np.float32)  # model-rate input from the next window's start
        tails = {t: np.zeros((n_channels, overlap), dtype=np.float32) for t in self.targets}  # overlaps to fade in
        ready = {t: np.zeros((n_channels, 0), dtype=np.float32) for t in self.targets}  # estimates at input rate
        pending = []  # input blocks whose estimates are not out yet
        n_pending = n_model = n_estimated = n_chunks_done = 0
        lead_in = overlap  # the first window starts `overlap` samples before the input; those are dropped

        for block, last in _with_last(blocks, n_channels):
            pending.append(block)
            n_pending += block.shape[1]
            x = _resample(down, block, last) if resampling else block
            n_model += x.shape[1]
            buffer = np.concatenate([buffer, x], axis=1)
            if last:  # zero-pad the windows still needed to cover the input's end
                n_chunks = len(chunk_starts(n_model, length, overlap)) - n_chunks_done
                buffer = np.pad(buffer, ((0, 0), (0, max(0, (n_chunks - 1) * hop + length - buffer.shape[1]))))
            else:  # whole batches only, so the model sees one batch shape
                n_chunks = max(0, (buffer.shape[1] - length) // hop + 1) // self.batch_size * self.batch_size
            finished = {t: [np.zeros((n_channels, 0), dtype=np.float32)] for t in self.targets}
            for first in range(0, n_chunks, self.batch_size):
                count = min(self.batch_size, n_chunks - first)
                chunks = np.stack([buffer[:, (first + j) * hop:(first + j) * hop + length] for j in range(count)])
                for t, windows in self.separate_chunks(chunks).items():
                    for y in windows:  # overlap-add: fade this window in over the previous one's tail
                        y[:, :overlap] += tails[t]
                        finished[t].append(y[:, :hop])
                        tails[t] = y[:, hop:]
            buffer = buffer[:, n_chunks * hop:]
            n_chunks_done += n_chunks
            skip = lead_in if n_chunks else 0
            lead_in -= skip
            n_new = n_model - n_estimated if last else n_chunks * hop - skip  # the end's zero padding is dropped
            for t in self.targets:
                y = np.concatenate(finished[t], axis=1)[:, skip:skip + n_new]
                y = _resample(ups[t], y, last) if resampling else y
                ready[t] = np.concatenate([ready[t], y], axis=1)
            n_estimated += n_new
            n_out = n_pending if last else min(n_pending, min(y.shape[1] for y in ready.values()))
            if last:  # a resampler may end a sample or two off the input's length
                ready = {t: _fit(y, n_out) for t, y in ready.items()}
            if n_out:
                mixture = np.concatenate(pending, axis=1)
                pending, n_pending = [mixture[:, n_out:]], n_pending - n_out
                yield mixture[:, :n_out], {t: y[:, :n_out] for t, y in ready.items()}
                ready = {t: y[:, n_out:] for t, y in ready.items()}

    def __call__(self, audio: np.ndarray, sample_rate: int) -> dict:
        """Separate a whole signal held in memory; see :func:`separate`."""
        mixture = audio[None] if audio.ndim == 1 else audio
        blocks = (mixture[:, i:i + BLOCK_LENGTH] for i in range(0, mixture.shape[1], BLOCK_LENGTH))
        pieces = {t: [] for t in self.targets}
        for _, estimates in self.stream(blocks, sample_rate, mixture.shape[0]):
            for t, y in estimates.items():
                pieces[t].append(y)
        return {t: np.concatenate(p, axis=1).reshape(audio.shape) for t, p in pieces.items()}


def _with_last(blocks, n_channels):
    """Yield ``(block, is_last)``; an empty last block flushes the stream."""
    for block in blocks:
        block = np.asarray(block, dtype=np.float32)
        if block.ndim != 2 or block.shape[0] != n_channels:
            raise ParameterError(f"a block has shape {block.shape}; expected ({n_channels}, n_samples)")
        if block.shape[1]:
            yield block, False
    yield np.zeros((n_channels, 0), dtype=np.float32), True


def _resample(stream, x, last):
    if not x.shape[1] and not last:
        return x
    return np.ascontiguousarray(stream.resample_chunk(np.ascontiguousarray(x.T), last=last).T)


def _fit(y, n):
    """Trim or zero-pad the last samples so a stream ends exactly where its input did."""
    return y[:, :n] if y.shape[1] >= n else np.pad(y, ((0, 0), (0, n - y.shape[1])))


@functools.lru_cache(maxsize=4)
def _shipped_separator(targets, overlap, wiener):
    return Separator(None, targets, overlap, wiener)


def separate(audio: np.ndarray, sample_rate: int, targets=("vocals", "drums"), model=None,
             residual: str | None = None, overlap: float = DEFAULT_OVERLAP, wiener: bool = False) -> dict:
    """Separate target stems from a song held in memory, at its own sample rate and channel count.

    Taught in: notebooks/06_separate_your_song.ipynb

    Parameters
    ----------
    audio : np.ndarray [shape=(n_samples,) or (n_channels, n_samples)], float
        The mixture; each channel is separated on its own (see the module's notes on channels and bandwidth).
    sample_rate : int > 0
        Of ``audio``, in Hz; any rate (the model's own is used inside).
    targets : sequence of str
        Stems to separate; each must be an output of the model.
    model : keras.Model, str, os.PathLike, Separator or None
        ``None`` uses the shipped checkpoint (loaded once, then cached).
    residual : str or None
        If given, also return the mixture minus the targets under this name (e.g. ``"accompaniment"``).
    overlap : float in [0, 0.5]
        Share of each window that overlaps the next.
    wiener : bool
        Refine with a multichannel Wiener filter (norbert).

    Returns
    -------
    estimates : dict[str, np.ndarray [shape=audio.shape]], float32
        One estimate per target (and the residual), at ``sample_rate``. Silent input gives silent estimates and a
        warning.

    Raises
    ------
    ParameterError
        If the audio is invalid (see :func:`helpers.audio.validate_audio`), ``sample_rate`` is not a positive
        integer, a target is unknown or not among the model's outputs, ``residual`` repeats a target's name, or the
        model cannot be loaded.

    Examples
    --------
    >>> from helpers import audio, separate
    >>> mixture, sample_rate = audio.load("song.wav")                    # doctest: +SKIP
    >>> stems = separate.separate(mixture, sample_rate, residual="accompaniment")  # doctest: +SKIP
    """
    audio_io.validate_audio(audio)
    if not isinstance(sample_rate, (int, np.integer)) or sample_rate <= 0:
        raise ParameterError(f"sample_rate={sample_rate!r} must be a positive integer")
    targets = data.check_targets(targets)
    if residual is not None and residual in targets:
        raise ParameterError(f"residual={residual!r} is also a target's name")
    if isinstance(model, Separator):
        separator = model
        missing = [t for t in targets if t not in separator.targets]
        if missing:
            raise ParameterError(f"target {missing[0]!r} is not separated by this separator; it separates "
                                 + ", ".join(separator.targets))
    elif model is None:
        separator = _shipped_separator(targets, overlap, wiener)
    else:
        separator = Separator(model, targets, overlap, wiener)
    if not np.any(audio):
        warnings.warn("the audio is silent: every estimate is silent", stacklevel=2)
    mixture = audio.astype(np.float32, copy=False)
    estimates = {t: y for t, y in separator(mixture, int(sample_rate)).items() if t in targets}
    if residual is not None:
        estimates[residual] = mixture - sum(estimates.values())
    return estimates


def residual_name(targets) -> str:
    """The residual's default name: ``bassless`` or ``drumless`` for those single targets, else ``accompaniment``.

    Taught in: notebooks/06_separate_your_song.ipynb
    """
    targets = tuple(targets)
    return RESIDUAL_NAMES.get(targets[0], DEFAULT_RESIDUAL) if len(targets) == 1 else DEFAULT_RESIDUAL


def output_paths(song, out_dir, targets, residual: str) -> dict:
    """Where :func:`separate_file` writes a song's stems: ``out_dir/<song stem>/<name>.wav``.

    Taught in: notebooks/06_separate_your_song.ipynb

    Returns
    -------
    paths : dict[str, pathlib.Path]
        Target and residual names to paths, in writing order.
    """
    folder = Path(out_dir) / Path(song).stem
    return {name: folder / f"{name}.wav" for name in (*targets, residual)}


def check_outputs(songs, out_dir, targets, residual: str, overwrite: bool = False) -> dict:
    """Check every output path before anything is written; see :func:`main` for the rules.

    Taught in: notebooks/06_separate_your_song.ipynb

    Returns
    -------
    outputs : dict[pathlib.Path, dict[str, pathlib.Path]]
        Each song's :func:`output_paths`.

    Raises
    ------
    ParameterError
        If ``out_dir`` (or a song's folder in it) is not a writable folder, two songs would write to the same
        folder, an output path is one of the inputs, an output exists and ``overwrite`` is False, or the residual's
        name is not a plain file name or repeats a target's.
    """
    if not residual or Path(residual).name != residual or residual.startswith("."):
        raise ParameterError(f"residual name {residual!r} must be a plain file name")
    if residual in targets:
        raise ParameterError(f"residual name {residual!r} is also a target's name")
    out_dir = Path(out_dir)
    existing = out_dir
    while not existing.exists():
        existing = existing.parent
    if not existing.is_dir():
        raise ParameterError(f"--out {out_dir}: {existing} is not a folder")
    if not os.access(existing, os.W_OK | os.X_OK):
        raise ParameterError(f"--out {out_dir}: {existing} is not writable")
    inputs = {Path(song).resolve() for song in songs}
    outputs, folders = {}, {}
    for song in songs:
        paths = output_paths(song, out_dir, targets, residual)
        folder = next(iter(paths.values())).parent
        if folder.resolve() in folders:
            raise ParameterError(f"{song} and {folders[folder.resolve()]} would both write to {folder}; "
                                 "rename one or separate them one at a time")
        folders[folder.resolve()] = song
        if folder.exists() and not folder.is_dir():
            raise ParameterError(f"{folder}: exists and is not a folder")
        for path in paths.values():
            if path.resolve() in inputs:
                raise ParameterError(f"{path}: the output would overwrite an input; choose another --out")
            if path.exists() and not overwrite:
                raise ParameterError(f"{path}: exists (pass --overwrite to replace it)")
            if path.is_dir():
                raise ParameterError(f"{path}: is a folder")
        outputs[Path(song)] = paths
    return outputs


def separate_file(song, paths: dict, separator: Separator, progress: bool = True) -> dict:
    """Separate one audio file into the given paths, streaming: temporary files, renamed when all are complete.

    A failure or an interrupt leaves no output of this song behind (and the input is only read).

    Taught in: notebooks/06_separate_your_song.ipynb

    Parameters
    ----------
    song : str or os.PathLike
        Any file libsndfile reads; checked with :func:`helpers.audio.check_file` first.
    paths : dict[str, pathlib.Path]
        :func:`output_paths`: one per target of ``separator``, then the residual's (last).
    separator : Separator
    progress : bool
        A tqdm progress bar (seconds of audio).

    Returns
    -------
    report : dict
        ``paths``, ``seconds`` (audio duration), ``sample_rate``, ``n_channels``, ``silent`` (bool) and
        ``sum_error`` (max |stems + residual − input| over the samples written; float32 rounding).

    Raises
    ------
    ParameterError
        If the file is not usable audio.
    """
    from tqdm.auto import tqdm

    song = Path(song)
    info = audio_io.check_file(song, scan=False)  # the blocks are checked for NaN/Inf as they come
    folder = next(iter(paths.values())).parent
    made = [f for f in (folder, *folder.parents) if not f.exists()]  # folders this call creates
    residual = list(paths)[-1]
    peak = sum_error = 0.0
    try:
        bar_format = "{desc}: {percentage:3.0f}%|{bar}| {n:.1f}/{total:.1f} s [{elapsed}<{remaining}]"
        with audio_io.writers(paths, info.samplerate, info.channels) as files, \
                tqdm(total=round(info.duration, 1), unit="s", desc=song.name, disable=not progress,
                     bar_format=bar_format) as bar:
            for mixture, estimates in separator.stream(_file_blocks(song), info.samplerate, info.channels):
                stems = sum(estimates[t] for t in paths if t != residual)
                rest = mixture - stems
                for name, f in files.items():
                    f.write((rest if name == residual else estimates[name]).T)
                peak = max(peak, float(np.abs(mixture).max()))
                sum_error = max(sum_error, float(np.abs(stems + rest - mixture).max()))
                bar.update(mixture.shape[1] / info.samplerate)
    except BaseException:
        for f in made:  # innermost first; only if still empty
            if f.is_dir() and not any(f.iterdir()):
                f.rmdir()
        raise
    return {"paths": dict(paths), "seconds": info.duration, "sample_rate": info.samplerate,
            "n_channels": info.channels, "silent": peak == 0, "sum_error": sum_error}


def _file_blocks(song):
    """A file's samples as ``(n_channels, BLOCK_LENGTH)`` float32 blocks, each checked for NaN/Inf."""
    import soundfile as sf

    for block in sf.blocks(str(song), blocksize=BLOCK_LENGTH, dtype="float32", always_2d=True):
        if not np.all(np.isfinite(block)):
            raise ParameterError(f"{song}: contains non-finite samples (NaN or Inf)")
        yield block.T


def parse_args(argv=None):
    """Parse the ``separate`` command line (see ``separate --help``)."""
    parser = argparse.ArgumentParser(
        prog="separate",
        description="Separate songs into stems with the course's U-Net. Writes DIR/<song>/<target>.wav at the "
                    "song's sample rate and channel count, plus the residual (the song minus the targets), so "
                    "the files add up to the song.",
        epilog="Each channel is separated on its own (stereo in, stereo out; 5.1 in, 5.1 out); the stems hold "
               "what the model's rate carries (up to 11 kHz for the shipped model) and the rest stays in the "
               "residual. Exit status: 0 on success, 2 on bad input (nothing written).")
    parser.add_argument("songs", nargs="+", type=Path, metavar="SONG", help="audio files (WAV, FLAC, OGG, ...)")
    parser.add_argument("--targets", nargs="+", default=None, metavar="TARGET",
                        help="stems to separate (default: all the model's, vocals drums for the shipped one)")
    parser.add_argument("--out", type=Path, default=Path("separated"), metavar="DIR",
                        help="output folder (default: %(default)s)")
    parser.add_argument("--model", type=Path, default=None, metavar="PATH",
                        help="a .keras U-Net from `python -m helpers.train` (default: the shipped checkpoint)")
    parser.add_argument("--residual", default=None, metavar="NAME",
                        help="the residual's file name (default: accompaniment; bassless for --targets bass, "
                             "drumless for --targets drums)")
    parser.add_argument("--wiener", action="store_true", help="refine with a multichannel Wiener filter (norbert)")
    parser.add_argument("--overlap", type=float, default=DEFAULT_OVERLAP,
                        help="share of each 1.5-s window that overlaps the next, 0 to 0.5 (default: %(default)s)")
    parser.add_argument("--overwrite", action="store_true", help="replace existing outputs")
    parser.add_argument("--quiet", action="store_true", help="no progress bars or summary lines")
    return parser.parse_args(argv)


def main(argv=None) -> int:
    """The ``separate`` command: every input, the model and every output path are checked before anything is written.

    Bad input — a missing, empty, truncated or non-audio file, a folder, NaN/Inf samples, an unknown target, a
    missing or corrupt model, an unwritable output folder, an output that is an input or exists already (without
    ``--overwrite``) — prints one line ``separate: error: ...`` on stderr and exits with 2, writing nothing.

    Taught in: notebooks/06_separate_your_song.ipynb

    Returns
    -------
    status : int
        0 on success, 2 on bad input.
    """
    args = parse_args(argv)
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
    try:
        return _run(args)
    except ParameterError as exc:
        print(f"separate: error: {exc}", file=sys.stderr)
        return 2


@contextlib.contextmanager
def _native_stderr_silenced():
    """Send file descriptor 2 to /dev/null: TensorFlow's C++ start-up logs ignore ``TF_CPP_MIN_LOG_LEVEL``."""
    sys.stderr.flush()
    saved, devnull = os.dup(2), os.open(os.devnull, os.O_WRONLY)
    os.dup2(devnull, 2)
    try:
        yield
    finally:
        os.dup2(saved, 2)
        os.close(saved)
        os.close(devnull)


def _run(args) -> int:
    targets = None if args.targets is None else data.check_targets(args.targets)
    for song in args.songs:
        audio_io.check_file(song)
    with _native_stderr_silenced():  # importing TensorFlow and loading the model (errors are printed after)
        separator = Separator(args.model, targets, overlap=args.overlap, wiener=args.wiener)
    residual = args.residual or residual_name(separator.targets)
    outputs = check_outputs(args.songs, args.out, separator.targets, residual, overwrite=args.overwrite)
    for song, paths in outputs.items():
        report = separate_file(song, paths, separator, progress=not args.quiet)
        if report["silent"]:
            print(f"separate: warning: {song} is silent; its stems are silent", file=sys.stderr)
        if not args.quiet:
            print(f"{song} -> {paths[residual].parent}/ ({', '.join(paths)}; "
                  f"max |stems + residual - song| = {report['sum_error']:.1e})")
    return 0


if __name__ == "__main__":
    sys.exit(main())
