"""The NumPy engine: songs synthesised from first principles, with sines, noise and filters.

Notebook 01's example of how a multitrack song is made, and the fallback where no SoundFont renderer or bank can be
installed. Each song has a tempo, key, mode and chord progression (:mod:`helpers.songs.plan`); the stems are

- **drums**: kick (pitch-swept sine), snare (tone + band-passed noise), closed/open hi-hat and crash (high-passed
  noise), toms in fills; velocity, swing, a fill at the end of every fourth bar;
- **bass**: the chord roots (and fifths, octaves) in a rhythm, a low-passed additive tone, energy below ~300 Hz;
- **other**: chords and arpeggios from an additive piano, a detuned pad, or Karplus–Strong plucked strings [1]_;
- **vocals**: a melody in the key sung by the source–filter voice (:func:`helpers.songs.voices.sing`), with
  breaths and silent gaps between phrases, so the voice is absent part of the time, as in real songs.

Each stem gets a random level and pan; one shared gain keeps the mixture below full scale, so
``mixture == sum(stems)`` to float32 precision. The piano + violin duets of notebook 02 are made here too.

Taught in: notebooks/01_waveforms_and_mixtures.ipynb

References
----------
.. [1] Karplus & Strong, "Digital synthesis of plucked-string and drum timbres", Computer Music Journal 7(2), 1983.
"""

from __future__ import annotations

import functools

import numpy as np
from scipy import signal as sps

from helpers.config import DATASET_SAMPLE_RATE, DUET_SOURCES, STEMS
from helpers.exceptions import ParameterError
from helpers.songs.plan import NOTE_NAMES, SCALES, chord_pitches, midi_to_hz, plan_song
from helpers.songs.production import pan, place
from helpers.songs.voices import VOWELS, sing

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

    Used by: helpers.songs.numpy_engine.make_song
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
            place(tracks["crash"], bar_start, kit["crash"] * rng.uniform(0.6, 1.0), sample_rate)
        for step in range(16):
            t = bar_start + step * sixteenth + (plan["swing"] * sixteenth if step % 2 else 0.0)
            velocity = rng.uniform(0.75, 1.0)
            if fill and step >= 8:
                if rng.random() < 0.8:
                    tom = kit["toms"][2 - (step - 8) * 3 // 8] if rng.random() < 0.6 else kit["snare"]
                    place(tracks["snare"], t, tom * velocity * rng.uniform(0.6, 1.0), sample_rate)
                continue
            kick_steps = {0: (0, 8), 1: (0, 6, 10), 2: (0, 3, 8, 11)}[style]
            if step in kick_steps or (rng.random() < 0.06 and step % 2 == 0):
                place(tracks["kick"], t, kit["kick"] * velocity, sample_rate)
            if step in (4, 12):
                place(tracks["snare"], t, kit["snare"] * velocity, sample_rate)
            elif rng.random() < 0.04:
                place(tracks["snare"], t, kit["snare"] * 0.3 * velocity, sample_rate)  # ghost note
            if step % hat_step == 0:
                accent = 1.0 if step % 4 == 0 else 0.6
                sound = kit["open_hat"] if (step == 14 and rng.random() < 0.5) else kit["hat"]
                place(tracks["hat"], t, sound * accent * velocity, sample_rate)
    out = np.zeros((2, n))
    for name, track in tracks.items():
        out += pan(track, pans[name])
    return out


# ----------------------------------------------------------------------------------------------- bass


def render_bass(plan, rng, *, sample_rate=DATASET_SAMPLE_RATE) -> np.ndarray:
    """Render the bass stem as ``(2, n_samples)``: chord roots, fifths and octaves in a rhythm, below ~300 Hz.

    Used by: helpers.songs.numpy_engine.make_song
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
            place(track, bar * 4 * plan["beat"] + step * eighth, note * rng.uniform(0.8, 1.0), sample_rate)
    b, a = sps.butter(2, 400 / (sample_rate / 2))
    return pan(sps.lfilter(b, a, track), rng.uniform(-0.1, 0.1))


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

    Used by: helpers.songs.numpy_engine.make_song
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
                place(chord_track, bar * bar_length + hit * length, note * rng.uniform(0.5, 0.7), sample_rate)
    out += pan(chord_track, rng.uniform(-0.5, 0.5))
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
            place(arp_track, bar * bar_length + i * step, note * rng.uniform(0.25, 0.4), sample_rate)
    out += pan(arp_track, rng.uniform(-0.7, 0.7))
    b, a = sps.butter(2, 40 / (sample_rate / 2), btype="high")  # remove sub-audio drift of the plucked strings
    return sps.lfilter(b, a, out)


# ----------------------------------------------------------------------------------------------- vocals


def render_vocals(plan, rng, *, sample_rate=DATASET_SAMPLE_RATE) -> np.ndarray:
    """Render the vocal stem as ``(2, n_samples)``: phrases of a melody in the key, with breaths and silences.

    Phrases last one or two bars and are followed by at least half a bar of rest, so about a third of the
    song has no voice.

    Used by: helpers.songs.numpy_engine.make_song
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
        place(track, t - 0.3, breath, sample_rate)
        place(track, t, sing(pitches, durations, vowels, sample_rate=sample_rate, rng=rng) * rng.uniform(0.7, 0.9),
               sample_rate)
        t += phrase_beats * plan["beat"] + float(rng.choice([2, 3, 4, 4, 6])) * plan["beat"]
    return pan(track, rng.uniform(-0.15, 0.15))


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

    Used by: helpers.songs.dataset (the duets of notebook 02, written with the songs)

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
                place(piano, bar * bar_length + hit * bar_length / n_hits, note, sample_rate)
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
        place(violin, t, tone * env * 0.4, sample_rate)
        t += length
    violin = sps.lfilter(b_body, a_body, violin) * 0.5 + violin
    stems = dict(zip(DUET_SOURCES, (_level(pan(piano, rng.uniform(-0.4, 0.0)), rng.uniform(-20, -16)),
                                    _level(pan(violin, rng.uniform(0.0, 0.4)), rng.uniform(-20, -16)))))
    peak = np.max(np.abs(sum(stems.values())))
    gain = 0.9 / peak if peak > 0.9 else 1.0
    audio = {name: (stem * gain).astype(np.float32) for name, stem in stems.items()}
    audio["mixture"] = audio["piano"] + audio["violin"]
    plan["name"] = f"duet {index:03d} - {NOTE_NAMES[plan['key']]} {plan['mode']}"
    return audio, plan


