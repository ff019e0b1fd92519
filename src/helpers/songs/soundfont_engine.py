"""The SoundFont engine: note events rendered through recorded samples, then produced and mastered.

:mod:`helpers.songs.numpy_engine` builds every sound from sines and noise, which is how a mixture is made, but a
model trained on it learns that synthesizer. This engine turns the musical plan (:mod:`helpers.songs.plan`) into
**note events** per stem, in the spirit of Slakh2100 [1]_, and plays them on recorded samples:

- **vocals**: a lead melody in phrases, sung by one of several source–filter singers
  (:func:`helpers.songs.voices.sing`: consonants, scoops, drift, varying vibrato) or played by a sampled voice
  (choir aahs, voice oohs, synth voice); often a doubled take and backing vocals (a harmony line or choir chords).
- **drums**: a recorded multi-velocity kit (AVL Drumkits) or one of the bank's GM kits, in one of several grooves,
  with fills, ghost notes, crashes and rides; in some songs a recorded breakbeat or percussion loop (Sonic Pi's
  samples) with it or instead of it; a room around it.
- **bass**: a GM bass (acoustic, finger, pick, fretless, slap, synth) on the chord roots, fifths and octaves.
- **other**: chords, and confounders that make a model choose: sustained pads and choirs in the voice's range, a
  rhythm guitar through an overdriven amp, plucked and percussive sounds, a riff, and a **vocal-like lead** (lead
  synths, solo strings, flute, whistle, sax...) so the only melody is not the vocals.

The arrangement has sections (an intro, breaks, a bridge) without vocals or without drums. Production and mastering
(:mod:`helpers.songs.production`) keep the mixture the exact sum of the stems.

Three **styles** keep the held-out splits honest: ``"train"`` (the Fluid R3 bank, the Black Pearl kit, one set of
loops, singers and effect ranges, used for the train and test subsets), ``"heldout"`` (the MuseScore General bank,
the Red Zeppelin kit, other loops, singers and effect settings never used in training), and ``"hard"`` (the held-out
sounds with quiet targets, dense confounders and long stretches without vocals).

The renderer is TinySoundFont through the ``tinysoundfont`` wheel (MIT): a pip-only sample player that reads SF2 and
SF3 (the Ogg-compressed banks), so no system library is needed on Linux, macOS, Windows or Colab. Its wheel declares
PyAudio (for live playback, which the course does not use), so it is installed with ``--no-deps``. The recorded
sounds are Debian packages (:data:`SOURCES` gives each one's licence); ``make banks`` installs them where apt runs,
``$COURSE_SOUNDFONTS`` and ``$COURSE_SAMPLES`` name folders that hold them elsewhere.

Used by: helpers.songs.dataset (its ``engine="soundfont"``, the engine notebook 01 reports), Makefile (``make banks``)

References
----------
.. [1] Manilow, Wichern, Seetharaman & Le Roux, "Cutting music source separation some Slakh: a dataset to study the
   impact of training data quality and quantity", WASPAA 2019.
"""

from __future__ import annotations

import functools
import os
from pathlib import Path

import numpy as np

from helpers.config import DATASET_SAMPLE_RATE, STEMS
from helpers.exceptions import ParameterError
import helpers.songs.plan as plans
import helpers.songs.production as production
import helpers.songs.voices as voices

# Bank file names, and where Debian, Fedora/Arch and Homebrew put them ($COURSE_SOUNDFONTS first).
BANKS = {"train": "FluidR3_GM.sf2", "heldout": "MuseScore_General.sf3", "hard": "MuseScore_General.sf3"}
BANK_FOLDERS = ("/usr/share/sounds/sf2", "/usr/share/sounds/sf3", "/usr/share/soundfonts",
                "/opt/homebrew/share/soundfonts", "/usr/local/share/soundfonts")
# Recorded multi-velocity drum kits (one SF2 preset each, GM drum map); one per style, so the held-out splits
# hear a kit the training songs never had.
RECORDED_KITS = {"train": "Black_Pearl_4_LV2.sf2", "heldout": "Red_Zeppelin_4_LV2.sf2",
                 "hard": "Red_Zeppelin_4_LV2.sf2"}
# Recorded drum and percussion loops (Sonic Pi's samples, from freesound.org, CC0), as (file stem, beats in the
# loop); disjoint per style. $COURSE_SAMPLES first, then Debian's folder.
LOOPS = {"train": (("loop_amen", 4), ("loop_breakbeat", 4), ("loop_perc1", 4), ("loop_compus", 16)),
         "heldout": (("loop_tabla", 16), ("loop_safari", 16), ("loop_perc2", 4))}
LOOPS["hard"] = LOOPS["heldout"]
SAMPLE_FOLDERS = ("/usr/share/sonic-pi/samples", "/opt/homebrew/share/sonic-pi/samples")
# Every recorded source the engine can play: the file, the package that ships it, its licence and who made it.
SOURCES = {
    "FluidR3_GM.sf2": {"package": "fluid-soundfont-gm", "licence": "MIT",
                       "credit": "Fluid (R3) GM SoundFont, Frank Wen"},
    "MuseScore_General.sf3": {"package": "musescore-general-soundfont", "licence": "MIT",
                              "credit": "MuseScore General SoundFont, S. Christian Collins"},
    "Black_Pearl_4_LV2.sf2": {"package": "avldrums.lv2-soundfont", "licence": "CC-BY-SA-3.0",
                              "credit": "AVL Drumkits (Black Pearl), Glen MacArthur"},
    "Red_Zeppelin_4_LV2.sf2": {"package": "avldrums.lv2-soundfont", "licence": "CC-BY-SA-3.0",
                               "credit": "AVL Drumkits (Red Zeppelin), Glen MacArthur"},
    "sonic-pi loops": {"package": "sonic-pi-samples", "licence": "CC0-1.0",
                       "credit": "Sonic Pi's samples (freesound.org contributors, see its README)"},
}
STYLES = ("train", "heldout", "hard")
# The subsets a song can be drawn for, and the style each is rendered in.
SUBSETS = ("train", "test", "heldout", "hard")
SUBSET_STYLES = {"train": "train", "test": "train", "heldout": "heldout", "hard": "hard"}
# How dense "other" is: the chance of each part beside the chords. The hard split stacks its confounders.
DENSITY = {"train": {"riff": 0.5, "pluck": 0.4, "pad": 0.9, "lead": 0.7, "guitar": 0.75}}
DENSITY["heldout"] = DENSITY["train"]
DENSITY["hard"] = {"riff": 0.5, "pluck": 0.5, "pad": 0.9, "lead": 0.9, "guitar": 0.8}
DRUM_CHANNEL = 9

# General MIDI programs (0-based) per role. Kits are presets of bank 128.
DRUM_KITS = {"train": (0, 8, 16, 24, 25, 32, 40), "heldout": (0, 1, 8, 16, 24, 32, 40)}
DRUM_KITS["hard"] = DRUM_KITS["heldout"]
BASS_PROGRAMS = (32, 33, 34, 35, 36, 37, 38, 39)
CHORD_PROGRAMS = (0, 1, 2, 4, 5, 16, 17, 18, 19, 24, 25, 26, 27, 29, 30, 48, 49, 50, 61, 88, 89, 90, 91, 94, 95)
RIFF_PROGRAMS = (0, 4, 6, 8, 11, 12, 13, 24, 25, 26, 27, 28, 45, 46, 105, 107)
# Vocal-like leads for the "other" stem: synth leads, solo strings, reeds, brass, flutes and a whistle.
LEAD_PROGRAMS = (40, 41, 42, 56, 64, 65, 66, 68, 71, 73, 75, 78, 79, 80, 81, 82, 84, 87)
VOICE_PROGRAMS = (52, 53, 54)  # choir aahs, voice oohs, synth voice
# Sustained pads under the voice, in its range: strings, choir and voice pads, synth pads.
PAD_PROGRAMS = (48, 49, 50, 51, 52, 53, 54, 88, 89, 90, 91, 92, 94, 95)
# Guitars for the amp (helpers.songs.production.amp): clean and muted ones driven hard, and GM's own overdrive.
GUITAR_PROGRAMS = (25, 26, 27, 28, 29, 30)
# Plucked and percussive sounds: harp, pizzicato, mallets, kalimba, steel drums, koto.
PLUCK_PROGRAMS = (11, 12, 13, 45, 46, 107, 108, 114)


def _find(name: str, folders, variable: str) -> Path | None:
    extra = [os.environ[variable]] if os.environ.get(variable) else []
    for folder in [*extra, *folders]:
        path = Path(folder, name)
        if path.is_file():
            return path
    return None


def find_bank(style: str = "train") -> Path | None:
    """The SoundFont file of a style, or ``None`` when it is not installed.

    Looks in ``$COURSE_SOUNDFONTS`` first, then in the system's SoundFont folders (Debian's ``/usr/share/sounds``,
    ``/usr/share/soundfonts``, Homebrew's).

    Used by: helpers.songs.soundfont_engine.missing, helpers.songs.soundfont_engine.make_song

    Parameters
    ----------
    style : {"train", "heldout", "hard"}

    Returns
    -------
    path : pathlib.Path or None

    Raises
    ------
    ParameterError
        If ``style`` is unknown.
    """
    if style not in STYLES:
        raise ParameterError(f"style={style!r} must be one of {STYLES}")
    return _find(BANKS[style], BANK_FOLDERS, "COURSE_SOUNDFONTS")


def find_kit(style: str = "train") -> Path | None:
    """The recorded drum kit of a style (an SF2 of ``avldrums.lv2-soundfont``), or ``None`` when not installed.

    Used by: helpers.songs.soundfont_engine.make_song, helpers.songs.soundfont_engine.optional_missing
    """
    return _find(RECORDED_KITS[style], BANK_FOLDERS, "COURSE_SOUNDFONTS")


def find_loops(style: str = "train") -> list:
    """The recorded loops of a style that are installed: ``[(path, beats), ...]`` (Sonic Pi's samples).

    Used by: helpers.songs.soundfont_engine.make_song, helpers.songs.soundfont_engine.optional_missing
    """
    found = [(_find(f"{name}.flac", SAMPLE_FOLDERS, "COURSE_SAMPLES"), beats) for name, beats in LOOPS[style]]
    return [(path, beats) for path, beats in found if path is not None]


def missing(style: str = "train") -> str | None:
    """``None`` when songs of ``style`` can be rendered here, else one line saying what is missing and what to do.

    Used by: helpers.songs.dataset, Makefile
    """
    try:
        import tinysoundfont  # noqa: F401
    except ImportError:
        return ("the SoundFont renderer is not installed (pip install --no-deps tinysoundfont; `make setup` "
                "does it)")
    if style not in STYLES:
        raise ParameterError(f"style={style!r} must be one of {STYLES}")
    if find_bank(style) is None:
        return (f"the {style} SoundFont {BANKS[style]} was not found (apt install {SOURCES[BANKS[style]]['package']}, "
                "`make banks`, or set COURSE_SOUNDFONTS to a folder that holds it)")
    return None


def optional_missing(style: str = "train") -> list:
    """The optional recorded sources of a style that are not installed, each as one line naming the fallback.

    Used by: helpers.songs.dataset, Makefile
    """
    lines = []
    if find_kit(style) is None:
        lines.append(f"the recorded kit {RECORDED_KITS[style]} was not found (apt install avldrums.lv2-soundfont); "
                     "the songs use the bank's own drum kits")
    if not find_loops(style):
        lines.append("Sonic Pi's recorded loops were not found (apt install sonic-pi-samples, or set COURSE_SAMPLES); "
                     "the drums are played from kits only")
    return lines


def sources(style: str = "train") -> list:
    """The recorded sources a style's songs are played from here, for a model card: file, package, licence.

    Used by: helpers.train
    """
    used = [BANKS[style]]
    if find_kit(style) is not None:
        used.append(RECORDED_KITS[style])
    loops = find_loops(style)
    if loops:
        used.append("sonic-pi loops")
    return [{"file": name, **SOURCES[name],
             **({"files": [p.name for p, _ in loops]} if name == "sonic-pi loops" else {})} for name in used]


@functools.lru_cache(maxsize=4)
def _synth(path: str, sample_rate: int):
    """One TinySoundFont player per bank and rate per process (loading an SF3 bank takes seconds)."""
    import tinysoundfont

    player = tinysoundfont.Synth(gain=-6.0, samplerate=sample_rate)
    return player, player.sfload(path)


# ----------------------------------------------------------------------------------------------- note events


def render_parts(parts: list, *, duration: float, bank, sample_rate: int = DATASET_SAMPLE_RATE) -> np.ndarray:
    """Render note events through a SoundFont: the sample-accurate MIDI player of a stem.

    Used by: helpers.songs.soundfont_engine.vocal_stem, helpers.songs.soundfont_engine.make_song

    Parameters
    ----------
    parts : list of dict
        One per instrument (at most 15): ``program`` (GM, 0–127), ``drums`` (bool: a kit, of bank 128 unless
        ``preset_bank`` says otherwise), ``pan`` (-1..1), ``volume`` (0..1) and ``notes``, a list of
        ``(start_s, end_s, pitch, velocity)``.
    duration : float
        Seconds to render (notes past it are cut).
    bank : str or os.PathLike
        An SF2 or SF3 file.
    sample_rate : int
        Hz.

    Returns
    -------
    audio : np.ndarray [shape=(2, round(duration * sample_rate))], float32

    Raises
    ------
    ParameterError
        If there are more than 15 parts or a note's times are not ordered.
    """
    if len(parts) > 15:
        raise ParameterError(f"{len(parts)} parts; one stem renders at most 15")
    player, sfid = _synth(str(bank), int(sample_rate))
    _reset(player, sample_rate)
    n = int(round(duration * sample_rate))
    events = []  # (sample, order, kind, channel, pitch, velocity); note-offs sort before note-ons
    channels = [DRUM_CHANNEL if p.get("drums") else c for c, p in
                zip((c for c in range(16) if c != DRUM_CHANNEL), parts)]
    for channel, part in zip(channels, parts):
        if part.get("drums"):
            try:
                player.program_select(channel, sfid, part.get("preset_bank", 128), int(part["program"]), True)
            except RuntimeError:
                player.program_select(channel, sfid, part.get("preset_bank", 128), 0, True)
        else:
            player.program_select(channel, sfid, 0, int(part["program"]))
        player.control_change(channel, 10, int(round(63.5 + 63.5 * np.clip(part.get("pan", 0.0), -1, 1))))
        player.control_change(channel, 7, int(round(127 * np.clip(part.get("volume", 0.8), 0, 1))))
        for start, end, pitch, velocity in part["notes"]:
            if end < start:
                raise ParameterError(f"a note ends ({end}) before it starts ({start})")
            events.append((int(round(start * sample_rate)), 1, "on", channel, int(pitch), int(velocity)))
            events.append((int(round(end * sample_rate)), 0, "off", channel, int(pitch), 0))
    events.sort(key=lambda e: (e[0], e[1]))
    out = np.zeros((n, 2), dtype=np.float32)
    cursor = 0
    for sample, _, kind, channel, pitch, velocity in events:
        sample = min(max(sample, 0), n)
        if sample > cursor:
            player.generate(sample - cursor, memoryview(out[cursor:sample]).cast("B"))
            cursor = sample
        if kind == "on":
            player.noteon(channel, pitch, max(1, min(127, velocity)))
        else:
            player.noteoff(channel, pitch)
    if cursor < n:
        player.generate(n - cursor, memoryview(out[cursor:]).cast("B"))
    _reset(player, sample_rate)
    return np.ascontiguousarray(out.T)


def _reset(player, sample_rate: int) -> None:
    """Silence the shared player and reset its channels, so a render never depends on the one before it."""
    player.sounds_off()
    for channel in range(16):
        player.control_change(channel, 121, 0)  # reset all controllers
        player.pitchbend(channel, 8192)
    player.generate(int(0.1 * sample_rate))  # let the killed voices' short fade-outs finish


def _humanise(rng, t, amount=0.006):
    return max(0.0, t + rng.normal(0, amount))


def drum_part(plan, rng, *, style="train", recorded: bool = False) -> dict:
    """The drum kit's note events: a groove, hats or ride, crashes on sections, ghost notes and fills, in the bars
    where ``plan["sections"]["drums"]`` says the drums play. ``recorded``: for a recorded kit (GM note map, preset 0
    of bank 0, no second kick on 35).

    Used by: helpers.songs.soundfont_engine.make_song
    """
    kick, snare = (36 if recorded else int(rng.choice([35, 36]))), int(rng.choice([38, 38, 40]))
    ride = rng.random() < 0.45
    top = 51 if ride else int(rng.choice([42, 42, 44]))
    grooves = {0: ((0, 8), (4, 12)), 1: ((0, 6, 10), (4, 12)), 2: ((0, 3, 8, 11), (4, 12)),
               3: ((0, 8, 10), (4, 12)), 4: ((0, 4, 8, 12), (4, 12)), 5: ((0, 10), (8,))}  # 5: half time
    kicks, snares = grooves[int(rng.integers(len(grooves)))]
    top_step = int(rng.choice([1, 2, 2, 4]))
    sixteenth = plan["beat"] / 4
    notes = []
    for bar in range(plan["n_bars"]):
        bar_start = bar * 4 * plan["beat"]
        fill = bar % 4 == 3 and rng.random() < 0.7
        if not plan["sections"]["drums"][bar]:  # a break or a bridge: the kit drops out
            continue
        if bar % 2 == 0 and rng.random() < 0.8:
            notes.append((bar_start, bar_start + 1.5, int(rng.choice([49, 57])), int(rng.integers(90, 120))))
        for step in range(16):
            t = bar_start + step * sixteenth + (plan["swing"] * sixteenth if step % 2 else 0.0)
            t = _humanise(rng, t)
            if fill and step >= 8:
                if rng.random() < 0.75:
                    pitch = int(rng.choice([50, 48, 47, 45, 43, 41][(step - 8) // 2:][:2] + [snare]))
                    notes.append((t, t + 0.2, pitch, int(rng.integers(80, 120))))
                continue
            if step in kicks or (rng.random() < 0.05 and step % 2 == 0):
                notes.append((t, t + 0.2, kick, int(rng.integers(95, 125))))
            if step in snares:
                notes.append((t, t + 0.2, snare, int(rng.integers(95, 125))))
            elif rng.random() < 0.05:
                notes.append((t, t + 0.1, snare, int(rng.integers(25, 50))))  # ghost note
            if step % top_step == 0:
                accent = 1.0 if step % 4 == 0 else 0.7
                pitch = 46 if (not ride and step == 14 and rng.random() < 0.4) else top
                notes.append((t, t + 0.1, pitch, int(accent * rng.integers(70, 110))))
    if recorded:
        return {"program": 0, "preset_bank": 0, "drums": True, "pan": 0.0, "volume": 0.9, "notes": notes}
    kit = int(rng.choice(DRUM_KITS[style]))
    return {"program": kit, "drums": True, "pan": 0.0, "volume": 0.9, "notes": notes}


def loop_layer(plan, rng, loops, *, sample_rate: int) -> np.ndarray:
    """A recorded loop (a breakbeat or percussion) played in time with the song, in the bars with drums.

    The loop's ``beats`` fix its tempo; it is resampled (varispeed: tempo and pitch together, as a sampler does)
    to the song's, doubling or halving the beats it spans when that is closer, then repeated bar by bar.

    Used by: helpers.songs.soundfont_engine.make_song

    Returns
    -------
    layer : np.ndarray [shape=(2, n_samples)]
    """
    import soundfile as sf
    from scipy.signal import resample

    path, beats = loops[int(rng.integers(len(loops)))]
    audio, rate = sf.read(str(path), dtype="float64", always_2d=True)
    audio = audio.T if audio.shape[1] == 2 else np.repeat(audio.T, 2, axis=0)
    seconds = audio.shape[1] / rate
    # The number of song beats the loop spans: its own beats, doubled or halved towards the song's tempo.
    candidates = [beats * f for f in (0.5, 1, 2) if beats * f >= 2]
    span = min(candidates, key=lambda b: abs(np.log(b * plan["beat"] / seconds)))
    length = int(round(span * plan["beat"] * sample_rate))
    loop = resample(audio, length, axis=1)
    n = int(round(plan["duration"] * sample_rate))
    layer = np.zeros((2, n))
    bars_per_loop = max(1, int(round(span / 4)))
    offset = int(rng.integers(bars_per_loop)) if bars_per_loop > 1 else 0
    bar_samples = int(round(4 * plan["beat"] * sample_rate))
    for bar, playing in enumerate(plan["sections"]["drums"]):
        if not playing:
            continue
        piece = (bar + offset) % bars_per_loop
        chunk = loop[:, piece * bar_samples:(piece + 1) * bar_samples]
        production.place(layer, bar * 4 * plan["beat"], chunk, sample_rate)
    return layer


def bass_part(plan, rng) -> dict:
    """The bass line's note events: roots, fifths and octaves of the chords in an eighth-note rhythm.

    Used by: helpers.songs.soundfont_engine.make_song
    """
    eighth = plan["beat"] / 2
    patterns = ((0, 2, 4, 6), (0, 3, 4, 6, 7), (0, 1, 2, 3, 4, 5, 6, 7), (0, 4), (0, 3, 6), (0, 2, 3, 5, 6))
    pattern = patterns[int(rng.integers(len(patterns)))]
    legato = rng.uniform(0.6, 0.95)
    notes = []
    for bar in range(plan["n_bars"]):
        root = int(plans.chord_pitches(plan, bar, octave_root=36)[0])
        while root > 40 + int(rng.integers(0, 8)):
            root -= 12
        for i, step in enumerate(pattern):
            pitch = root + (int(rng.choice([0, 0, 0, 7, 12])) if i else 0)
            nxt = pattern[i + 1] if i + 1 < len(pattern) else 8
            t = _humanise(rng, bar * 4 * plan["beat"] + step * eighth, 0.004)
            notes.append((t, t + (nxt - step) * eighth * legato, pitch, int(rng.integers(80, 115))))
    return {"program": int(rng.choice(BASS_PROGRAMS)), "pan": 0.0, "volume": 0.85, "notes": notes}


def chord_part(plan, rng) -> dict:
    """Sustained or rhythmic chords (piano, organ, guitar, strings, brass or a pad).

    Used by: helpers.songs.soundfont_engine.make_song
    """
    bar_length = 4 * plan["beat"]
    hits = int(rng.choice([1, 2, 4, 8]))
    octave = int(rng.choice([48, 52, 55]))
    notes = []
    for bar in range(plan["n_bars"]):
        pitches = plans.chord_pitches(plan, bar, octave_root=octave)
        if rng.random() < 0.5:  # an inversion: the lowest note up an octave
            pitches = np.sort(np.r_[pitches[1:], pitches[0] + 12])
        for hit in range(hits):
            t = _humanise(rng, bar * bar_length + hit * bar_length / hits)
            for p in pitches:
                notes.append((t, t + bar_length / hits * 0.92, int(p), int(rng.integers(60, 100))))
    return {"program": int(rng.choice(CHORD_PROGRAMS)), "pan": float(rng.uniform(-0.6, 0.6)), "volume": 0.75,
            "notes": notes}


def riff_part(plan, rng) -> dict:
    """An arpeggio or riff over the chord tones in eighths or sixteenths.

    Used by: helpers.songs.soundfont_engine.make_song
    """
    bar_length = 4 * plan["beat"]
    step = plan["beat"] / int(rng.choice([2, 4]))
    notes = []
    for bar in range(plan["n_bars"]):
        pitches = np.r_[plans.chord_pitches(plan, bar, octave_root=60),
                        plans.chord_pitches(plan, bar, octave_root=72)[:1]]
        order = rng.permutation(len(pitches)) if rng.random() < 0.5 else np.arange(len(pitches))
        for i in range(int(round(bar_length / step))):
            if rng.random() < 0.15:
                continue
            t = _humanise(rng, bar * bar_length + i * step)
            notes.append((t, t + step * 0.9, int(pitches[order[i % len(pitches)]]), int(rng.integers(55, 95))))
    return {"program": int(rng.choice(RIFF_PROGRAMS)), "pan": float(rng.uniform(-0.7, 0.7)), "volume": 0.7,
            "notes": notes}


def pad_part(plan, rng, *, low: int) -> dict:
    """Sustained chords in the voice's range (strings, choir, synth pads): the densest confounder under a voice.

    Used by: helpers.songs.soundfont_engine.make_song
    """
    bar_length = 4 * plan["beat"]
    notes = []
    for bar in range(plan["n_bars"]):
        pitches = plans.chord_pitches(plan, bar, octave_root=low)
        for p in pitches:
            notes.append((bar * bar_length, (bar + 1) * bar_length * 0.995, int(p), int(rng.integers(60, 95))))
    return {"program": int(rng.choice(PAD_PROGRAMS)), "pan": float(rng.uniform(-0.4, 0.4)), "volume": 1.0,
            "notes": notes}


def guitar_part(plan, rng) -> dict:
    """A rhythm guitar for the amp (:func:`helpers.songs.production.amp`): power chords (root, fifth, octave) in
    eighths or sixteenths, palm-muted or ringing.

    Used by: helpers.songs.soundfont_engine.make_song
    """
    bar_length = 4 * plan["beat"]
    step = plan["beat"] / int(rng.choice([1, 2, 2, 4]))
    ring = rng.uniform(0.5, 0.98)
    notes = []
    for bar in range(plan["n_bars"]):
        root = int(plans.chord_pitches(plan, bar, octave_root=40)[0])
        for i in range(int(round(bar_length / step))):
            if rng.random() < 0.1:
                continue
            t = _humanise(rng, bar * bar_length + i * step, 0.004)
            for p in (root, root + 7, root + 12):
                notes.append((t, t + step * ring, p, int(rng.integers(80, 120))))
    return {"program": int(rng.choice(GUITAR_PROGRAMS)), "pan": float(rng.choice([-1, 1]) * rng.uniform(0.3, 0.8)),
            "volume": 0.85, "notes": notes}


def pluck_part(plan, rng) -> dict:
    """Plucked or percussive notes (harp, pizzicato, mallets, kalimba) on the chord tones, in the voice's range.

    Used by: helpers.songs.soundfont_engine.make_song
    """
    part = riff_part(plan, rng)
    part["program"] = int(rng.choice(PLUCK_PROGRAMS))
    part["notes"] = [(start, end, pitch - 12 * int(rng.integers(0, 2)), velocity)
                     for start, end, pitch, velocity in part["notes"]]
    return part


def lead_part(plan, rng, vocal_phrases) -> dict:
    """A vocal-like lead for "other": answers the singer between phrases, or plays along an octave off.

    Used by: helpers.songs.soundfont_engine.make_song
    """
    answer = rng.random() < 0.6
    low = int(rng.integers(55, 72))
    notes = []
    if answer:  # call and response: phrases in the vocal's rests
        for (start, pitches, durations), nxt in zip(vocal_phrases, [*vocal_phrases[1:], None]):
            gap_start = start + sum(durations) + 0.1
            gap_end = nxt[0] - 0.1 if nxt else plan["duration"]
            t, phrase = gap_start, plans.melody(plan, rng, low=low)
            for p in (phrase[0][1] if phrase else []):
                length = float(rng.choice([0.5, 1.0])) * plan["beat"]
                if t + length > gap_end:
                    break
                notes.append((t, t + length * 0.95, p, int(rng.integers(70, 110))))
                t += length
    else:
        for start, pitches, durations in plans.melody(plan, rng, low=low, rest_beats=(1, 2, 4)):
            t = start
            for p, d in zip(pitches, durations):
                notes.append((t, t + d * 0.95, p, int(rng.integers(70, 110))))
                t += d
    return {"program": int(rng.choice(LEAD_PROGRAMS)), "pan": float(rng.uniform(-0.5, 0.5)), "volume": 0.8,
            "notes": notes}


# ----------------------------------------------------------------------------------------------- vocals


def vocal_stem(plan, rng, *, style, bank, sample_rate) -> tuple[np.ndarray, list, dict]:
    """The vocals: lead (sung or a sampled voice), maybe doubled, maybe backing vocals. Returns the stereo stem
    before production, the lead's phrases (for the lead in "other") and a description. Sets
    ``plan["sections"]["vocals"]`` to the bars the kept phrases sound in.

    Used by: helpers.songs.soundfont_engine.make_song
    """
    singer = voices.draw_singer(rng, style=style)
    low = singer["low"] + int(rng.integers(0, 5))
    phrases = plans.melody(plan, rng, low=low, rest_beats=(1, 1, 2, 2, 4))
    # Instrumental bars (an intro, breaks): the singer sits out whole bars, as in a real arrangement.
    bar_length = 4 * plan["beat"]
    singing = plan["sections"]["vocals"]
    phrases = [p for p in phrases if singing[min(int(p[0] // bar_length), len(singing) - 1)]] or phrases[:1]
    # What the plan says is what is sung: a kept phrase may run on into the next bar, and the first phrase stands in
    # where no phrase starts in a singing bar.
    sung = {bar for start, _, durations in phrases
            for bar in range(int(start // bar_length), int(np.ceil((start + sum(durations)) / bar_length)))}
    plan["sections"]["vocals"] = [bar in sung for bar in range(len(singing))]
    n = int(round(plan["duration"] * sample_rate))
    stem = np.zeros((2, n))
    sampled_lead = rng.random() < 0.2
    info = {"singer": singer["name"], "lead": "sampled" if sampled_lead else "sung"}
    if sampled_lead:
        notes = [(s + sum(d[:i]), s + sum(d[:i + 1]) * 0.98, p, int(rng.integers(85, 120)))
                 for s, ps, d in phrases for i, p in enumerate(ps)]
        program = int(rng.choice(VOICE_PROGRAMS))
        stem += render_parts([{"program": program, "volume": 1.0, "notes": notes}], duration=plan["duration"],
                             bank=bank, sample_rate=sample_rate)
        info["lead"] = f"GM {program}"
    else:
        lead = voices.sung_take(plan, rng, phrases, singer, sample_rate=sample_rate)
        stem += lead
        if rng.random() < 0.5:  # a doubled take, a little late and detuned, spread left and right
            double = voices.sung_take(plan, rng, phrases, {**singer, "vibrato_rate": singer["vibrato_rate"] * 1.05},
                               sample_rate=sample_rate, timing=0.015)
            pan = rng.uniform(0.4, 0.8)
            stem += 0.45 * np.stack([double * np.cos((1 - pan) * np.pi / 4), double * np.sin((1 + pan) * np.pi / 4)])
            info["doubled"] = True
    backing = rng.random()
    if backing < 0.3:  # a harmony line a third above (in the key, approximately: 3 or 4 semitones)
        third = int(rng.choice([3, 4]))
        harmony = voices.sung_take(plan, rng, phrases, voices.draw_singer(rng, style=style), sample_rate=sample_rate,
                            transpose=third, timing=0.01)
        pan = float(rng.choice([-1, 1])) * rng.uniform(0.3, 0.7)
        angle = (pan + 1) * np.pi / 4
        stem += 0.35 * np.stack([np.cos(angle) * harmony, np.sin(angle) * harmony])
        info["backing"] = "harmony"
    elif backing < 0.55:  # choir chords under the phrases
        notes = []
        for start, pitches, durations in phrases:
            bar = int(start // (4 * plan["beat"]))
            for p in plans.chord_pitches(plan, bar, octave_root=int(rng.choice([55, 60]))):
                notes.append((start, start + sum(durations), int(p), int(rng.integers(50, 80))))
        choir = render_parts([{"program": int(rng.choice((52, 53))), "volume": 0.7, "notes": notes}],
                             duration=plan["duration"], bank=bank, sample_rate=sample_rate)
        stem += 0.5 * choir
        info["backing"] = "choir"
    return stem, phrases, info


def make_song(seed: int, index: int, subset: str = "train", *, duration: float = 10.0,
              sample_rate: int = DATASET_SAMPLE_RATE, style: str | None = None) -> tuple[dict, dict]:
    """Render and produce one song: four stems and their mixture, like :func:`helpers.songs.numpy_engine.make_song`.

    Used by: helpers.songs.dataset

    Parameters
    ----------
    seed, index : int >= 0
        The song is drawn from ``default_rng([seed, 10 + subset_code, index])``: the same seed gives the same song.
    subset : {"train", "test", "heldout", "hard"}
    duration : float > 0
        Seconds.
    sample_rate : int > 0
        Hz.
    style : {"train", "heldout", "hard"} or None
        Bank, kit, loops, singers, effect ranges, balance and density; ``None``: the subset's
        (:data:`SUBSET_STYLES`).

    Returns
    -------
    audio : dict[str, np.ndarray [shape=(2, n_samples), dtype=float32]]
        ``vocals``, ``drums``, ``bass``, ``other`` and ``mixture``, their float32 sum (peak <= 0.95; every stem's
        peak < 0.99, so a 16-bit file of it does not clip).
    plan : dict
        The musical plan plus ``name``, ``engine``, ``style``, ``bank``, ``sections``, the instruments, loop and
        singer used, ``levels_db`` (each stem's drawn level against the vocals) and ``lufs`` (the master's
        loudness).

    Raises
    ------
    ParameterError
        If a setting is out of range or the style's bank or the renderer is missing (the message says what to
        install).
    """
    if duration <= 0 or sample_rate <= 0:
        raise ParameterError(f"duration={duration} and sample_rate={sample_rate} must be positive")
    if subset not in SUBSETS:
        raise ParameterError(f"subset={subset!r} must be one of {SUBSETS}")
    if style is not None and style not in STYLES:
        raise ParameterError(f"style={style!r} must be one of {STYLES}")
    style = style or SUBSET_STYLES[subset]
    reason = missing(style)
    if reason:
        raise ParameterError(f"cannot render {style!r} songs: {reason}")
    bank = find_bank(style)
    rng = np.random.default_rng([seed, 10 + SUBSETS.index(subset), index])
    plan = plans.plan_song(rng, duration=duration)
    plan["sections"] = plans.arrange(plan, rng, style=style)
    dense = DENSITY[style]
    vocals, phrases, vocal_info = vocal_stem(plan, rng, style=style, bank=bank, sample_rate=sample_rate)
    # "other": chords, and confounders that make a model choose: pads and leads in the voice's range, a driven
    # guitar, plucked and percussive sounds.
    other_parts = [chord_part(plan, rng)]
    for chance, part in ((dense["riff"], lambda: riff_part(plan, rng)), (dense["pluck"], lambda: pluck_part(plan, rng)),
                         (dense["pad"], lambda: pad_part(plan, rng, low=int(rng.integers(55, 64)))),
                         (dense["lead"], lambda: lead_part(plan, rng, phrases))):
        if rng.random() < chance:
            other_parts.append(part())
    guitar = guitar_part(plan, rng) if rng.random() < dense["guitar"] else None
    # Drums: a recorded kit or one of the bank's, sometimes with (or replaced by) a recorded loop.
    kit = find_kit(style)
    recorded = kit is not None and rng.random() < 0.5
    drums = drum_part(plan, rng, style=style, recorded=recorded)
    parts = {"bass": [bass_part(plan, rng)], "other": other_parts}
    dry = {"vocals": vocals, **{name: render_parts(p, duration=duration, bank=bank, sample_rate=sample_rate)
                                for name, p in parts.items()}}
    dry["drums"] = render_parts([drums], duration=duration, bank=kit if recorded else bank, sample_rate=sample_rate)
    loops = find_loops(style)
    loop_info = None
    if loops and rng.random() < 0.35:
        layer = loop_layer(plan, rng, loops, sample_rate=sample_rate)
        alone = rng.random() < 0.3
        kit_rms, layer_rms = production.active_rms(dry["drums"]), production.active_rms(layer)
        if layer_rms > 0:
            mix_db = float(rng.uniform(-6, 0))
            layer *= (kit_rms if kit_rms > 0 else 0.1) / layer_rms * 10 ** (mix_db / 20)
            dry["drums"] = layer if alone else dry["drums"] + layer
            loop_info = "alone" if alone else f"layered at {mix_db:+.1f} dB"
    if guitar is not None:
        driven = render_parts([guitar], duration=duration, bank=bank, sample_rate=sample_rate)
        driven = production.amp(driven, rng, style=style, sample_rate=sample_rate).astype(np.float64)
        rms_other, rms_guitar = production.active_rms(dry["other"]), production.active_rms(driven)
        if rms_guitar > 0:
            dry["other"] = dry["other"] + driven * (rms_other / rms_guitar) * 10 ** (rng.uniform(-2, 4) / 20)
    # The balance: every stem produced, then set to its level (active RMS) against the vocals' -20 dBFS, and the
    # vocals moved as a whole against the rest.
    levels = {name: float(rng.uniform(*production.LEVELS_DB[style][name])) for name in STEMS}
    levels["vocals"] = float(rng.uniform(*production.VOCAL_OFFSET_DB[style]))
    stems = {}
    for name in STEMS:
        wet = production.produce(dry[name], rng, role=name, style=style, sample_rate=sample_rate).astype(np.float64)
        wet = production.gate(wet, sample_rate)
        rms = production.active_rms(wet)
        stems[name] = wet * (0.1 * 10 ** (levels[name] / 20) / rms if rms > 0 else 0.0)
    gain, lufs = production.master(sum(stems.values()), sample_rate, rng)
    stems = {name: stem * gain for name, stem in stems.items()}
    # A stem can peak above the mixture where others cancel it: keep every stem below full scale too, since a
    # 16-bit decoder (musdb's) would clip it and the stems would no longer add up to the mixture.
    peak = max(float(np.abs(stem).max()) for stem in stems.values())
    audio = {name: (stem * min(1.0, 0.99 / peak)).astype(np.float32) for name, stem in stems.items()}
    mixture = np.zeros_like(audio["vocals"])
    for name in STEMS:
        mixture += audio[name]
    audio["mixture"] = mixture
    programs = {name: [p["program"] for p in p_list] for name, p_list in parts.items()}
    programs["drums"] = [RECORDED_KITS[style] if recorded else drums["program"]]
    if guitar is not None:
        programs["other"].append(f"{guitar['program']} through the amp")
    plan.update(engine="soundfont", style=style, bank=bank.name, vocals=vocal_info, programs=programs,
                loop=loop_info, levels_db={name: round(v - levels["vocals"], 2) for name, v in levels.items()},
                lufs=round(lufs, 2),
                name=f"{index:03d} - {plans.NOTE_NAMES[plan['key']]} {plan['mode']} {plan['bpm']} bpm")
    return audio, plan
