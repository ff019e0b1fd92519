"""The musical plan of a song: tempo, key, mode, chords, sections and melody, shared by every engine.

An engine turns the plan into sound (:mod:`helpers.songs.numpy_engine` from sines and noise,
:mod:`helpers.songs.soundfont_engine` from sampled instruments); the plan itself is only numbers, drawn from one
``np.random.Generator`` so that the same seed gives the same song.

Used by: helpers.songs.numpy_engine, helpers.songs.soundfont_engine, helpers.songs.voices, helpers.checkers
"""

from __future__ import annotations

import numpy as np

NOTE_NAMES = ("C", "C#", "D", "Eb", "E", "F", "F#", "G", "Ab", "A", "Bb", "B")
SCALES = {"major": (0, 2, 4, 5, 7, 9, 11), "minor": (0, 2, 3, 5, 7, 8, 10)}
# Progressions as scale degrees (0-based), one chord per bar.
PROGRESSIONS = {
    "major": ((0, 4, 5, 3), (0, 5, 3, 4), (0, 3, 0, 4), (5, 3, 0, 4), (0, 3, 4, 3)),
    "minor": ((0, 5, 2, 6), (0, 3, 4, 0), (0, 6, 5, 6), (0, 3, 6, 2), (0, 5, 3, 4)),
}
# Vowel formants (F1, F2, F3) in Hz for a mid-range voice, after Peterson & Barney (1952).


def midi_to_hz(midi):
    """Convert MIDI note numbers to frequency in Hz (A4 = MIDI 69 = 440 Hz).

    Used by: helpers.checkers
    """
    return 440.0 * 2.0 ** ((np.asarray(midi, dtype=float) - 69) / 12)


# ----------------------------------------------------------------------------------------------- song plan


def plan_song(rng: np.random.Generator, *, duration: float) -> dict:
    """Draw the musical plan of one song: tempo, key, mode, progression, swing.

    Used by: helpers.songs.numpy_engine, helpers.songs.soundfont_engine

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

    Used by: helpers.songs.numpy_engine, helpers.songs.soundfont_engine
    """
    scale = SCALES[plan["mode"]]
    degree = plan["progression"][bar % len(plan["progression"])]
    notes = [degree + step for step in (0, 2, 4)]
    return np.array([octave_root + plan["key"] + 12 * (n // 7) + scale[n % 7] for n in notes])



def melody(plan, rng, *, low: int, span: int = 14, rest_beats=(2, 3, 4, 4, 6)) -> list:
    """A melody in phrases: ``[(start_s, pitches, durations_s), ...]``, notes of the key within ``span`` semitones.

    Used by: helpers.songs.soundfont_engine.lead_part, helpers.songs.soundfont_engine.vocal_stem
    """
    scale = SCALES[plan["mode"]]
    in_key = sorted({plan["key"] + 12 * o + d for o in range(0, 10) for d in scale})
    singable = [p for p in in_key if low <= p <= low + span]
    phrases = []
    t = float(rng.uniform(0, 2)) * plan["beat"]
    while t < plan["duration"] - plan["beat"]:
        phrase_beats = float(rng.choice([3, 4, 6, 8]))
        idx, used, pitches, durations = int(rng.integers(len(singable))), 0.0, [], []
        while used < phrase_beats:
            length = min(float(rng.choice([0.5, 0.5, 1.0, 1.0, 1.5, 2.0])), phrase_beats - used)
            idx = int(np.clip(idx + rng.choice([-2, -1, -1, 0, 1, 1, 2, 3]), 0, len(singable) - 1))
            pitches.append(singable[idx])
            durations.append(length * plan["beat"])
            used += length
        phrases.append((t, pitches, durations))
        t += phrase_beats * plan["beat"] + float(rng.choice(rest_beats)) * plan["beat"]
    return phrases




# Chances that a bar goes without a stem: the first bar (an intro), any other bar, and one longer stretch (a
# bridge without drums, a break without vocals) of 1-3 bars. The hard split leaves the vocals out for longer.
SECTION_RATES = {"train": {"vocals": (0.7, 0.45, 0.6), "drums": (0.3, 0.06, 0.3)},
                 "heldout": {"vocals": (0.7, 0.45, 0.6), "drums": (0.3, 0.06, 0.3)},
                 "hard": {"vocals": (0.8, 0.45, 0.7), "drums": (0.3, 0.06, 0.3)}}


def arrange(plan: dict, rng: np.random.Generator, *, style: str = "train") -> dict:
    """Sections: in which bars the vocals and the drums play (an intro, breaks, a bridge without drums).

    A model must learn to output silence where its target is absent, so every song has some bars without vocals
    and many have bars without drums (:data:`SECTION_RATES`). Each stem keeps at least one bar.

    Used by: helpers.songs.soundfont_engine.make_song

    Parameters
    ----------
    plan : dict
        From :func:`plan_song`.
    rng : np.random.Generator
    style : {"train", "heldout", "hard"}

    Returns
    -------
    sections : dict[str, list of bool]
        ``{"vocals": [...], "drums": [...]}``, one flag per bar (``True``: the stem plays).
    """
    n_bars = plan["n_bars"]
    sections = {}
    for stem, (intro, bar, stretch) in SECTION_RATES[style].items():
        playing = [not (rng.random() < (intro if b == 0 else bar)) for b in range(n_bars)]
        if n_bars > 2 and rng.random() < stretch:
            length = int(rng.integers(1, min(3, n_bars - 1) + 1))
            first = int(rng.integers(1, n_bars - length + 1))
            playing[first:first + length] = [False] * length
        if not any(playing):
            playing[int(rng.integers(n_bars))] = True
        sections[stem] = playing
    return sections
