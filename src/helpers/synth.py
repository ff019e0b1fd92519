"""Generate the course's embedded multitrack dataset: musical songs in MUSDB18's folder layout.

The course must run without the internet, so it writes its own songs::

    data/generated/{train,test}/<track>/{mixture,vocals,drums,bass,other}.wav    (stereo, 44.1 kHz, float32)
    data/generated/duets/{train,test}/<track>/{mixture,piano,violin}.wav         (for notebook 02)

``musdb.DB(root="data/generated", is_wav=True, subsets=...)`` reads the first family unchanged. Each song has a
tempo, key, mode and chord progression; the stems are synthesised from first principles:

- **drums**: kick (pitch-swept sine), snare (tone + band-passed noise), closed/open hi-hat and crash (high-passed
  noise), toms in fills; velocity, swing, a fill at the end of every fourth bar;
- **bass**: the chord roots (and fifths, octaves) in a rhythm, a low-passed additive tone, energy below ~300 Hz;
- **other**: chords and arpeggios from an additive piano, a detuned pad, or Karplus–Strong plucked strings;
- **vocals**: a melody in the key sung by a source–filter voice — a glottal-like harmonic source with spectral
  tilt, vibrato and jitter, shaped by vowel formants — with consonant noise, breaths, and silent gaps between
  phrases, so the voice is absent part of the time, as in real songs.

Each stem gets a random level and pan; one shared gain keeps the mixture below full scale, so
``mixture == sum(stems)`` to float32 precision. Song ``i`` of a subset is drawn from ``default_rng([seed, subset, i])``:
the same seed gives the same bytes, whatever the number of worker processes.

Run ``python -m helpers.synth --help`` (or ``make data``).

Taught in: notebooks/01_waveforms_and_mixtures.ipynb, notebooks/02_waveform_fnn.ipynb

References
----------
.. [1] Karplus & Strong, "Digital synthesis of plucked-string and drum timbres", Computer Music Journal 7(2), 1983.
.. [2] Fant, *Acoustic Theory of Speech Production*, 1960 (source–filter model, vowel formants).
.. [3] Rafii et al., "The MUSDB18 corpus for music separation", 2017 (the folder layout).
"""

from __future__ import annotations

import argparse
import functools
import itertools
import json
import shutil
import sys
import tempfile
from concurrent.futures import ProcessPoolExecutor
from pathlib import Path

import numpy as np
from scipy import signal as sps
from scipy.ndimage import uniform_filter1d

from helpers import audio as audio_io
from helpers.config import DATASET_SAMPLE_RATE, DUET_SOURCES, STEMS, generated_root
from helpers.exceptions import ParameterError, check_int
NOTE_NAMES = ("C", "C#", "D", "Eb", "E", "F", "F#", "G", "Ab", "A", "Bb", "B")
SCALES = {"major": (0, 2, 4, 5, 7, 9, 11), "minor": (0, 2, 3, 5, 7, 8, 10)}
# Progressions as scale degrees (0-based), one chord per bar.
PROGRESSIONS = {
    "major": ((0, 4, 5, 3), (0, 5, 3, 4), (0, 3, 0, 4), (5, 3, 0, 4), (0, 3, 4, 3)),
    "minor": ((0, 5, 2, 6), (0, 3, 4, 0), (0, 6, 5, 6), (0, 3, 6, 2), (0, 5, 3, 4)),
}
# Vowel formants (F1, F2, F3) in Hz for a mid-range voice, after Peterson & Barney (1952).
VOWELS = {"a": (750, 1200, 2600), "e": (500, 1850, 2600), "i": (320, 2300, 3000), "o": (500, 900, 2500),
          "u": (350, 800, 2400)}


def midi_to_hz(midi):
    """Convert MIDI note numbers to frequency in Hz (A4 = MIDI 69 = 440 Hz).

    Used by: helpers.checkers
    """
    return 440.0 * 2.0 ** ((np.asarray(midi, dtype=float) - 69) / 12)


# ----------------------------------------------------------------------------------------------- song plan


def plan_song(rng: np.random.Generator, *, duration: float) -> dict:
    """Draw the musical plan of one song: tempo, key, mode, progression, swing.

    Used by: helpers.soundfont

    Parameters
    ----------
    rng : np.random.Generator
    duration : float
        Song length in seconds.

    Returns
    -------
    plan : dict
        ``bpm`` (70–170), ``key`` (0–11, C = 0), ``mode``, ``progression`` (scale degrees, one per bar),
        ``swing`` (0–0.3 of a 16th), ``beat`` (seconds), ``n_bars``, ``duration``.
    """
    mode = str(rng.choice(["major", "minor"]))
    bpm = int(rng.integers(70, 171))
    beat = 60.0 / bpm
    progressions = PROGRESSIONS[mode]
    return {
        "bpm": bpm,
        "key": int(rng.integers(0, 12)),
        "mode": mode,
        "progression": list(progressions[int(rng.integers(len(progressions)))]),
        "swing": float(rng.choice([0.0, 0.0, 0.15, 0.3])),
        "beat": beat,
        "n_bars": int(np.ceil(duration / (4 * beat))),
        "duration": duration,
    }


def chord_pitches(plan: dict, bar: int, *, octave_root: int = 48) -> np.ndarray:
    """MIDI pitches of the triad for a bar: degrees 1-3-5 of the bar's scale degree, in the song's key.

    Used by: helpers.soundfont
    """
    scale = SCALES[plan["mode"]]
    degree = plan["progression"][bar % len(plan["progression"])]
    notes = [degree + step for step in (0, 2, 4)]
    return np.array([octave_root + plan["key"] + 12 * (n // 7) + scale[n % 7] for n in notes])


def _place(buffer: np.ndarray, start: float, sound: np.ndarray, sample_rate: int) -> None:
    """Add ``sound`` into ``buffer`` from time ``start`` (s), cut at the buffer's end."""
    i = int(round(start * sample_rate))
    if i >= buffer.shape[-1] or i < 0:
        return
    n = min(sound.shape[-1], buffer.shape[-1] - i)
    buffer[..., i : i + n] += sound[..., :n]


def _env(n: int, sample_rate: int, attack: float, decay: float) -> np.ndarray:
    """Linear attack then exponential decay (time constant ``decay`` s), ``n`` samples."""
    t = np.arange(n) / sample_rate
    return np.minimum(1.0, t / max(attack, 1e-4)) * np.exp(-np.maximum(t - attack, 0) / decay)


def _additive(f0: np.ndarray, amplitudes, sample_rate: int, phase0: float = 0.0) -> np.ndarray:
    """Sum of harmonics k*f0(t) with per-harmonic amplitudes (scalars or arrays), skipping those above Nyquist."""
    phase = 2 * np.pi * np.cumsum(f0) / sample_rate + phase0
    out = np.zeros_like(f0)
    nyquist = 0.45 * sample_rate
    for k, amp in enumerate(amplitudes, start=1):
        if np.max(f0) * k >= nyquist:
            break
        out += amp * np.sin(k * phase)
    return out


# ----------------------------------------------------------------------------------------------- drums


def _drum_kit(rng, sample_rate):
    sr = sample_rate
    t = np.arange(int(0.5 * sr)) / sr
    f_start, f_end = rng.uniform(110, 170), rng.uniform(42, 60)
    f = f_end + (f_start - f_end) * np.exp(-t / 0.04)
    kick = np.sin(2 * np.pi * np.cumsum(f) / sr) * np.exp(-t / rng.uniform(0.12, 0.25))
    kick[: int(0.003 * sr)] += rng.standard_normal(int(0.003 * sr)) * 0.4
    t = np.arange(int(0.35 * sr)) / sr
    b, a = sps.butter(2, [1200 / (sr / 2), min(9000, 0.45 * sr) / (sr / 2)], btype="band")
    snare_noise = sps.lfilter(b, a, rng.standard_normal(t.size)) * np.exp(-t / rng.uniform(0.06, 0.12))
    snare_tone = np.sin(2 * np.pi * rng.uniform(170, 230) * t) * np.exp(-t / 0.05)
    snare = 0.8 * snare_noise / np.max(np.abs(snare_noise)) + 0.5 * snare_tone
    b, a = sps.butter(4, 7000 / (sr / 2), btype="high")
    noise = sps.lfilter(b, a, rng.standard_normal(int(1.6 * sr)))
    noise /= np.max(np.abs(noise))
    t = np.arange(noise.size) / sr
    hat = noise[: int(0.08 * sr)] * np.exp(-t[: int(0.08 * sr)] / 0.02)
    open_hat = noise[: int(0.4 * sr)] * np.exp(-t[: int(0.4 * sr)] / 0.12)
    b, a = sps.butter(2, 4000 / (sr / 2), btype="high")
    crash = sps.lfilter(b, a, rng.standard_normal(noise.size)) * np.exp(-t / 0.6) * 0.6
    toms = []
    for f_tom in (rng.uniform(90, 120), rng.uniform(130, 170), rng.uniform(180, 230)):
        tt = np.arange(int(0.4 * sr)) / sr
        ff = f_tom * (1 + 0.5 * np.exp(-tt / 0.03))
        toms.append(np.sin(2 * np.pi * np.cumsum(ff) / sr) * np.exp(-tt / 0.15))
    return {"kick": kick, "snare": snare, "hat": hat * 0.5, "open_hat": open_hat * 0.45, "crash": crash, "toms": toms}


def render_drums(plan, rng, *, sample_rate=DATASET_SAMPLE_RATE) -> np.ndarray:
    """Render the drum stem ``(2, n_samples)``: kick, snare, hats and cymbals with velocity, swing and fills.

    Used by: helpers.synth.make_song
    """
    n = int(plan["duration"] * sample_rate)
    kit = _drum_kit(rng, sample_rate)
    pans = {"kick": 0.0, "snare": rng.uniform(-0.1, 0.1), "hat": rng.uniform(-0.5, 0.5), "crash": rng.uniform(-0.6, 0.6)}
    tracks = {name: np.zeros(n) for name in ("kick", "snare", "hat", "crash")}
    sixteenth = plan["beat"] / 4
    style = int(rng.integers(3))
    hat_step = int(rng.choice([1, 2, 2]))  # 16ths or 8ths
    for bar in range(plan["n_bars"]):
        bar_start = bar * 4 * plan["beat"]
        fill = bar % 4 == 3 and rng.random() < 0.8
        if bar % 4 == 0:
            _place(tracks["crash"], bar_start, kit["crash"] * rng.uniform(0.6, 1.0), sample_rate)
        for step in range(16):
            t = bar_start + step * sixteenth + (plan["swing"] * sixteenth if step % 2 else 0.0)
            velocity = rng.uniform(0.75, 1.0)
            if fill and step >= 8:
                if rng.random() < 0.8:
                    tom = kit["toms"][2 - (step - 8) * 3 // 8] if rng.random() < 0.6 else kit["snare"]
                    _place(tracks["snare"], t, tom * velocity * rng.uniform(0.6, 1.0), sample_rate)
                continue
            kick_steps = {0: (0, 8), 1: (0, 6, 10), 2: (0, 3, 8, 11)}[style]
            if step in kick_steps or (rng.random() < 0.06 and step % 2 == 0):
                _place(tracks["kick"], t, kit["kick"] * velocity, sample_rate)
            if step in (4, 12):
                _place(tracks["snare"], t, kit["snare"] * velocity, sample_rate)
            elif rng.random() < 0.04:
                _place(tracks["snare"], t, kit["snare"] * 0.3 * velocity, sample_rate)  # ghost note
            if step % hat_step == 0:
                accent = 1.0 if step % 4 == 0 else 0.6
                sound = kit["open_hat"] if (step == 14 and rng.random() < 0.5) else kit["hat"]
                _place(tracks["hat"], t, sound * accent * velocity, sample_rate)
    out = np.zeros((2, n))
    for name, track in tracks.items():
        out += _pan(track, pans[name])
    return out


def _pan(mono: np.ndarray, pan: float) -> np.ndarray:
    """Constant-power pan of a mono signal; ``pan`` in [-1 (left), 1 (right)]."""
    angle = (pan + 1) * np.pi / 4
    return np.stack([np.cos(angle) * mono, np.sin(angle) * mono])


# ----------------------------------------------------------------------------------------------- bass


def render_bass(plan, rng, *, sample_rate=DATASET_SAMPLE_RATE) -> np.ndarray:
    """Render the bass stem as ``(2, n_samples)``: chord roots, fifths and octaves in a rhythm, below ~300 Hz.

    Used by: helpers.synth.make_song
    """
    n = int(plan["duration"] * sample_rate)
    track = np.zeros(n)
    eighth = plan["beat"] / 2
    patterns = ((0, 2, 4, 6), (0, 3, 4, 6, 7), (0, 1, 2, 3, 4, 5, 6, 7), (0, 4), (0, 3, 6))
    pattern = patterns[int(rng.integers(len(patterns)))]
    n_harmonics = int(rng.integers(4, 8))
    amplitudes = [1.0 / k ** rng.uniform(1.0, 1.6) for k in range(1, n_harmonics + 1)]
    for bar in range(plan["n_bars"]):
        root = chord_pitches(plan, bar, octave_root=36)[0]
        while midi_to_hz(root) > 82:  # keep roots between E1 and E2
            root -= 12
        for i, step in enumerate(pattern):
            pitch = root + (rng.choice([0, 0, 0, 7, 12]) if i else 0)
            nxt = pattern[i + 1] if i + 1 < len(pattern) else 8
            length = (nxt - step) * eighth * rng.uniform(0.7, 0.95)
            m = int(length * sample_rate)
            f0 = np.full(m, midi_to_hz(pitch))
            note = _additive(f0, amplitudes, sample_rate) * _env(m, sample_rate, 0.005, length * 0.6)
            note[-int(0.01 * sample_rate):] *= np.linspace(1, 0, int(0.01 * sample_rate))
            _place(track, bar * 4 * plan["beat"] + step * eighth, note * rng.uniform(0.8, 1.0), sample_rate)
    b, a = sps.butter(2, 400 / (sample_rate / 2))
    return _pan(sps.lfilter(b, a, track), rng.uniform(-0.1, 0.1))


# ----------------------------------------------------------------------------------------------- other


def _piano_note(f, length, sample_rate, rng=None):
    return _piano_note_cached(float(f), float(length), int(sample_rate)).copy()


@functools.lru_cache(maxsize=64)
def _piano_note_cached(f, length, sample_rate):
    """An additive piano tone: slightly inharmonic partials, higher ones decaying faster (deterministic)."""
    m = int((length + 0.3) * sample_rate)
    t = np.arange(m) / sample_rate
    out = np.zeros(m)
    for k in range(1, 12):
        fk = f * k * np.sqrt(1 + 0.0004 * k * k)  # slight inharmonicity
        if fk > 0.45 * sample_rate:
            break
        out += np.sin(2 * np.pi * fk * t) * np.exp(-t * (1.5 + 0.9 * k)) / k ** 1.2
    env = np.minimum(1, t / 0.004)
    release = t > length
    env[release] *= np.exp(-(t[release] - length) / 0.06)
    return out * env


def _pad_note(f, length, sample_rate, rng):
    m = int((length + 0.2) * sample_rate)
    t = np.arange(m) / sample_rate
    out = np.zeros(m)
    for detune in (-0.006, 0.006):
        phase = rng.uniform(0, 2 * np.pi)
        for k in range(1, 7):
            out += np.sin(2 * np.pi * f * (1 + detune) * k * t + phase * k) / k ** 1.5
    env = np.minimum(1, t / 0.25) * np.minimum(1, np.maximum(0, (length + 0.2 - t) / 0.2))
    return out * env * 0.35


def _pluck_note(f, length, sample_rate, rng):
    """Karplus–Strong: a noise burst through a delay line with an averaging low-pass in the loop."""
    m = int((length + 0.3) * sample_rate)
    period = max(2, int(round(sample_rate / f)))
    excitation = np.zeros(m)
    burst = rng.uniform(-1, 1, period)
    excitation[:period] = burst - burst.mean()  # no DC: the loop would sustain it
    decay = 0.996
    a = np.zeros(period + 2)
    a[0], a[period], a[period + 1] = 1.0, -0.5 * decay, -0.5 * decay
    return sps.lfilter([1.0], a, excitation) * 0.6


def render_other(plan, rng, *, sample_rate=DATASET_SAMPLE_RATE) -> np.ndarray:
    """Render the "other" stem as ``(2, n_samples)``: chords and arpeggios (piano, pad or plucked strings).

    Used by: helpers.synth.make_song
    """
    n = int(plan["duration"] * sample_rate)
    out = np.zeros((2, n))
    instruments = [_piano_note, _pad_note, _pluck_note]
    chosen = rng.choice(len(instruments), size=2, replace=False)
    bar_length = 4 * plan["beat"]
    # Part 1: sustained or rhythmic chords.
    chord_instrument = instruments[chosen[0]]
    chord_track = np.zeros(n)
    rhythm = rng.choice([1, 2, 4])  # chords per bar
    for bar in range(plan["n_bars"]):
        pitches = chord_pitches(plan, bar, octave_root=int(rng.choice([48, 52, 55])))
        for hit in range(rhythm):
            length = bar_length / rhythm
            for p in pitches:
                note = chord_instrument(midi_to_hz(p), length * 0.95, sample_rate, rng)
                _place(chord_track, bar * bar_length + hit * length, note * rng.uniform(0.5, 0.7), sample_rate)
    out += _pan(chord_track, rng.uniform(-0.5, 0.5))
    # Part 2: an arpeggio in 8ths or 16ths over the chord tones, an octave up.
    arp_instrument = instruments[chosen[1]] if chosen[1] != 1 else _pluck_note
    arp_track = np.zeros(n)
    step = plan["beat"] / rng.choice([2, 4])
    for bar in range(plan["n_bars"]):
        pitches = np.concatenate([chord_pitches(plan, bar, octave_root=60),
                                  chord_pitches(plan, bar, octave_root=72)[:1]])
        order = rng.permutation(len(pitches)) if rng.random() < 0.5 else np.arange(len(pitches))
        for i in range(int(round(bar_length / step))):
            if rng.random() < 0.15:
                continue
            p = pitches[order[i % len(pitches)]]
            note = arp_instrument(midi_to_hz(p), step * 0.9, sample_rate, rng)
            _place(arp_track, bar * bar_length + i * step, note * rng.uniform(0.25, 0.4), sample_rate)
    out += _pan(arp_track, rng.uniform(-0.7, 0.7))
    b, a = sps.butter(2, 40 / (sample_rate / 2), btype="high")  # remove sub-audio drift of the plucked strings
    return sps.lfilter(b, a, out)


# ----------------------------------------------------------------------------------------------- vocals


def _formant_gain(freqs: np.ndarray, formants: np.ndarray) -> np.ndarray:
    """Vocal-tract magnitude response at ``freqs`` for formants ``(3, n)``: a sum of resonance peaks."""
    gain = np.zeros_like(freqs)
    for i, (bandwidth, level) in enumerate(((80, 1.0), (100, 0.6), (140, 0.35))):
        gain += level / (1 + ((freqs - formants[i]) / bandwidth) ** 2)
    return gain + 0.02


def sing(pitches, durations, vowels, *, sample_rate=DATASET_SAMPLE_RATE, rng=None, breathiness=0.03,
         singer: dict | None = None) -> np.ndarray:
    """Sing a phrase with a source–filter voice: harmonic glottal source, vibrato, jitter, vowel formants.

    Used by: helpers.soundfont

    Parameters
    ----------
    pitches : sequence of int
        MIDI notes, one per syllable.
    durations : sequence of float
        Seconds per syllable.
    vowels : sequence of str
        Keys of ``VOWELS``, one per syllable.
    sample_rate : int
        In Hz.
    rng : np.random.Generator
    breathiness : float
        Level of aspiration noise mixed into the source.
    singer : dict or None
        A voice: ``vibrato_depth`` (semitones), ``vibrato_rate`` (Hz), ``formant_scale`` (vocal-tract length:
        < 1 longer and darker, > 1 shorter and brighter), ``tilt`` (source roll-off exponent) and ``breathiness``.
        ``None`` draws a mid-range voice from ``rng``.

    Returns
    -------
    phrase : np.ndarray [shape=(n_samples,)]
        ``n_samples = round(sum(durations) * sample_rate)``.
    """
    rng = rng if rng is not None else np.random.default_rng(0)
    counts = [int(round(d * sample_rate)) for d in durations]
    n = sum(counts)
    midi = np.repeat(np.asarray(pitches, dtype=float), counts)
    # Portamento: smooth the note steps over ~40 ms.
    glide = max(1, int(0.04 * sample_rate))
    midi = uniform_filter1d(midi, glide, mode="nearest")
    t = np.arange(n) / sample_rate
    if singer is not None:
        breathiness = singer["breathiness"]
    depth = singer["vibrato_depth"] if singer else rng.uniform(0.2, 0.45)
    vibrato_depth = np.minimum(1, t / 0.3) * depth  # semitones, growing into the phrase
    jitter = uniform_filter1d(rng.standard_normal(n), 200) * 0.6
    rate = singer["vibrato_rate"] if singer else rng.uniform(4.8, 6.2)
    f0 = midi_to_hz(midi + vibrato_depth * np.sin(2 * np.pi * rate * t) + 0.1 * jitter)
    scale = singer["formant_scale"] if singer else rng.uniform(0.92, 1.1)
    formant_targets = np.array([VOWELS[v] for v in vowels], dtype=float).T * scale
    formants = np.repeat(formant_targets, counts, axis=1)
    smooth = int(0.05 * sample_rate)
    formants = uniform_filter1d(formants, smooth, axis=1, mode="nearest")
    phase = 2 * np.pi * np.cumsum(f0) / sample_rate
    voice = np.zeros(n)
    tilt = singer["tilt"] if singer else rng.uniform(1.0, 1.4)
    for k in range(1, 40):
        fk = k * f0
        if fk.min() > 0.45 * sample_rate or k * 200 > 9000:
            break
        voice += np.sin(k * phase) * _formant_gain(fk, formants) / k ** tilt
    # Syllable envelopes and consonants: a short noise burst at most syllable onsets.
    env = np.ones(n)
    start = 0
    b, a = sps.butter(2, [2500 / (sample_rate / 2), min(9000, 0.45 * sample_rate) / (sample_rate / 2)], "band")
    consonants = np.zeros(n)
    for c in counts:
        ramp = min(int(0.03 * sample_rate), c // 2)
        env[start : start + ramp] *= np.linspace(0.2, 1, ramp)
        env[start + c - ramp : start + c] *= np.linspace(1, 0.3, ramp)
        if rng.random() < 0.6:
            m = min(int(rng.uniform(0.03, 0.08) * sample_rate), c)
            burst = sps.lfilter(b, a, rng.standard_normal(m)) * np.hanning(m) * rng.uniform(0.1, 0.25)
            consonants[start : start + m] += burst
        start += c
    edge = min(int(0.05 * sample_rate), n // 2)
    env[:edge] *= np.linspace(0, 1, edge)
    env[n - edge :] *= np.linspace(1, 0, edge)
    aspiration = sps.lfilter(b, a, rng.standard_normal(n)) * breathiness
    voice = voice / (np.max(np.abs(voice)) + 1e-9)
    return voice * env + aspiration * env + consonants


def render_vocals(plan, rng, *, sample_rate=DATASET_SAMPLE_RATE) -> np.ndarray:
    """Render the vocal stem as ``(2, n_samples)``: phrases of a melody in the key, with breaths and silences.

    Phrases last one or two bars and are followed by at least half a bar of rest, so about a third of the
    song has no voice.

    Used by: helpers.synth.make_song
    """
    n = int(plan["duration"] * sample_rate)
    track = np.zeros(n)
    scale = SCALES[plan["mode"]]
    low = 55 + rng.integers(0, 6)  # voice range about G3..A4 (+ an octave for some songs)
    register = int(rng.choice([0, 0, 12])) if low < 58 else 0
    degrees = [d + 7 * o for o in range(-1, 3) for d in range(7)]
    pitches_in_key = sorted({plan["key"] + 12 * (d // 7) + scale[d % 7] + 48 + register for d in degrees})
    singable = [p for p in pitches_in_key if low + register <= p <= low + register + 14]
    t = rng.uniform(0, 2) * plan["beat"]  # first entry
    while t < plan["duration"] - plan["beat"]:
        phrase_beats = float(rng.choice([3, 4, 6, 8]))
        pitches, durations, vowels = [], [], []
        idx = int(rng.integers(len(singable)))
        used = 0.0
        while used < phrase_beats:
            length = float(rng.choice([0.5, 0.5, 1.0, 1.0, 1.5, 2.0]))
            length = min(length, phrase_beats - used)
            idx = int(np.clip(idx + rng.choice([-2, -1, -1, 0, 1, 1, 2, 3]), 0, len(singable) - 1))
            pitches.append(singable[idx])
            durations.append(length * plan["beat"])
            vowels.append(str(rng.choice(list(VOWELS))))
            used += length
        # A breath just before the phrase.
        breath_len = int(0.25 * sample_rate)
        b, a = sps.butter(2, [600 / (sample_rate / 2), 4000 / (sample_rate / 2)], "band")
        breath = sps.lfilter(b, a, rng.standard_normal(breath_len)) * np.hanning(breath_len) * 0.06
        _place(track, t - 0.3, breath, sample_rate)
        _place(track, t, sing(pitches, durations, vowels, sample_rate=sample_rate, rng=rng) * rng.uniform(0.7, 0.9),
               sample_rate)
        t += phrase_beats * plan["beat"] + float(rng.choice([2, 3, 4, 4, 6])) * plan["beat"]
    return _pan(track, rng.uniform(-0.15, 0.15))


# ----------------------------------------------------------------------------------------------- songs


def _level(stem: np.ndarray, target_rms_db: float) -> np.ndarray:
    """Scale a stem so that its RMS over the non-silent part is ``target_rms_db`` dBFS."""
    active = np.abs(stem).max(axis=0) > 1e-4
    rms = np.sqrt(np.mean(stem[:, active] ** 2)) if active.any() else 0.0
    return stem if rms == 0 else stem * (10 ** (target_rms_db / 20) / rms)


def make_song(seed: int, index: int, subset: str = "train", *, duration: float = 10.0,
              sample_rate: int = DATASET_SAMPLE_RATE) -> tuple[dict, dict]:
    """Synthesise one song: four stems and their mixture.

    Taught in: notebooks/01_waveforms_and_mixtures.ipynb

    Parameters
    ----------
    seed : int >= 0
        Dataset seed; the song is drawn from ``default_rng([seed, subset_code, index])``.
    index : int >= 0
        Song number within the subset.
    subset : {"train", "test"}
    duration : float > 0
        Seconds.
    sample_rate : int > 0
        In Hz.

    Returns
    -------
    audio : dict[str, np.ndarray [shape=(2, n_samples), dtype=float32]]
        ``vocals``, ``drums``, ``bass``, ``other`` and ``mixture`` (their float32 sum, peak <= 0.9).
    plan : dict
        The musical plan (see :func:`plan_song`) plus the track ``name``.

    Raises
    ------
    ParameterError
        If ``duration`` or ``sample_rate`` is not positive or ``subset`` is unknown.
    """
    if duration <= 0 or sample_rate <= 0:
        raise ParameterError(f"duration={duration} and sample_rate={sample_rate} must be positive")
    if subset not in ("train", "test"):
        raise ParameterError(f"subset={subset!r} must be 'train' or 'test'")
    rng = np.random.default_rng([seed, {"train": 0, "test": 1}[subset], index])
    plan = plan_song(rng, duration=duration)
    stems = {
        "vocals": _level(render_vocals(plan, rng, sample_rate=sample_rate), rng.uniform(-20, -15)),
        "drums": _level(render_drums(plan, rng, sample_rate=sample_rate), rng.uniform(-22, -16)),
        "bass": _level(render_bass(plan, rng, sample_rate=sample_rate), rng.uniform(-22, -17)),
        "other": _level(render_other(plan, rng, sample_rate=sample_rate), rng.uniform(-24, -18)),
    }
    peak = np.max(np.abs(sum(stems.values())))
    gain = 0.9 / peak if peak > 0.9 else 1.0
    audio = {name: (stem * gain).astype(np.float32) for name, stem in stems.items()}
    mixture = np.zeros_like(audio["vocals"])
    for name in STEMS:
        mixture += audio[name]
    audio["mixture"] = mixture
    key = NOTE_NAMES[plan["key"]]
    plan["name"] = f"{index:03d} - {key} {plan['mode']} {plan['bpm']} bpm"
    return audio, plan


def make_duet(seed: int, index: int, subset: str = "train", *, duration: float = 8.0,
              sample_rate: int = DATASET_SAMPLE_RATE) -> tuple[dict, dict]:
    """Synthesise one piano + violin duet (for the waveform FNN of notebook 02).

    The piano plays the chords of a progression; the violin (a bowed, vibrato harmonic tone through fixed body
    resonances) plays a melody above it.

    Used by: helpers.synth (the duets of notebook 02, written with the songs)

    Parameters
    ----------
    seed, index, subset, duration, sample_rate
        As in :func:`make_song`.

    Returns
    -------
    audio : dict[str, np.ndarray [shape=(2, n_samples), dtype=float32]]
        ``piano``, ``violin`` and ``mixture``.
    plan : dict
    """
    if duration <= 0 or sample_rate <= 0:
        raise ParameterError(f"duration={duration} and sample_rate={sample_rate} must be positive")
    if subset not in ("train", "test"):
        raise ParameterError(f"subset={subset!r} must be 'train' or 'test'")
    rng = np.random.default_rng([seed, 2 + {"train": 0, "test": 1}[subset], index])
    plan = plan_song(rng, duration=duration)
    n = int(duration * sample_rate)
    piano = np.zeros(n)
    bar_length = 4 * plan["beat"]
    for bar in range(plan["n_bars"]):
        pitches = np.concatenate([[chord_pitches(plan, bar, octave_root=36)[0]],
                                  chord_pitches(plan, bar, octave_root=48)])
        n_hits = int(rng.choice([1, 2, 4]))
        for hit in range(n_hits):
            for p in pitches:
                note = _piano_note(midi_to_hz(p), bar_length / n_hits, sample_rate, rng) * rng.uniform(0.5, 0.7)
                _place(piano, bar * bar_length + hit * bar_length / n_hits, note, sample_rate)
    violin = np.zeros(n)
    scale = SCALES[plan["mode"]]
    melody = [plan["key"] + 72 + 12 * (d // 7) + scale[d % 7] for d in range(-3, 8)]
    t, idx = 0.0, int(rng.integers(3, 8))
    b_body, a_body = sps.iirpeak(450 / (sample_rate / 2), 2)
    while t < duration:
        length = float(rng.choice([0.5, 1.0, 1.0, 2.0])) * plan["beat"]
        idx = int(np.clip(idx + rng.choice([-2, -1, 0, 1, 2]), 0, len(melody) - 1))
        m = int(length * sample_rate)
        tt = np.arange(m) / sample_rate
        f0 = midi_to_hz(melody[idx] + 0.15 * np.sin(2 * np.pi * 5.5 * tt) * np.minimum(1, tt / 0.2))
        tone = _additive(f0, [1 / k for k in range(1, 16)], sample_rate, rng.uniform(0, 2 * np.pi))
        env = np.minimum(1, tt / 0.06) * np.minimum(1, (length - tt) / 0.05)
        _place(violin, t, tone * env * 0.4, sample_rate)
        t += length
    violin = sps.lfilter(b_body, a_body, violin) * 0.5 + violin
    stems = dict(zip(DUET_SOURCES, (_level(_pan(piano, rng.uniform(-0.4, 0.0)), rng.uniform(-20, -16)),
                                    _level(_pan(violin, rng.uniform(0.0, 0.4)), rng.uniform(-20, -16)))))
    peak = np.max(np.abs(sum(stems.values())))
    gain = 0.9 / peak if peak > 0.9 else 1.0
    audio = {name: (stem * gain).astype(np.float32) for name, stem in stems.items()}
    audio["mixture"] = audio["piano"] + audio["violin"]
    plan["name"] = f"duet {index:03d} - {NOTE_NAMES[plan['key']]} {plan['mode']}"
    return audio, plan


def _write_track(job) -> str:
    """Write one song's stems, atomically: into a temporary folder beside the set, then renamed into place."""
    kind, seed, index, subset, duration, sample_rate, folder = job
    if kind == "soundfont":
        from helpers import soundfont  # here, not at the top: helpers.soundfont imports this module

        make = soundfont.make_song
    else:
        make = make_song if kind == "numpy" else make_duet
    signals, plan = make(seed, index, subset, duration=duration, sample_rate=sample_rate)
    track_dir = Path(folder) / ("test" if subset == "heldout" else subset) / plan["name"]
    (Path(folder) / _PARTIAL).mkdir(parents=True, exist_ok=True)
    partial = Path(tempfile.mkdtemp(dir=Path(folder) / _PARTIAL))
    for name, signal in signals.items():
        audio_io.save(partial / f"{name}.wav", signal, sample_rate)
    if track_dir.exists():  # left by a run that stopped before it recorded its settings
        shutil.rmtree(track_dir)
    track_dir.parent.mkdir(parents=True, exist_ok=True)
    partial.replace(track_dir)
    return plan["name"]


# Songs being written; never listed by musdb, which reads only the subset folders.
_PARTIAL = ".partial"
# The settings that count songs: the folder under the set's root that holds them, and the subset they are drawn for.
_COUNTS = {"n_train": ("", "train"), "n_test": ("", "test"), "n_heldout": ("heldout", "heldout"),
           "n_duets_train": ("duets", "train"), "n_duets_test": ("duets", "test")}


def _tracks_folder(root: Path, count: str) -> Path:
    sub_root, subset = _COUNTS[count]
    return root / sub_root / ("test" if subset == "heldout" else subset)


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
        for sub in ("train", "test", "duets", "heldout", _PARTIAL):
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
             progress: bool = True, engine: str = "auto", n_heldout: int = 10, at_least: bool = False) -> Path:
    """Write the embedded dataset under ``root``, unless an identical one is already there.

    The settings are stored in ``root/settings.json``; a second call with the same settings returns at once
    (idempotent). Song ``i`` of a subset depends only on the seed, engine, duration and sample rate, so a call that
    changes only the numbers of songs writes the missing ones and removes the extra ones; any other change rebuilds
    the set. :func:`ensure` asks for at least some songs, as each notebook does.

    Two engines make the songs: ``"soundfont"`` (:mod:`helpers.soundfont`: sampled General MIDI instruments and
    produced stems, what the shipped models learn from) and ``"numpy"`` (this module's synthesizer, built from sines
    and noise, the fallback where no SoundFont renderer or bank can be installed). With the SoundFont engine a
    **held-out split** is also written, ``root/heldout/test``: songs from another bank, other singers and other
    effect settings (:func:`helpers.data.load_tracks` with ``subset="heldout"``). The duets are always NumPy.

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
    n_heldout : int >= 0
        Songs in the held-out split (SoundFont engine only; skipped, with one line, when its bank is missing).
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
                        ("n_duets_test", n_duets_test), ("seed", seed), ("n_heldout", n_heldout)):
        check_int(name, value, minimum=0)
    check_int("sample_rate", sample_rate)
    check_int("workers", workers)
    for name, value in (("duration", duration), ("duet_duration", duet_duration)):
        if not value > 0:
            raise ParameterError(f"{name}={value!r} must be positive")
    engine = choose_engine(engine)
    if engine == "soundfont" and n_heldout:
        from helpers import soundfont

        reason = soundfont.missing("heldout")
        if reason:
            print(f"generate: held-out split skipped: {reason}", file=sys.stderr)
            n_heldout = 0
    elif engine == "numpy":
        n_heldout = 0
    root = Path(root) if root is not None else generated_root()
    settings = {"n_train": n_train, "n_test": n_test, "duration": duration, "seed": seed,
                "n_duets_train": n_duets_train, "n_duets_test": n_duets_test, "duet_duration": duet_duration,
                "sample_rate": sample_rate, "engine": engine, "n_heldout": n_heldout, "version": 4}
    return _build(root, settings, exact=not at_least, force=force, workers=workers, progress=progress)


def ensure(*, n_train: int = 0, n_test: int = 0, n_heldout: int = 0, n_duets_train: int = 0, n_duets_test: int = 0,
           root=None, progress: bool = True) -> Path:
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
    n_train, n_test, n_heldout, n_duets_train, n_duets_test : int >= 0
        The least number of songs per subset (the held-out split needs the SoundFont engine and its second bank;
        without them it is skipped with one line).
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
                    progress=progress, n_heldout=n_heldout, at_least=True)


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
    from helpers import soundfont

    if engine not in ENGINES:
        raise ParameterError(f"engine={engine!r} must be one of {ENGINES}")
    if engine == "numpy":
        return engine
    reason = soundfont.missing("train")
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
    """Command line: ``python -m helpers.synth [options]`` (also ``make data``).

    Used by: helpers.synth (``python -m helpers.synth``), Makefile (``make data``)
    """
    parser = argparse.ArgumentParser(
        prog="python -m helpers.synth",
        description="Generate the course's multitrack dataset (MUSDB18 layout), a held-out split and piano+violin duets. "
                    "Re-running with the same options does nothing; other numbers of songs add or remove songs, other options "
                    "rebuild the set.",
    )
    parser.add_argument("--root", type=Path, default=None,
                        help="output folder (default: data/generated, or $COURSE_DATA/generated)")
    parser.add_argument("--n-train", type=int, default=100, help="songs in the train subset (default: %(default)s)")
    parser.add_argument("--n-test", type=int, default=10, help="songs in the test subset (default: %(default)s)")
    parser.add_argument("--duration", type=float, default=10.0, help="song length in seconds (default: %(default)s)")
    parser.add_argument("--n-duets-train", type=int, default=20, help="piano+violin duets for training (default: %(default)s)")
    parser.add_argument("--n-duets-test", type=int, default=5, help="piano+violin duets for testing (default: %(default)s)")
    parser.add_argument("--duet-duration", type=float, default=8.0, help="duet length in seconds (default: %(default)s)")
    parser.add_argument("--seed", type=int, default=0, help="dataset seed; same seed, same bytes (default: %(default)s)")
    parser.add_argument("--sample-rate", type=int, default=DATASET_SAMPLE_RATE, help="in Hz (default: %(default)s)")
    parser.add_argument("--workers", type=int, default=2, help="synthesis processes (default: %(default)s)")
    parser.add_argument("--force", action="store_true", help="rebuild even if the same set exists")
    parser.add_argument("--engine", choices=ENGINES, default="auto",
                        help="songs from sampled SoundFont instruments, from the NumPy synthesizer, or the first "
                             "that can run (default: %(default)s)")
    parser.add_argument("--n-heldout", type=int, default=10,
                        help="songs in the held-out split (another bank; SoundFont engine) (default: %(default)s)")
    parser.add_argument("--demo-song", type=Path, default=None, metavar="PATH",
                        help="also write a long mixture of the test songs, one after another, to PATH")
    parser.add_argument("--demo-seconds", type=float, default=180.0,
                        help="length of the demo song in seconds (default: %(default)s)")
    args = parser.parse_args(argv)
    try:
        root = generate(args.root, n_train=args.n_train, n_test=args.n_test, duration=args.duration, seed=args.seed,
                        n_duets_train=args.n_duets_train, n_duets_test=args.n_duets_test,
                        duet_duration=args.duet_duration, sample_rate=args.sample_rate, workers=args.workers,
                        force=args.force, engine=args.engine, n_heldout=args.n_heldout)
        if args.demo_song is not None:
            print(f"demo song written to {demo_song(args.demo_song, duration=args.demo_seconds, root=root)}")
    except ParameterError as exc:
        print(f"synth: error: {exc}", file=sys.stderr)
        return 2
    print(f"dataset ready in {root}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
