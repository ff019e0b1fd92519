"""Production and mastering: placing and panning sounds, per-stem effects, stem levels, and the master bus.

Everything here keeps ``mixture == sum(stems)``: per-stem effects act on one stem, and the master bus computes one
gain curve from the summed mix and multiplies every stem by it.

Used by: helpers.songs.numpy_engine, helpers.songs.soundfont_engine, helpers.songs.voices

References
----------
.. [1] Spotify, pedalboard, https://github.com/spotify/pedalboard (JUCE's effects, GPL-3).
.. [2] Giannoulis, Massberg & Reiss, "Digital dynamic range compressor design — a tutorial and analysis", JAES
   60(6), 2012 (the gain computer and its attack/release smoothing).
.. [3] ITU-R BS.1770-4, "Algorithms to measure audio programme loudness and true-peak audio level", 2015 (LUFS,
   measured with pyloudnorm).
"""

from __future__ import annotations

import numpy as np
from scipy.ndimage import maximum_filter1d, minimum_filter1d, uniform_filter1d

# Effect ranges per style: reverb room size, reverb wet level, EQ gain (dB), compressor ratio, the drums' room
# (size and wet level: the ambience of a kit recorded with room microphones) and the guitar amp's drive (dB).
EFFECTS = {"train": {"room": (0.4, 0.85), "wet": (0.15, 0.32), "eq_db": (-4.0, 4.0), "ratio": (2.5, 6.0),
                     "drum_room": (0.3, 0.7), "drum_wet": (0.2, 0.4), "drive_db": (12.0, 28.0)},
           "heldout": {"room": (0.65, 0.9), "wet": (0.22, 0.32), "eq_db": (-6.0, 6.0), "ratio": (4.0, 8.0),
                       "drum_room": (0.5, 0.8), "drum_wet": (0.15, 0.3), "drive_db": (28.0, 40.0)}}
EFFECTS["hard"] = EFFECTS["heldout"]
# The balance of a song: each stem's level, as active RMS (:func:`active_rms`) in dB relative to the vocals, drawn
# per song. Real mixes put the bass and "other" near the voice; the ranges are set so that, with the arrangement's
# sections, the MIX and IRM1 baselines of the generated test splits score as on MUSDB18 (measured by
# ``benchmarks/run.py`` and asserted on a small set by tests/test_songs.py).
LEVELS_DB = {"train": {"vocals": (0.0, 0.0), "drums": (1.0, 5.0), "bass": (-6.0, -1.0), "other": (-9.0, -3.0)}}
LEVELS_DB["heldout"] = LEVELS_DB["train"]
# The hard split's targets are quiet: vocals and drums turned down against the rest.
LEVELS_DB["hard"] = {"vocals": (0.0, 0.0), "drums": (-6.0, -1.0), "bass": (-4.0, 2.0), "other": (-3.0, 3.0)}
# Each song's vocals are then moved as a whole against the rest by this many dB (the spread of the target's level,
# from well below the accompaniment to a little above it).
VOCAL_OFFSET_DB = {"train": (-0.5, 9.5), "heldout": (-0.5, 9.5), "hard": (-8.0, 0.0)}
# Mastering: the integrated loudness of the mixture (ITU-R BS.1770, LUFS) as in modern releases [3]_, and the
# ceiling of the limiter (full scale); a loud master drives the limiter hard.
LOUDNESS_LUFS = (-14.0, -8.0)
# The gate (:func:`gate`) closes 50 dB below a stem's peak.
GATE_DB = -50.0
CEILING = 0.95


def place(buffer: np.ndarray, start: float, sound: np.ndarray, sample_rate: int) -> None:
    """Add ``sound`` into ``buffer`` from time ``start`` (s), cut at the buffer's end.

    Used by: helpers.songs.numpy_engine, helpers.songs.voices, helpers.songs.soundfont_engine
    """
    i = int(round(start * sample_rate))
    if i >= buffer.shape[-1] or i < 0:
        return
    n = min(sound.shape[-1], buffer.shape[-1] - i)
    buffer[..., i : i + n] += sound[..., :n]


def pan(mono: np.ndarray, position: float) -> np.ndarray:
    """Constant-power pan of a mono signal ``(n_samples,)`` to ``(2, n_samples)``; ``position`` in [-1 (left), 1
    (right)].

    Used by: helpers.songs.numpy_engine
    """
    angle = (position + 1) * np.pi / 4
    return np.stack([np.cos(angle) * mono, np.sin(angle) * mono])


def active_rms(stem: np.ndarray) -> float:
    """The RMS of a stem ``(n_channels, n_samples)`` over the samples where it sounds (above -80 dB of its peak).

    Used by: helpers.songs.soundfont_engine.make_song
    """
    active = np.abs(stem).max(axis=0) > 1e-4 * max(float(np.abs(stem).max()), 1e-12)
    return float(np.sqrt(np.mean(stem[:, active] ** 2))) if active.any() else 0.0


def amp(stem: np.ndarray, rng, *, style: str, sample_rate: int) -> np.ndarray:
    """An overdriven guitar amp with pedalboard: a high-pass, a drive stage, a speaker-like low-pass and a little
    chorus, for the distorted guitars of "other" (a dense, broadband confounder under the voice).

    Used by: helpers.songs.soundfont_engine.make_song

    Parameters
    ----------
    stem : np.ndarray [shape=(2, n_samples)]
    rng : np.random.Generator
    style : {"train", "heldout", "hard"}
        The drive's range (:data:`EFFECTS`).
    sample_rate : int

    Returns
    -------
    stem : np.ndarray [shape=(2, n_samples)], float32
    """
    import pedalboard as pb

    chain = [pb.HighpassFilter(float(rng.uniform(80, 160))),
             pb.Distortion(float(rng.uniform(*EFFECTS[style]["drive_db"]))),
             pb.LowpassFilter(float(rng.uniform(3500, 6500))),
             pb.Chorus(rate_hz=float(rng.uniform(0.3, 1.2)), depth=0.15, mix=float(rng.uniform(0.0, 0.3)))]
    return pb.Pedalboard(chain)(np.ascontiguousarray(stem, dtype=np.float32), float(sample_rate))


def produce(stem: np.ndarray, rng, *, role: str, style: str, sample_rate: int) -> np.ndarray:
    """Per-stem production with pedalboard: high-pass, random EQ, compression, and reverb (delay on some vocals).

    Used by: helpers.songs.soundfont_engine.make_song

    Parameters
    ----------
    stem : np.ndarray [shape=(2, n_samples)]
    rng : np.random.Generator
    role : {"vocals", "drums", "bass", "other"}
    style : {"train", "heldout", "hard"}
        Which effect ranges to draw from (:data:`EFFECTS`).
    sample_rate : int

    Returns
    -------
    stem : np.ndarray [shape=(2, n_samples)], float32
        Same length: the reverb's tail past the end is cut.
    """
    import pedalboard as pb

    ranges = EFFECTS[style]
    eq = lambda: float(rng.uniform(*ranges["eq_db"]))  # noqa: E731
    chain = [pb.HighpassFilter(float(rng.uniform(20, 35) if role == "bass" else rng.uniform(40, 140))),
             pb.LowShelfFilter(float(rng.uniform(80, 250)), eq()),
             pb.PeakFilter(float(np.exp(rng.uniform(np.log(300), np.log(5000)))), eq(), float(rng.uniform(0.5, 2))),
             pb.HighShelfFilter(float(rng.uniform(4000, 10000)), eq()),
             pb.Compressor(float(rng.uniform(-28, -14)), float(rng.uniform(*ranges["ratio"])),
                           float(rng.uniform(2, 20)), float(rng.uniform(60, 250)))]
    if role == "vocals" and rng.random() < 0.3:
        chain.append(pb.Delay(float(rng.choice([0.75, 1.0, 1.5])) * 0.25, 0.25, float(rng.uniform(0.05, 0.15))))
    if role == "drums":  # the room the kit was recorded in: short and dense, not the vocal's hall
        wet, room = float(rng.uniform(*ranges["drum_wet"])), float(rng.uniform(*ranges["drum_room"]))
    else:
        wet = float(rng.uniform(*ranges["wet"])) * (0.3 if role == "bass" else 1.0)
        room = float(rng.uniform(*ranges["room"]))
    chain.append(pb.Reverb(room_size=room, damping=float(rng.uniform(0.3, 0.7)), wet_level=wet, dry_level=1.0 - wet,
                           width=float(rng.uniform(0.7, 1.0))))
    return pb.Pedalboard(chain)(np.ascontiguousarray(stem, dtype=np.float32), float(sample_rate))


def bus_gain(mixture: np.ndarray, sample_rate: int, *, threshold_db: float = -12.0, ratio: float = 3.0,
             attack: float = 0.01, release: float = 0.15, makeup_db: float = 0.0,
             ceiling: float = CEILING) -> np.ndarray:
    """One master-bus gain curve from the summed mix: a feed-forward compressor, make-up gain, a look-ahead limiter.

    The compressor's gain computer [2]_ maps the mix's level (RMS over 10 ms, in dB) above ``threshold_db`` to
    ``threshold + (level - threshold) / ratio``; the gain reduction is smoothed with one-pole attack and release
    filters. The make-up gain ``makeup_db`` then raises the whole mix (what makes a master loud), and the limiter lowers
    the gain wherever the compressed mix would peak above ``ceiling``, taking the
    minimum over a 5-ms look-ahead window and smoothing it, so the result never exceeds the ceiling. Multiplying
    every stem by the same curve keeps ``mixture == sum(stems)``.

    Used by: helpers.songs.production.master

    Parameters
    ----------
    mixture : np.ndarray [shape=(n_channels, n_samples)]
    sample_rate : int
    threshold_db, ratio, attack, release, makeup_db, ceiling : float
        In dBFS, >= 1, seconds, seconds, dB and linear full scale.

    Returns
    -------
    gain : np.ndarray [shape=(n_samples,)]
        Non-negative; ``mixture * gain`` peaks at ``ceiling`` or below.
    """
    x = np.max(np.abs(np.asarray(mixture, dtype=np.float64)), axis=0)
    rms = np.sqrt(uniform_filter1d(x ** 2, max(1, int(0.01 * sample_rate))) + 1e-12)
    level = 20 * np.log10(rms)
    reduction = np.maximum(level - threshold_db, 0.0) * (1.0 - 1.0 / ratio)  # dB to take off
    a_attack, a_release = np.exp(-1 / (attack * sample_rate)), np.exp(-1 / (release * sample_rate))
    # One-pole smoothing: fast when the reduction rises (attack), slow when it falls (release). Decimated by 32 for
    # speed; the curve is interpolated back.
    step = 32
    coarse = reduction[::step].copy()
    aa, ar = a_attack ** step, a_release ** step
    for i in range(1, coarse.size):
        a = aa if coarse[i] > coarse[i - 1] else ar
        coarse[i] = a * coarse[i - 1] + (1 - a) * coarse[i]
    smoothed = np.interp(np.arange(x.size), np.arange(0, x.size, step), coarse)
    gain = 10 ** ((makeup_db - smoothed) / 20)
    lookahead = max(1, int(0.005 * sample_rate))
    peak = maximum_filter1d(x * gain, lookahead, origin=-(lookahead // 2))
    limit = np.minimum(1.0, ceiling / np.maximum(peak, 1e-12))
    limit = minimum_filter1d(limit, 2 * lookahead)
    limit = uniform_filter1d(limit, lookahead)
    gain = np.maximum(gain * limit, 0.0)
    peak = float(np.max(x * gain)) if x.size else 0.0
    return gain * (ceiling / peak) if peak > ceiling else gain  # what the smoothing let through


def gate(stem: np.ndarray, sample_rate: int, *, threshold_db: float = GATE_DB, hold: float = 0.1,
         fade: float = 0.01) -> np.ndarray:
    """A noise gate: silence a stem ``(n_channels, n_samples)`` wherever its level stays ``threshold_db`` below its
    peak for longer than ``hold`` seconds, with ``fade``-second ramps.

    What an engineer does to a vocal or drum track between phrases: the reverb's tail is cut once it is inaudible
    under the mix, so the stem is digital silence there, not a tail at -120 dB. BSS Eval scores a frame only where
    every reference sounds, so the tails would otherwise count as frames of a target that is not there.

    Used by: helpers.songs.soundfont_engine.make_song

    Returns
    -------
    gated : np.ndarray [same shape]
    """
    envelope = maximum_filter1d(np.abs(stem).max(axis=0), max(1, int(hold * sample_rate)))
    peak = float(envelope.max()) if envelope.size else 0.0
    if peak == 0:
        return stem
    open_ = (envelope > peak * 10 ** (threshold_db / 20)).astype(np.float64)
    ramp = max(1, int(fade * sample_rate))
    return stem * uniform_filter1d(open_, ramp)


def loudness(mixture: np.ndarray, sample_rate: int) -> float:
    """Integrated loudness of ``mixture`` ``(n_channels, n_samples)`` in LUFS (ITU-R BS.1770-4 [3]_, pyloudnorm).

    Used by: helpers.songs.production.master
    """
    import pyloudnorm

    return float(pyloudnorm.Meter(sample_rate).integrated_loudness(np.asarray(mixture, dtype=np.float64).T))


def master(mixture: np.ndarray, sample_rate: int, rng, *, lufs: float | None = None) -> tuple[np.ndarray, float]:
    """The master bus: compress the summed mix, raise it to a modern loudness, and limit it (:func:`bus_gain`).

    The loudness target is drawn from :data:`LOUDNESS_LUFS` (-14 to -8 LUFS, as streaming and CD releases are);
    the make-up gain that reaches it is found by measuring the limited master twice. A loud target drives the
    limiter: its peaks are flattened at :data:`CEILING`. The curve multiplies every stem, so the mixture stays the
    sum of the stems.

    Used by: helpers.songs.soundfont_engine.make_song

    Parameters
    ----------
    mixture : np.ndarray [shape=(n_channels, n_samples)]
    sample_rate : int
    rng : np.random.Generator
    lufs : float or None
        The target; ``None`` draws it.

    Returns
    -------
    gain : np.ndarray [shape=(n_samples,)]
    lufs : float
        The master's measured integrated loudness (LUFS).
    """
    target = float(rng.uniform(*LOUDNESS_LUFS)) if lufs is None else float(lufs)
    peak_db = float(20 * np.log10(np.abs(mixture).max() + 1e-12))
    settings = {"threshold_db": peak_db - float(rng.uniform(6, 12)), "ratio": float(rng.uniform(2, 4))}
    makeup = 0.0
    for _ in range(3):  # the limiter takes some loudness off: measure again and correct
        gain = bus_gain(mixture, sample_rate, makeup_db=makeup, **settings)
        measured = loudness(mixture * gain, sample_rate)
        if not np.isfinite(measured) or abs(measured - target) < 0.3:
            break
        makeup += target - measured
    return gain, measured


