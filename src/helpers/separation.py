"""Run a registered model on mixtures of any length, rate and channel count: the streaming separator and the
functional API.

The functional API is :func:`separate` (``audio, sample_rate, targets -> {target: estimate}``), after Open-Unmix;
:func:`separate_file` separates a whole file into stem files (the ``separate`` command of :mod:`helpers.separate`
is a thin layer over it). Both run one stream, :meth:`Separator.stream`, in five named steps:

1. **read**: the audio arrives in blocks (from a file, never loaded whole) and a streaming soxr resampler takes it
   to the model's rate (read from the model's settings, see :func:`helpers.models.settings`); the output is
   identical to resampling the whole song at once;
2. **segment**: it is cut into **segments** of the model's length (for the shipped U-Net ``n_frames`` STFT frames,
   about 1.5 s) that **overlap**;
3. **separate**: each segment and channel goes through the model's separation network, fed what its declaration
   asks for (:class:`helpers.models.Architecture`): for a spectrogram model the STFT's magnitude, whose masks
   multiply the complex STFT (optionally refined with a multichannel Wiener filter, norbert) before the ISTFT;
   for a waveform model the samples themselves, whose outputs are the estimates;
4. **cross-fade**: the segments are joined with linear ramps over each overlap, summing to one
   (:mod:`helpers.segments`);
5. **write**: a second resampler takes the estimates back to the input's rate, and each piece is given out with
   the input it estimates. The **residual** (``accompaniment``, or e.g. ``bassless``) is the input minus the
   targets, so the stems plus the residual add up to the input exactly (up to float32 rounding).

Channels: the course's models are mono, so every channel is separated on its own: stereo in, stereo out; a 5.1
file gives 5.1 stems. With ``wiener=True`` the channels are filtered jointly (norbert's multichannel Wiener filter).
Bandwidth: the stems hold what the model's rate can carry. The shipped model runs at 44.1 kHz and writes full-band
stems (it models 0–11 kHz and extends its masks above, :class:`helpers.models.MaskExtension`); a model trained at
22.05 kHz leaves everything above 11.025 kHz of a 44.1-kHz file to the residual.

The simpler whole-signal loops of notebooks 02, 04 and 05 live with their models
(:func:`helpers.models.separate_waveform`, :func:`helpers.models.separate_spectrogram_fnn`,
:func:`helpers.models.unet_masks`).

Taught in: notebooks/05_unet_vocals_drums.ipynb, notebooks/06_separate_your_song.ipynb,
notebooks/07_time_domain.ipynb

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
import threading
import time
import warnings
from collections import defaultdict
from pathlib import Path

import numpy as np
import soundfile as sf
import soxr
from tqdm.auto import tqdm

from helpers import audio as audio_io
from helpers import masks as masks_module
from helpers import models, segments, spectral
from helpers.config import DEFAULT_OVERLAP, DEFAULT_TARGETS, check_targets
from helpers.exceptions import ParameterError, check_int

#: Frames read from a file per block.
BLOCK_LENGTH = 1 << 16


class Separator:
    """A registered model with its settings, ready to separate audio of any length, rate and channel count.

    Everything it needs (sample rate, STFT, segment length, targets) comes from the model's own settings
    (:func:`helpers.models.settings`), never from a default, and what it feeds the model and does with the output
    comes from the model's declaration (:func:`helpers.models.architecture`): it names no architecture.

    Thread safety: :meth:`predict` holds :attr:`lock` while the network runs, so one separator, or several
    separators given the same ``lock``, may be used from several threads at once (the web app's workers share one
    model this way); everything around the network call runs in parallel.

    Taught in: notebooks/05_unet_vocals_drums.ipynb, notebooks/06_separate_your_song.ipynb,
    notebooks/07_time_domain.ipynb

    Parameters
    ----------
    model : keras.Model, str, os.PathLike or None
        A model from a registered builder (e.g. :func:`helpers.models.unet`, :func:`helpers.models.wave_unet`), a
        ``.keras`` file saved by :func:`helpers.models.save` (as :func:`helpers.training.train` and ``python -m
        helpers.train`` do), or ``None`` for the shipped U-Net.
    targets : sequence of str or None
        Which of the model's outputs to separate; ``None`` means all of them.
    overlap : float in [0, 0.5]
        Share of each segment that overlaps the next (0 gives back-to-back segments, as in notebook 05).
    wiener : bool
        Refine the masked estimates with one EM iteration of norbert's multichannel Wiener filter (spectrogram
        models only).
    batch_size : int > 0
        Segments per model call (each of them with all its channels).
    lock : threading.Lock or None
        Held around every network call; ``None`` makes one of the separator's own.

    Attributes
    ----------
    targets : tuple of str
    architecture : helpers.models.Architecture
        The model's declaration.
    sample_rate : int
        The model's rate, Hz.
    n_fft, hop_length, n_frames : int or None
        A spectrogram model's STFT; a segment is ``n_frames`` frames (None for a waveform model).
    window : str or None
        The STFT's window.
    overlap : float
    segment_length, overlap_length : int
        Segment and overlap lengths in samples at the model's rate.
    weights : np.ndarray [shape=(segment_length,)]
        The cross-fade (:func:`helpers.segments.crossfade_weights`).
    network : keras.Model
        What the separator runs on each batch of segments (the declaration's
        :meth:`~helpers.models.Architecture.network`): for the U-Net, magnitudes ``(batch, n_bins, n_frames, 1)``
        in and one mask per target out (:func:`helpers.models.unet_mask_model`); for the Wave-U-Net, waveforms
        ``(batch, segment_length, 1)`` in and out. For timing the model alone.
    lock : threading.Lock
    timings : dict[str, float]
        Seconds spent so far in each stage: ``resample in``, ``STFT``, ``model``, ``Wiener``, ``ISTFT``
        (with the cross-fade), ``resample out``. :meth:`reset_timings` clears it; the benchmarks read it.

    Raises
    ------
    ParameterError
        If the model file is missing, corrupt or carries no settings, its architecture declares no separator input,
        a target is unknown or not among the model's outputs, ``wiener`` is asked of a waveform model, or
        ``overlap`` or ``batch_size`` is out of range.
    """

    def __init__(self, model=None, targets=None, *, overlap: float = DEFAULT_OVERLAP, wiener: bool = False,
                 batch_size: int = 8, lock=None):
        if not 0 <= overlap <= 0.5:
            raise ParameterError(f"overlap={overlap!r} must be in [0, 0.5]")
        self.batch_size = check_int("batch_size", batch_size)
        if model is None or isinstance(model, (str, os.PathLike)):
            model = models.load(model)
        settings = models.settings(model)
        self.architecture = models.architecture(settings["architecture"])
        if self.architecture.input is None:
            raise ParameterError(f"model {model.name!r} is a {self.architecture.name}, which declares no input for "
                                 "the separator (it is run by its own loop)")
        if wiener and self.architecture.output == "waveform":
            raise ParameterError(f"wiener=True refines masks; a {self.architecture.title} predicts waveforms")
        available = tuple(settings["targets"])
        self.targets = available if targets is None else check_targets(targets)
        missing = [t for t in self.targets if t not in available]
        if missing:
            raise ParameterError(f"target {missing[0]!r} is not separated by this model; it separates "
                                 + ", ".join(available))
        self.sample_rate = settings["sample_rate"]
        self.n_fft, self.hop_length = settings.get("n_fft"), settings.get("hop_length")
        self.window, self.n_frames = settings.get("window"), settings.get("n_frames")
        if self.architecture.input == "magnitude":
            self.segment_length = (self.n_frames - 1) * self.hop_length  # a centred STFT gives n_frames frames
        else:
            self.segment_length = settings["segment_length"]
        self.network = self.architecture.network(model, self.targets)
        self.overlap = float(overlap)
        self.overlap_length = int(round(overlap * self.segment_length))
        self.weights = segments.crossfade_weights(self.segment_length, self.overlap_length)
        self.wiener = bool(wiener)
        self.lock = threading.Lock() if lock is None else lock
        self.reset_timings()

    def reset_timings(self) -> None:
        """Clear :attr:`timings`."""
        self.timings = defaultdict(float)

    def predict(self, batch: np.ndarray) -> dict:
        """Run :attr:`network` on one batch, holding :attr:`lock` (the ``model`` stage, timed).

        Parameters
        ----------
        batch : np.ndarray, float32
            Magnitudes ``(batch, n_bins, n_frames, 1)`` or waveforms ``(batch, segment_length, 1)``, as the
            architecture's ``input`` says.

        Returns
        -------
        outputs : dict[str, np.ndarray [shape=batch.shape]]
            As the architecture's ``output`` says: masks, masked magnitudes or the targets' waveforms.
        """
        with self.lock:
            start = time.perf_counter()
            predicted = self.network.predict_on_batch(batch)
            outputs = {t: np.asarray(predicted[t]) for t in self.targets}
            self.timings["model"] += time.perf_counter() - start
        return outputs

    def separate_segments(self, mixture_segments: np.ndarray) -> dict:
        """Separate a batch of segments and weight them by the cross-fade (step 3 of the module's recipe).

        Parameters
        ----------
        mixture_segments : np.ndarray [shape=(n_segments, n_channels, segment_length)], float32, at the model's rate

        Returns
        -------
        estimates : dict[str, np.ndarray [shape=mixture_segments.shape]], float32
            Each target's estimate, multiplied by :attr:`weights`.
        """
        if self.architecture.input == "waveform":
            return self._separate_waveforms(mixture_segments)
        timings, start = self.timings, time.perf_counter()
        mixture_stft = spectral.stft(mixture_segments, n_fft=self.n_fft, hop_length=self.hop_length,
                                     window=self.window)
        magnitude = np.abs(mixture_stft)
        timings["STFT"] += time.perf_counter() - start
        rows = magnitude.reshape((-1,) + magnitude.shape[-2:] + (1,))
        n_rows = self.batch_size * mixture_segments.shape[1]  # a short last batch is padded: no new trace
        rows = np.pad(rows, ((0, max(0, n_rows - len(rows))), (0, 0), (0, 0), (0, 0)))
        outputs = {t: y[:magnitude[..., 0, 0].size].reshape(magnitude.shape) for t, y in self.predict(rows).items()}
        masks = outputs if self.architecture.output == "mask" else {
            t: np.where(magnitude > 1e-8, y / np.maximum(magnitude, 1e-8), 0.0).clip(0, 1).astype(np.float32)
            for t, y in outputs.items()}  # masked magnitudes: the mask is their share of the mixture's
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
        """Step 3 for a waveform model: the segments' channels through the network, weighted by the cross-fade."""
        waveforms = mixture_segments.reshape(-1, self.segment_length, 1)
        n_rows = self.batch_size * mixture_segments.shape[1]  # a short last batch is padded: no new trace
        waveforms = np.pad(waveforms, ((0, max(0, n_rows - len(waveforms))), (0, 0), (0, 0)))
        return {t: y[:mixture_segments.shape[0] * mixture_segments.shape[1]].reshape(mixture_segments.shape)
                * self.weights for t, y in self.predict(waveforms).items()}

    def stream(self, blocks, sample_rate: int, n_channels: int):
        """Separate a stream of audio blocks; memory stays flat whatever the total length.

        Each block goes through the module's five steps, one method each of the stream's state (:class:`_Stream`):
        read, segment, separate, cross-fade, write.

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
        state = _Stream(self, sample_rate, n_channels)
        for block, last in _with_last(blocks, n_channels):
            state.read(block, last)
            n_segments = state.count_segments(last)
            finished = {t: [] for t in self.targets}
            for batch in state.segment(n_segments):
                state.crossfade(self.separate_segments(batch), finished)
            piece = state.write(finished, n_segments, last)
            if piece is not None:
                yield piece

    def __call__(self, audio: np.ndarray, sample_rate: int) -> dict:
        """Separate a whole signal held in memory; see :func:`separate`."""
        mixture = audio[None] if audio.ndim == 1 else audio
        blocks = (mixture[:, i:i + BLOCK_LENGTH] for i in range(0, mixture.shape[1], BLOCK_LENGTH))
        pieces = {t: [] for t in self.targets}
        for _, estimates in self.stream(blocks, sample_rate, mixture.shape[0]):
            for t, y in estimates.items():
                pieces[t].append(y)
        return {t: np.concatenate(p, axis=1).reshape(audio.shape) for t, p in pieces.items()}


class _Stream:
    """The state of one :meth:`Separator.stream` between blocks, and its steps (all lengths in samples).

    At the model's rate: ``buffer`` holds the input from the next segment's start on; ``tails`` each target's
    estimate over the last segment's overlap, which the next segment fades in over. At the input's rate:
    ``pending`` holds the input blocks whose estimates are not out yet, ``ready`` the estimates not yet given out.
    """

    def __init__(self, separator: Separator, sample_rate: int, n_channels: int):
        self.separator, self.timings = separator, separator.timings
        self.length, self.overlap = separator.segment_length, separator.overlap_length
        self.hop = self.length - self.overlap
        self.resampling = sample_rate != separator.sample_rate
        if self.resampling:
            self.down = soxr.ResampleStream(sample_rate, separator.sample_rate, n_channels, dtype=np.float32,
                                            quality="HQ")
            self.ups = {t: soxr.ResampleStream(separator.sample_rate, sample_rate, n_channels, dtype=np.float32,
                                               quality="HQ") for t in separator.targets}
        self.buffer = np.zeros((n_channels, self.overlap), dtype=np.float32)
        self.tails = {t: np.zeros((n_channels, self.overlap), dtype=np.float32) for t in separator.targets}
        self.ready = {t: np.zeros((n_channels, 0), dtype=np.float32) for t in separator.targets}
        self.pending, self.n_pending = [], 0
        self.n_model = self.n_estimated = self.n_segments_done = 0  # input read, estimated, segments run
        self.lead_in = self.overlap  # the first segment starts `overlap` samples before the input; dropped

    def read(self, block: np.ndarray, last: bool) -> None:
        """Step 1: keep the block until its estimates are out, and add it at the model's rate to the buffer."""
        self.pending.append(block)
        self.n_pending += block.shape[1]
        start = time.perf_counter()
        x = _resample(self.down, block, last) if self.resampling else block
        self.timings["resample in"] += time.perf_counter() - start
        self.n_model += x.shape[1]
        self.buffer = np.concatenate([self.buffer, x], axis=1)

    def count_segments(self, last: bool) -> int:
        """How many segments to run now: whole batches of those the buffer holds (so the model sees one batch
        shape), or at the end every segment still needed to cover the input (the buffer zero-padded to them)."""
        if not last:
            n_segments = max(0, (self.buffer.shape[1] - self.length) // self.hop + 1)
            return n_segments // self.separator.batch_size * self.separator.batch_size
        n_segments = len(segments.segment_starts(self.n_model, segment_length=self.length,
                                                 overlap_length=self.overlap)) - self.n_segments_done
        needed = (n_segments - 1) * self.hop + self.length
        self.buffer = np.pad(self.buffer, ((0, 0), (0, max(0, needed - self.buffer.shape[1]))))
        return n_segments

    def segment(self, n_segments: int):
        """Step 2: the buffer's first ``n_segments`` overlapping segments, a batch at a time, each
        ``(count, n_channels, segment_length)``."""
        batch_size = self.separator.batch_size
        for first in range(0, n_segments, batch_size):
            starts = [(first + j) * self.hop for j in range(min(batch_size, n_segments - first))]
            yield np.stack([self.buffer[:, s:s + self.length] for s in starts])

    def crossfade(self, estimates: dict, finished: dict) -> None:
        """Step 4: fade each (weighted) segment estimate in over the previous one's tail; its first ``hop``
        samples are finished, the rest is the next tail."""
        for t, batch in estimates.items():
            for y in batch:
                y[:, :self.overlap] += self.tails[t]
                finished[t].append(y[:, :self.hop])
                self.tails[t] = y[:, self.hop:]

    def write(self, finished: dict, n_segments: int, last: bool):
        """Step 5: the finished estimates back at the input's rate (the lead-in and the end's padding dropped);
        return the next ``(mixture, estimates)`` piece whose estimates are all ready, or None."""
        self.buffer = self.buffer[:, n_segments * self.hop:]
        self.n_segments_done += n_segments
        skip = self.lead_in if n_segments else 0
        self.lead_in -= skip
        n_new = self.n_model - self.n_estimated if last else n_segments * self.hop - skip
        n_channels = self.buffer.shape[0]
        start = time.perf_counter()
        for t, pieces in finished.items():
            y = np.concatenate([np.zeros((n_channels, 0), np.float32), *pieces], axis=1)[:, skip:skip + n_new]
            y = _resample(self.ups[t], y, last) if self.resampling else y
            self.ready[t] = np.concatenate([self.ready[t], y], axis=1)
        self.timings["resample out"] += time.perf_counter() - start
        self.n_estimated += n_new
        n_out = self.n_pending if last else min(self.n_pending, min(y.shape[1] for y in self.ready.values()))
        if last:  # a resampler may end a sample or two off the input's length
            self.ready = {t: _fit(y, n_out) for t, y in self.ready.items()}
        if not n_out:
            return None
        mixture = np.concatenate(self.pending, axis=1)
        self.pending, self.n_pending = [mixture[:, n_out:]], self.n_pending - n_out
        piece = mixture[:, :n_out], {t: y[:, :n_out] for t, y in self.ready.items()}
        self.ready = {t: y[:, n_out:] for t, y in self.ready.items()}
        return piece


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
    return Separator(None, targets, overlap=overlap, wiener=wiener)


def separate(audio: np.ndarray, sample_rate: int, *, targets=DEFAULT_TARGETS, model=None,
             residual: str | None = None, overlap: float | None = None, wiener: bool | None = None) -> dict:
    """Separate target stems from a song held in memory, at its own sample rate and channel count.

    Taught in: notebooks/06_separate_your_song.ipynb, notebooks/07_time_domain.ipynb

    Parameters
    ----------
    audio : np.ndarray [shape=(n_samples,) or (n_channels, n_samples)], float
        The mixture; each channel is separated on its own (see the module's notes on channels and bandwidth).
    sample_rate : int > 0
        Of ``audio``, in Hz; any rate (the model's own is used inside).
    targets : sequence of str
        Stems to separate; each must be an output of the model.
    model : keras.Model, str, os.PathLike, Separator or None
        ``None`` uses the shipped checkpoint (loaded once, then cached). A :class:`Separator` brings its own
        ``overlap`` and ``wiener``.
    residual : str or None
        If given, also return the mixture minus the targets under this name (e.g. ``"accompaniment"``).
    overlap : float in [0, 0.5] or None
        Share of each segment that overlaps the next; ``None``: the separator's, or
        :data:`helpers.config.DEFAULT_OVERLAP`.
    wiener : bool or None
        Refine with a multichannel Wiener filter (norbert); ``None``: the separator's, or False.

    Returns
    -------
    estimates : dict[str, np.ndarray [shape=audio.shape]], float32
        One estimate per target (and the residual), at ``sample_rate``. Silent input gives silent estimates and a
        warning.

    Raises
    ------
    ParameterError
        If the audio is invalid (see :func:`helpers.audio.validate_audio`), ``sample_rate`` is not a positive
        integer, a target is unknown or not among the model's outputs, ``residual`` repeats a target's name,
        ``overlap`` or ``wiener`` differs from a given separator's, or the model cannot be loaded.

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
        for name, asked, own in (("overlap", overlap, separator.overlap), ("wiener", wiener, separator.wiener)):
            if asked is not None and asked != own:
                raise ParameterError(f"{name}={asked!r} differs from the separator's {name}={own!r}; build the "
                                     f"Separator with {name}={asked!r} instead")
    else:
        overlap = DEFAULT_OVERLAP if overlap is None else overlap
        wiener = False if wiener is None else bool(wiener)
        if model is None:
            separator = _shipped_separator(targets, overlap, wiener)
        else:
            separator = Separator(model, targets, overlap=overlap, wiener=wiener)
    if not np.any(audio):
        warnings.warn("the audio is silent: every estimate is silent", stacklevel=2)
    mixture = audio.astype(np.float32, copy=False)
    estimates = {t: y for t, y in separator(mixture, int(sample_rate)).items() if t in targets}
    if residual is not None:
        estimates[residual] = mixture - sum(estimates.values())
    return estimates


def output_paths(song, out_dir, *, targets, residual: str) -> dict:
    """Where :func:`separate_file` writes a song's stems: ``out_dir/<song stem>/<name>.wav``.

    Used by: helpers.separation.check_outputs, benchmarks/run.py

    Returns
    -------
    paths : dict[str, pathlib.Path]
        Target and residual names to paths, in writing order.
    """
    folder = Path(out_dir) / Path(song).stem
    return {name: folder / f"{name}.wav" for name in (*targets, residual)}


def check_outputs(songs, out_dir, *, targets, residual: str, overwrite: bool = False) -> dict:
    """Check every output path before anything is written (the ``separate`` command's rules).

    Used by: helpers.separate

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
        paths = output_paths(song, out_dir, targets=targets, residual=residual)
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


def separate_file(song, paths: dict, separator: Separator, *, progress: bool = True, on_progress=None) -> dict:
    """Separate one audio file into the given paths, streaming: temporary files, renamed when all are complete.

    A failure or an interrupt leaves no output of this song behind (and the input is only read).

    Used by: helpers.separate, helpers.app.server, benchmarks/run.py

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
    for block in sf.blocks(str(song), blocksize=BLOCK_LENGTH, dtype="float32", always_2d=True):
        if not np.all(np.isfinite(block)):
            raise ParameterError(f"{song}: contains non-finite samples (NaN or Inf)")
        yield block.T
