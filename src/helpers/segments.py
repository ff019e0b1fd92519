"""Segments: the fixed-length pieces of a song a model sees, where they start, and the cross-fade that joins them.

A spectrogram model sees ``n_frames`` STFT frames at once, a **segment** of ``segment_length`` samples. Training
cuts songs into segments (:func:`split`); separation slides overlapping segments over a song and joins their
estimates with linear cross-fades whose weights sum to one (:func:`crossfade_weights`, :func:`segment_starts`),
so no seam is audible and the samples near a segment's edge, where the network saw the least context, count the
least. The plotting, exercise and benchmark code use these same functions.

Taught in: notebooks/06_separate_your_song.ipynb

References
----------
.. [1] Défossez et al., "Music source separation in the waveform domain", 2019 (overlapping segments with a
   linear transition, as in ``demucs.apply``).
"""

from __future__ import annotations

import math

import numpy as np

from helpers.exceptions import ParameterError, check_int


def split(audio: np.ndarray, *, segment_length: int, hop_length: int | None = None) -> np.ndarray:
    """Cut a signal into fixed-length segments, zero-padding the last one.

    Used by: helpers.data

    Parameters
    ----------
    audio : np.ndarray [shape=(..., n_samples)]
    segment_length : int > 0
        Samples per segment.
    hop_length : int > 0 or None
        Samples between segment starts; ``None`` means ``segment_length`` (no overlap).

    Returns
    -------
    segments : np.ndarray [shape=(n_segments, ..., segment_length)]
        ``n_segments = 1 + ceil(max(n_samples - segment_length, 0) / hop_length)``; a signal shorter than one segment
        gives one padded segment.

    Raises
    ------
    ParameterError
        If ``segment_length`` or ``hop_length`` is not a positive integer.
    """
    segment_length = check_int("segment_length", segment_length)
    hop_length = check_int("hop_length", segment_length if hop_length is None else hop_length)
    audio = np.asarray(audio)
    n_samples = audio.shape[-1]
    n_segments = 1 + int(np.ceil(max(n_samples - segment_length, 0) / hop_length))
    total = (n_segments - 1) * hop_length + segment_length
    padded = np.zeros(audio.shape[:-1] + (total,), dtype=audio.dtype)
    padded[..., :n_samples] = audio
    starts = np.arange(n_segments) * hop_length
    return np.stack([padded[..., s : s + segment_length] for s in starts])


def crossfade_weights(segment_length: int, overlap_length: int) -> np.ndarray:
    """The weight of each sample of a segment: linear ramps over the overlaps, one in between.

    Consecutive segments placed ``segment_length - overlap_length`` apart have weights that sum to exactly one.

    Taught in: notebooks/06_separate_your_song.ipynb

    Parameters
    ----------
    segment_length : int > 0
        Samples per segment.
    overlap_length : int in [0, segment_length // 2]
        Samples shared with each neighbour.

    Returns
    -------
    weights : np.ndarray [shape=(segment_length,)], float32, values in (0, 1]

    Raises
    ------
    ParameterError
        If the lengths are out of range.
    """
    segment_length = check_int("segment_length", segment_length)
    overlap_length = check_int("overlap_length", overlap_length, minimum=0)
    if overlap_length > segment_length // 2:
        raise ParameterError(f"overlap_length={overlap_length} must be at most segment_length // 2 = "
                             f"{segment_length // 2}")
    weights = np.ones(segment_length, dtype=np.float32)
    if overlap_length:
        ramp = (np.arange(overlap_length, dtype=np.float32) + 0.5) / overlap_length
        weights[:overlap_length] = ramp
        weights[segment_length - overlap_length:] = 1 - ramp
    return weights


def segment_starts(n_samples: int, *, segment_length: int, overlap_length: int) -> np.ndarray:
    """Where the segments start so that every sample of a signal is covered by full cross-fade weight.

    The first segment starts ``overlap_length`` samples before the signal (zeros are fed there), and segments follow
    every ``segment_length - overlap_length`` samples until the signal's last sample lies before the next one's start.

    Taught in: notebooks/06_separate_your_song.ipynb

    Parameters
    ----------
    n_samples : int >= 0
        Length of the signal.
    segment_length, overlap_length : int
        As in :func:`crossfade_weights`.

    Returns
    -------
    starts : np.ndarray [shape=(n_segments,)], int
        ``n_segments = max(1, ceil((n_samples + overlap_length) / (segment_length - overlap_length)))``.
    """
    hop_length = segment_length - overlap_length
    n_segments = max(1, math.ceil((n_samples + overlap_length) / hop_length))
    return np.arange(n_segments) * hop_length - overlap_length


def seam_positions(n_samples: int, *, segment_length: int, overlap_length: int) -> np.ndarray:
    """Where one segment hands over to the next: the boundaries (no overlap) or the middles of the cross-fades.

    Taught in: notebooks/06_separate_your_song.ipynb

    Parameters
    ----------
    n_samples, segment_length, overlap_length : int
        As in :func:`segment_starts`.

    Returns
    -------
    positions : np.ndarray [shape=(n_segments - 1,)], int
        Sample indices inside ``[0, n_samples)`` (segments reaching past the end hand over nowhere).
    """
    starts = segment_starts(n_samples, segment_length=segment_length, overlap_length=overlap_length)
    positions = starts[1:] + overlap_length // 2
    return positions[(positions > 0) & (positions < n_samples)]
