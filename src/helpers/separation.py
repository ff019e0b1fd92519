"""Run the course's models on mixtures: the streaming separator, the functional API, and each model's own loop.

The functional API is :func:`separate` (``audio, sample_rate, targets -> {target: estimate}``), after Open-Unmix;
:func:`separate_file` separates a whole file into stem files (the ``separate`` command of :mod:`helpers.separate`
is a thin layer over it). Both run one stream, :meth:`Separator.stream`:

1. the audio arrives in blocks (from a file, never loaded whole);
2. a streaming soxr resampler takes it to the model's rate (read from the model's settings, see
   :func:`helpers.models.settings`); the output is identical to resampling the whole song at once;
3. it is cut into **segments** of the model's length (``n_frames`` STFT frames, about 1.5 s) that **overlap**;
4. each segment and channel is transformed (STFT), masked by the U-Net (one mask per target), optionally refined
   with a multichannel Wiener filter (norbert), and transformed back (ISTFT);
5. the segments are **cross-faded** (:mod:`helpers.segments`): linear ramps over each overlap, summing to one;
6. a second resampler takes the estimates back to the input's rate;
7. the **residual** (``accompaniment``, or e.g. ``bassless``) is the input minus the targets, so the stems plus the
   residual add up to the input exactly (up to float32 rounding).

Channels: the U-Net is a mono model, so every channel is separated on its own: stereo in, stereo out; a 5.1 file
gives 5.1 stems. With ``wiener=True`` the channels are filtered jointly (norbert's multichannel Wiener filter).
Bandwidth: the stems hold what the model's rate can carry. The shipped model runs at 44.1 kHz and writes full-band
stems (it models 0–11 kHz and extends its masks above, :class:`helpers.models.MaskExtension`); a model trained at
22.05 kHz leaves everything above 11.025 kHz of a 44.1-kHz file to the residual.

The simpler loops of notebooks 02, 04 and 05 live here too: :func:`separate_waveform` (waveform FNN, windowed
overlap-add), :func:`separate_spectrogram_fnn`, and :func:`unet_masks` (a U-Net's masks over a whole spectrogram,
back-to-back segments).

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

import functools
import os
import time
import warnings
from collections import defaultdict
from pathlib import Path

import keras
import numpy as np

from helpers import audio as audio_io
from helpers import models, segments, spectral
from helpers.config import DEFAULT_OVERLAP, check_targets
from helpers.exceptions import ParameterError, check_int

#: Frames read from a file per block.
BLOCK_LENGTH = 1 << 16


class Separator:
    """A U-Net or a Wave-U-Net with its settings, ready to separate audio of any length, rate and channel count.

    Everything it needs (sample rate, STFT, segment length, targets) comes from the model's own settings
    (:func:`helpers.models.settings`), never from a default. A spectrogram U-Net's masks multiply each segment's
    STFT (step 4 of the module's recipe); a Wave-U-Net gives each segment's target waveforms directly.

    Taught in: notebooks/06_separate_your_song.ipynb

    Parameters
    ----------
    model : keras.Model, str, os.PathLike or None
        A U-Net from :func:`helpers.models.unet` or a Wave-U-Net from :func:`helpers.models.wave_unet`, a
        ``.keras`` file saved by :func:`helpers.models.save` (as the training functions and ``python -m
        helpers.train`` do), or ``None`` for the shipped U-Net.
    targets : sequence of str or None
        Which of the model's outputs to separate; ``None`` means all of them.
    overlap : float in [0, 0.5]
        Share of each segment that overlaps the next (0 gives back-to-back segments, as in notebook 05).
    wiener : bool
        Refine the masked estimates with one EM iteration of norbert's multichannel Wiener filter (U-Net only).
    batch_size : int > 0
        Segments per model call (each of them with all its channels).

    Attributes
    ----------
    targets : tuple of str
    architecture : str
        ``"unet"`` or ``"wave_unet"``.
    sample_rate : int
        The model's rate, Hz.
    n_fft, hop_length, n_frames : int or None
        The U-Net's STFT; a segment is ``n_frames`` frames (None for a Wave-U-Net).
    window : str or None
        The STFT's window.
    segment_length, overlap_length : int
        Segment and overlap lengths in samples at the model's rate.
    weights : np.ndarray [shape=(segment_length,)]
        The cross-fade (:func:`helpers.segments.crossfade_weights`).
    network : keras.Model
        The network the separator runs on each batch of segments: for a U-Net, magnitudes
        ``(batch, n_bins, n_frames, 1)`` in and one mask per target out (:func:`helpers.models.unet_mask_model`);
        for a Wave-U-Net, waveforms ``(batch, segment_length, 1)`` in and out. For timing the model alone.
    timings : dict[str, float]
        Seconds spent so far in each stage: ``resample in``, ``STFT``, ``model``, ``Wiener``, ``ISTFT``
        (with the cross-fade), ``resample out``. :meth:`reset_timings` clears it; the benchmarks read it.

    Raises
    ------
    ParameterError
        If the model file is missing, corrupt or carries no settings, it is neither a U-Net nor a Wave-U-Net, a
        target is unknown or not among the model's outputs, ``wiener`` is asked of a Wave-U-Net, or ``overlap`` or
        ``batch_size`` is out of range.
    """

    def __init__(self, model=None, targets=None, overlap: float = DEFAULT_OVERLAP, wiener: bool = False,
                 batch_size: int = 8):
        if not 0 <= overlap <= 0.5:
            raise ParameterError(f"overlap={overlap!r} must be in [0, 0.5]")
        self.batch_size = check_int("batch_size", batch_size)
        if model is None or isinstance(model, (str, os.PathLike)):
            model = models.load(model)
        settings = models.settings(model)
        self.architecture = settings["architecture"]
        if self.architecture not in ("unet", "wave_unet"):
            raise ParameterError(f"model {model.name!r} is a {self.architecture}; the separator runs a U-Net or a "
                                 "Wave-U-Net")
        if wiener and self.architecture == "wave_unet":
            raise ParameterError("wiener=True refines masks; a Wave-U-Net predicts waveforms, not masks")
        available = tuple(settings["targets"])
        self.targets = available if targets is None else check_targets(targets)
        missing = [t for t in self.targets if t not in available]
        if missing:
            raise ParameterError(f"target {missing[0]!r} is not separated by this model; it separates "
                                 + ", ".join(available))
        self.sample_rate = settings["sample_rate"]
        self.n_fft, self.hop_length = settings.get("n_fft"), settings.get("hop_length")
        self.window, self.n_frames = settings.get("window"), settings.get("n_frames")
        if self.architecture == "unet":
            self.segment_length = (self.n_frames - 1) * self.hop_length  # a centred STFT gives n_frames frames
            self.network = models.unet_mask_model(model, self.targets)
        else:
            self.segment_length = settings["segment_length"]
            self.network = keras.Model(model.input, {t: model.output[t] for t in self.targets},
                                       name=f"{model.name}_targets")
        self.overlap_length = int(round(overlap * self.segment_length))
        self.weights = segments.crossfade_weights(self.segment_length, self.overlap_length)
        self.wiener = bool(wiener)
        self.reset_timings()

    def reset_timings(self) -> None:
        """Clear :attr:`timings`."""
        self.timings = defaultdict(float)

    def predict(self, batch: np.ndarray) -> dict:
        """Run :attr:`network` on one batch (the ``model`` stage, timed).

        Parameters
        ----------
        batch : np.ndarray, float32
            U-Net: magnitudes ``(batch, n_bins, n_frames, 1)``; Wave-U-Net: waveforms ``(batch, segment_length, 1)``.

        Returns
        -------
        outputs : dict[str, np.ndarray [shape=batch.shape]]
            U-Net: masks in [0, 1]; Wave-U-Net: the targets' waveforms.
        """
        start = time.perf_counter()
        predicted = self.network.predict_on_batch(batch)
        outputs = {t: np.asarray(predicted[t]) for t in self.targets}
        self.timings["model"] += time.perf_counter() - start
        return outputs

    def separate_segments(self, mixture_segments: np.ndarray) -> dict:
        """Separate a batch of segments and weight them by the cross-fade (steps 4 and 5 of the module's recipe).

        Parameters
        ----------
        mixture_segments : np.ndarray [shape=(n_segments, n_channels, segment_length)], float32, at the model's rate

        Returns
        -------
        estimates : dict[str, np.ndarray [shape=mixture_segments.shape]], float32
            Each target's estimate, multiplied by :attr:`weights`.
        """
        from helpers import masks as masks_module

        if self.architecture == "wave_unet":
            return self._separate_waveforms(mixture_segments)
        timings, start = self.timings, time.perf_counter()
        mixture_stft = spectral.stft(mixture_segments, n_fft=self.n_fft, hop_length=self.hop_length,
                                     window=self.window)
        magnitude = np.abs(mixture_stft)
        timings["STFT"] += time.perf_counter() - start
        patches = magnitude.reshape((-1,) + magnitude.shape[-2:] + (1,))
        n_patches = self.batch_size * mixture_segments.shape[1]  # a short last batch is padded: no new trace
        patches = np.pad(patches, ((0, max(0, n_patches - len(patches))), (0, 0), (0, 0), (0, 0)))
        masks = {t: m[:magnitude[..., 0, 0].size].reshape(magnitude.shape)
                 for t, m in self.predict(patches).items()}
        start = time.perf_counter()
        if self.wiener:
            residual = np.clip(1 - sum(masks.values()), 0, 1)
            estimates_stft = {t: np.empty_like(mixture_stft) for t in self.targets}
            for i in range(len(mixture_segments)):
                magnitudes = {t: masks[t][i] * magnitude[i] for t in self.targets}
                magnitudes["_residual"] = residual[i] * magnitude[i]
                filtered = masks_module.wiener(magnitudes, mixture_stft[i], iterations=1)
                for t in self.targets:
                    estimates_stft[t][i] = filtered[t]
            timings["Wiener"] += time.perf_counter() - start
            start = time.perf_counter()
        else:  # masked in the STFT's frames-first memory layout, so the ISTFT needs no transposed copy
            frames_first = np.swapaxes(mixture_stft, -1, -2)
            estimates_stft = {t: np.multiply(frames_first, np.swapaxes(masks[t], -1, -2), order="C").swapaxes(-1, -2)
                              for t in self.targets}
        estimates = {t: spectral.istft(s, hop_length=self.hop_length, window=self.window,
                                       length=self.segment_length) * self.weights
                     for t, s in estimates_stft.items()}
        timings["ISTFT"] += time.perf_counter() - start
        return estimates

    def _separate_waveforms(self, mixture_segments: np.ndarray) -> dict:
        """Step 4 for a Wave-U-Net: the segments' channels through the network, weighted by the cross-fade."""
        waveforms = mixture_segments.reshape(-1, self.segment_length, 1)
        n_rows = self.batch_size * mixture_segments.shape[1]  # a short last batch is padded: no new trace
        waveforms = np.pad(waveforms, ((0, max(0, n_rows - len(waveforms))), (0, 0), (0, 0)))
        return {t: y[:mixture_segments.shape[0] * mixture_segments.shape[1]].reshape(mixture_segments.shape)
                * self.weights for t, y in self.predict(waveforms).items()}

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
        hop, overlap, length = self.segment_length - self.overlap_length, self.overlap_length, self.segment_length
        buffer = np.zeros((n_channels, overlap), dtype=np.float32)  # model-rate input from the next segment's start
        tails = {t: np.zeros((n_channels, overlap), dtype=np.float32) for t in self.targets}  # overlaps to fade in
        ready = {t: np.zeros((n_channels, 0), dtype=np.float32) for t in self.targets}  # estimates at input rate
        pending = []  # input blocks whose estimates are not out yet
        n_pending = n_model = n_estimated = n_segments_done = 0
        lead_in = overlap  # the first segment starts `overlap` samples before the input; those are dropped

        for block, last in _with_last(blocks, n_channels):
            pending.append(block)
            n_pending += block.shape[1]
            start = time.perf_counter()
            x = _resample(down, block, last) if resampling else block
            self.timings["resample in"] += time.perf_counter() - start
            n_model += x.shape[1]
            buffer = np.concatenate([buffer, x], axis=1)
            if last:  # zero-pad the segments still needed to cover the input's end
                n_segments = len(segments.segment_starts(n_model, length, overlap)) - n_segments_done
                buffer = np.pad(buffer, ((0, 0), (0, max(0, (n_segments - 1) * hop + length - buffer.shape[1]))))
            else:  # whole batches only, so the model sees one batch shape
                n_segments = max(0, (buffer.shape[1] - length) // hop + 1) // self.batch_size * self.batch_size
            finished = {t: [np.zeros((n_channels, 0), dtype=np.float32)] for t in self.targets}
            for first in range(0, n_segments, self.batch_size):
                count = min(self.batch_size, n_segments - first)
                batch = np.stack([buffer[:, (first + j) * hop:(first + j) * hop + length] for j in range(count)])
                for t, estimates in self.separate_segments(batch).items():
                    for y in estimates:  # overlap-add: fade this segment in over the previous one's tail
                        y[:, :overlap] += tails[t]
                        finished[t].append(y[:, :hop])
                        tails[t] = y[:, hop:]
            buffer = buffer[:, n_segments * hop:]
            n_segments_done += n_segments
            skip = lead_in if n_segments else 0
            lead_in -= skip
            n_new = n_model - n_estimated if last else n_segments * hop - skip  # the end's zero padding is dropped
            start = time.perf_counter()
            for t in self.targets:
                y = np.concatenate(finished[t], axis=1)[:, skip:skip + n_new]
                y = _resample(ups[t], y, last) if resampling else y
                ready[t] = np.concatenate([ready[t], y], axis=1)
            self.timings["resample out"] += time.perf_counter() - start
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
        Share of each segment that overlaps the next.
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
    >>> from helpers import audio, separation
    >>> mixture, sample_rate = audio.load("song.wav")                    # doctest: +SKIP
    >>> stems = separation.separate(mixture, sample_rate, residual="accompaniment")  # doctest: +SKIP
    """
    audio_io.validate_audio(audio)
    check_int("sample_rate", sample_rate)
    targets = check_targets(targets)
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


def output_paths(song, out_dir, targets, residual: str) -> dict:
    """Where :func:`separate_file` writes a song's stems: ``out_dir/<song stem>/<name>.wav``.

    Returns
    -------
    paths : dict[str, pathlib.Path]
        Target and residual names to paths, in writing order.
    """
    folder = Path(out_dir) / Path(song).stem
    return {name: folder / f"{name}.wav" for name in (*targets, residual)}


def check_outputs(songs, out_dir, targets, residual: str, overwrite: bool = False) -> dict:
    """Check every output path before anything is written (the ``separate`` command's rules).

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


def separate_file(song, paths: dict, separator: Separator, progress: bool = True, on_progress=None) -> dict:
    """Separate one audio file into the given paths, streaming: temporary files, renamed when all are complete.

    A failure or an interrupt leaves no output of this song behind (and the input is only read).

    Parameters
    ----------
    song : str or os.PathLike
        Any file libsndfile reads; checked with :func:`helpers.audio.check_file` first.
    paths : dict[str, pathlib.Path]
        :func:`output_paths`: one per target of ``separator``, then the residual's (last).
    separator : Separator
    progress : bool
        A tqdm progress bar (seconds of audio).
    on_progress : callable or None
        Called with the share of the song done so far (a float in [0, 1]) after every block (the web app's
        progress bar).

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
    done = 0
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
                done += mixture.shape[1]
                if on_progress is not None:
                    on_progress(done / max(info.frames, 1))
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


def separate_waveform(model, mixture: np.ndarray, frame_length: int, hop_length: int) -> dict:
    """Run the waveform FNN over a whole mono signal: frame, predict, window, overlap-add.

    The mixture is padded by one frame on both sides so every sample is covered by two Hann-weighted frames
    (``hop_length = frame_length / 2``: the periodic Hann sums to one).

    Taught in: notebooks/02_waveform_fnn.ipynb

    Parameters
    ----------
    model : keras.Model
        From :func:`helpers.models.waveform_fnn`.
    mixture : np.ndarray [shape=(n_samples,)]
    frame_length, hop_length : int

    Returns
    -------
    estimates : dict[str, np.ndarray [shape=(n_samples,)]], float32

    Raises
    ------
    ParameterError
        If ``hop_length`` is not ``frame_length // 2``.
    """
    import scipy.signal

    if hop_length * 2 != frame_length:
        raise ParameterError(f"hop_length={hop_length} must be frame_length / 2 = {frame_length / 2}")
    n = mixture.shape[-1]
    n_padded = int(np.ceil((n + 2 * frame_length) / hop_length)) * hop_length
    padded = np.zeros(n_padded, dtype=np.float32)
    padded[frame_length : frame_length + n] = mixture
    x, _ = models.waveform_frames(padded, None, frame_length, hop_length)
    predictions = model.predict(x, batch_size=256, verbose=0)
    window = scipy.signal.get_window("hann", frame_length).astype(np.float32)
    return {name: spectral.overlap_add(frames * window, hop_length)[frame_length : frame_length + n]
            for name, frames in predictions.items()}


def separate_spectrogram_fnn(model, mixture: np.ndarray) -> dict:
    """Separate a (multichannel) mixture with the spectrogram FNN: each channel's STFT, masked, with its own phase.

    Taught in: notebooks/04_masks_and_spectrogram_fnn.ipynb

    Parameters
    ----------
    model : keras.Model
        From :func:`helpers.models.spectrogram_fnn`; its settings give the STFT and the context.
    mixture : np.ndarray [shape=(n_channels, n_samples) or (n_samples,)]
        At the model's sample rate.

    Returns
    -------
    estimates : dict[str, np.ndarray [shape=mixture.shape]], float32
    """
    settings = models.settings(model)
    n_fft, hop_length, window = settings["n_fft"], settings["hop_length"], settings["window"]
    mixture_stft = spectral.stft(mixture, n_fft=n_fft, hop_length=hop_length, window=window)
    magnitude, phase = spectral.magphase(mixture_stft)
    windows = models.context_windows(magnitude, settings["context"])  # (..., n_frames, 2c+1, n_bins)
    predictions = model.predict(windows.reshape(-1, *windows.shape[-2:]), batch_size=1024, verbose=0)
    estimates = {}
    for target, estimate in predictions.items():
        estimate = np.swapaxes(estimate.reshape(windows.shape[:-2] + (windows.shape[-1],)), -1, -2)
        estimate = np.minimum(estimate, magnitude)  # a mask never exceeds one
        estimates[target] = spectral.istft(estimate * phase, hop_length=hop_length, window=window,
                                           length=mixture.shape[-1])
    return estimates


def unet_masks(model, magnitude: np.ndarray, batch_size: int = 8) -> dict:
    """Predict each target's mask for a whole magnitude spectrogram, segment by segment (back to back).

    The spectrogram is cut into segments of the model's ``n_frames`` frames (the last zero-padded), each channel
    separately.

    Taught in: notebooks/05_unet_vocals_drums.ipynb

    Parameters
    ----------
    model : keras.Model
        From :func:`helpers.models.unet`.
    magnitude : np.ndarray [shape=(..., n_bins, n_total_frames)]
    batch_size : int > 0

    Returns
    -------
    masks : dict[str, np.ndarray [shape=magnitude.shape]], values in [0, 1]
    """
    n_frames = models.settings(model)["n_frames"]
    magnitude = np.asarray(magnitude, dtype=np.float32)
    lead, (n_bins, total) = magnitude.shape[:-2], magnitude.shape[-2:]
    flat = magnitude.reshape(-1, n_bins, total)
    n_segments = int(np.ceil(total / n_frames))
    padded = np.zeros((flat.shape[0], n_bins, n_segments * n_frames), dtype=np.float32)
    padded[..., :total] = flat
    patches = padded.reshape(flat.shape[0], n_bins, n_segments, n_frames).transpose(0, 2, 1, 3)
    patches = patches.reshape(-1, n_bins, n_frames, 1)
    predictions = model.predict(patches, batch_size=check_int("batch_size", batch_size), verbose=0)
    masks = {}
    for target, estimate in predictions.items():
        mask = estimate[..., 0] / np.maximum(patches[..., 0], 1e-8)
        mask = np.where(patches[..., 0] > 1e-8, mask, 0.0).clip(0, 1)
        mask = mask.reshape(flat.shape[0], n_segments, n_bins, n_frames).transpose(0, 2, 1, 3)
        masks[target] = mask.reshape(flat.shape[0], n_bins, -1)[..., :total].reshape(lead + (n_bins, total))
    return masks
