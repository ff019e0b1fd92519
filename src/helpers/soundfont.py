"""The realistic song engine: note events rendered through sampled General MIDI instruments, then produced.

:mod:`helpers.synth` builds every sound from sines and noise, which is how a mixture is made, but a model trained on
it learns that synthesizer. This engine keeps synth's musical plan (tempo, key, chords) and turns it into **note
events** per stem, in the spirit of Slakh2100 [1]_, rendered through the recorded samples of a General MIDI
SoundFont: real drum kits, basses, pianos, organs, guitars, strings, brass, pads, and sampled voices.

- **vocals**: a lead melody in phrases, sung by one of several source–filter singers (:func:`helpers.synth.sing`
  with a singer's range, vibrato, vocal-tract length and breathiness, plus sibilants up to 14 kHz) or played by a
  sampled voice (choir aahs, voice oohs, synth voice); often a doubled take and backing vocals (a harmony line or
  choir chords).
- **drums**: a GM drum kit (standard, room, power, electronic, 808, jazz, brush) in one of several grooves, with
  fills, ghost notes, crashes, rides and timing/velocity humanisation.
- **bass**: a GM bass (acoustic, finger, pick, fretless, slap, synth) on the chord roots, fifths and octaves.
- **other**: chords and a riff or arpeggio (piano, organ, guitar, strings, pads, brass, mallets), and in most songs
  a **vocal-like lead** (lead synths, solo strings, flute, whistle, sax...) so the only melody is not the vocals.

Production uses pedalboard [2]_ (EQ, compression, reverb, delay per stem, randomised per song); the stereo image
comes from the samples, reverb and doubled takes, not dry constant-power pans. The master bus is stem-consistent: one
gain curve (a bus compressor and a limiter, computed from the summed mix by :func:`bus_gain`) multiplies every stem,
so the mixture stays the exact sum of the stems.

Two **styles** keep a held-out test split honest: ``"train"`` (the Fluid R3 bank, one set of singers and effect
ranges, used for the train and test subsets) and ``"heldout"`` (the MuseScore General bank and singers and effect
settings never used in training), the course's proxy for music a model has never heard.

The renderer is TinySoundFont through the ``tinysoundfont`` wheel (MIT): a pip-only sample player that reads SF2 and
SF3 (the Ogg-compressed banks), so no system library is needed on Linux, macOS, Windows or Colab. Its wheel declares
PyAudio (for live playback, which the course does not use), so it is installed with ``--no-deps``. The banks are
MIT-licensed Debian packages (``fluid-soundfont-gm``, ``musescore-general-soundfont``); ``make banks`` installs them
where apt runs, and ``$COURSE_SOUNDFONTS`` names a folder that holds them elsewhere.

Used by: helpers.synth (its ``engine="soundfont"``, the engine notebook 01 reports), Makefile (``make banks``)

References
----------
.. [1] Manilow, Wichern, Seetharaman & Le Roux, "Cutting music source separation some Slakh: a dataset to study the
   impact of training data quality and quantity", WASPAA 2019.
.. [2] Spotify, pedalboard, https://github.com/spotify/pedalboard (JUCE's effects, GPL-3).
.. [3] Giannoulis, Massberg & Reiss, "Digital dynamic range compressor design — a tutorial and analysis", JAES
   60(6), 2012 (the gain computer and its attack/release smoothing).
"""

from __future__ import annotations

import functools
import os
from pathlib import Path

import numpy as np
from scipy import signal as sps
from scipy.ndimage import maximum_filter1d, minimum_filter1d, uniform_filter1d

from helpers import synth
from helpers.config import DATASET_SAMPLE_RATE, STEMS
from helpers.exceptions import ParameterError

# Bank file names, and where Debian, Fedora/Arch and Homebrew put them ($COURSE_SOUNDFONTS first).
BANKS = {"train": "FluidR3_GM.sf2", "heldout": "MuseScore_General.sf3"}
BANK_LICENCES = {"FluidR3_GM.sf2": "Fluid (R3) GM SoundFont, Frank Wen, MIT licence (Debian fluid-soundfont-gm)",
                 "MuseScore_General.sf3": "MuseScore General SoundFont, S. Christian Collins, MIT licence "
                                          "(Debian musescore-general-soundfont)"}
BANK_FOLDERS = ("/usr/share/sounds/sf2", "/usr/share/sounds/sf3", "/usr/share/soundfonts",
                "/opt/homebrew/share/soundfonts", "/usr/local/share/soundfonts")
STYLES = ("train", "heldout")
DRUM_CHANNEL = 9

# General MIDI programs (0-based) per role. Kits are presets of bank 128.
DRUM_KITS = {"train": (0, 8, 16, 24, 25, 32, 40), "heldout": (0, 1, 8, 16, 24, 32, 40)}
BASS_PROGRAMS = (32, 33, 34, 35, 36, 37, 38, 39)
CHORD_PROGRAMS = (0, 1, 2, 4, 5, 16, 17, 18, 19, 24, 25, 26, 27, 29, 30, 48, 49, 50, 61, 88, 89, 90, 91, 94, 95)
RIFF_PROGRAMS = (0, 4, 6, 8, 11, 12, 13, 24, 25, 26, 27, 28, 45, 46, 105, 107)
# Vocal-like leads for the "other" stem: synth leads, solo strings, reeds, brass, flutes and a whistle.
LEAD_PROGRAMS = (40, 41, 42, 56, 64, 65, 66, 68, 71, 73, 75, 78, 79, 80, 81, 82, 84, 87)
VOICE_PROGRAMS = (52, 53, 54)  # choir aahs, voice oohs, synth voice

# Singers: (low note of the range, vibrato depth in semitones, vibrato rate Hz, formant scale, tilt, breathiness).
SINGERS = {
    "train": {"bass": (43, (0.15, 0.35), (4.6, 5.6), (0.86, 0.94), (1.1, 1.5), (0.01, 0.04)),
              "tenor": (50, (0.2, 0.45), (5.0, 6.0), (0.93, 1.02), (1.0, 1.4), (0.02, 0.05)),
              "alto": (55, (0.2, 0.5), (5.2, 6.2), (1.0, 1.1), (0.9, 1.3), (0.03, 0.07)),
              "soprano": (60, (0.25, 0.55), (5.4, 6.4), (1.06, 1.16), (0.9, 1.2), (0.02, 0.06))},
    "heldout": {"baritone": (46, (0.1, 0.25), (4.2, 4.8), (0.9, 0.97), (1.5, 1.8), (0.04, 0.08)),
                "mezzo": (57, (0.5, 0.7), (6.3, 7.0), (1.02, 1.08), (0.8, 1.0), (0.06, 0.1))},
}
# Effect ranges per style: reverb room size, reverb wet level, EQ gain (dB), compressor ratio.
EFFECTS = {"train": {"room": (0.1, 0.65), "wet": (0.04, 0.22), "eq_db": (-4.0, 4.0), "ratio": (1.5, 4.0)},
           "heldout": {"room": (0.65, 0.9), "wet": (0.22, 0.32), "eq_db": (-6.0, 6.0), "ratio": (4.0, 8.0)}}
# Stem levels: RMS over the stem's active part, in dB relative to the vocals. Set so that the MIX baseline scores
# as on MUSDB18 (SDR 1.12 vocals, 1.33 drums, within 1.5 dB), measured on the generated test split.
LEVELS_DB = {"vocals": (0.0, 0.0), "drums": (-3.5, -0.5), "bass": (-16.0, -11.0), "other": (-17.0, -12.0)}


def find_bank(style: str = "train") -> Path | None:
    """The SoundFont file of a style, or ``None`` when it is not installed.

    Looks in ``$COURSE_SOUNDFONTS`` first, then in the system's SoundFont folders (Debian's ``/usr/share/sounds``,
    ``/usr/share/soundfonts``, Homebrew's).

    Used by: helpers.soundfont.missing, helpers.soundfont.make_song

    Parameters
    ----------
    style : {"train", "heldout"}

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
    folders = [os.environ["COURSE_SOUNDFONTS"]] if os.environ.get("COURSE_SOUNDFONTS") else []
    for folder in [*folders, *BANK_FOLDERS]:
        path = Path(folder, BANKS[style])
        if path.is_file():
            return path
    return None


def missing(style: str = "train") -> str | None:
    """``None`` when songs of ``style`` can be rendered here, else one line saying what is missing and what to do.

    Used by: helpers.synth, Makefile
    """
    try:
        import tinysoundfont  # noqa: F401
    except ImportError:
        return ("the SoundFont renderer is not installed (pip install --no-deps tinysoundfont; `make setup` "
                "does it)")
    if find_bank(style) is None:
        package = {"train": "fluid-soundfont-gm", "heldout": "musescore-general-soundfont"}[style]
        return (f"the {style} SoundFont {BANKS[style]} was not found (apt install {package}, `make banks`, or "
                "set COURSE_SOUNDFONTS to a folder that holds it)")
    return None


@functools.lru_cache(maxsize=2)
def _synth(path: str, sample_rate: int):
    """One TinySoundFont player per bank and rate per process (loading an SF3 bank takes seconds)."""
    import tinysoundfont

    player = tinysoundfont.Synth(gain=-6.0, samplerate=sample_rate)
    return player, player.sfload(path)


# ----------------------------------------------------------------------------------------------- note events


def render_parts(parts: list, *, duration: float, bank, sample_rate: int = DATASET_SAMPLE_RATE) -> np.ndarray:
    """Render note events through a SoundFont: the sample-accurate MIDI player of a stem.

    Used by: helpers.soundfont.vocal_stem, helpers.soundfont.make_song

    Parameters
    ----------
    parts : list of dict
        One per instrument (at most 15): ``program`` (GM, 0–127), ``drums`` (bool: a kit of bank 128),
        ``pan`` (-1..1), ``volume`` (0..1) and ``notes``, a list of ``(start_s, end_s, pitch, velocity)``.
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
                player.program_select(channel, sfid, 128, int(part["program"]), True)
            except RuntimeError:
                player.program_select(channel, sfid, 128, 0, True)
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


def drum_part(plan, rng, *, style="train") -> dict:
    """The drum kit's note events: a groove, hats or ride, crashes on sections, ghost notes and fills.

    Used by: helpers.soundfont.make_song
    """
    kick, snare = int(rng.choice([35, 36])), int(rng.choice([38, 38, 40]))
    ride = rng.random() < 0.25
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
        if bar and rng.random() < 0.1:  # a break: the kit drops out for a bar
            continue
        if bar % 4 == 0 and rng.random() < 0.8:
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
    kit = int(rng.choice(DRUM_KITS[style]))
    return {"program": kit, "drums": True, "pan": 0.0, "volume": 0.9, "notes": notes}


def bass_part(plan, rng) -> dict:
    """The bass line's note events: roots, fifths and octaves of the chords in an eighth-note rhythm.

    Used by: helpers.soundfont.make_song
    """
    eighth = plan["beat"] / 2
    patterns = ((0, 2, 4, 6), (0, 3, 4, 6, 7), (0, 1, 2, 3, 4, 5, 6, 7), (0, 4), (0, 3, 6), (0, 2, 3, 5, 6))
    pattern = patterns[int(rng.integers(len(patterns)))]
    legato = rng.uniform(0.6, 0.95)
    notes = []
    for bar in range(plan["n_bars"]):
        root = int(synth.chord_pitches(plan, bar, octave_root=36)[0])
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

    Used by: helpers.soundfont.make_song
    """
    bar_length = 4 * plan["beat"]
    hits = int(rng.choice([1, 2, 4, 8]))
    octave = int(rng.choice([48, 52, 55]))
    notes = []
    for bar in range(plan["n_bars"]):
        pitches = synth.chord_pitches(plan, bar, octave_root=octave)
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

    Used by: helpers.soundfont.make_song
    """
    bar_length = 4 * plan["beat"]
    step = plan["beat"] / int(rng.choice([2, 4]))
    notes = []
    for bar in range(plan["n_bars"]):
        pitches = np.r_[synth.chord_pitches(plan, bar, octave_root=60),
                        synth.chord_pitches(plan, bar, octave_root=72)[:1]]
        order = rng.permutation(len(pitches)) if rng.random() < 0.5 else np.arange(len(pitches))
        for i in range(int(round(bar_length / step))):
            if rng.random() < 0.15:
                continue
            t = _humanise(rng, bar * bar_length + i * step)
            notes.append((t, t + step * 0.9, int(pitches[order[i % len(pitches)]]), int(rng.integers(55, 95))))
    return {"program": int(rng.choice(RIFF_PROGRAMS)), "pan": float(rng.uniform(-0.7, 0.7)), "volume": 0.7,
            "notes": notes}


def melody(plan, rng, *, low: int, span: int = 14, rest_beats=(2, 3, 4, 4, 6)) -> list:
    """A melody in phrases: ``[(start_s, pitches, durations_s), ...]``, notes of the key within ``span`` semitones.

    Used by: helpers.soundfont.lead_part, helpers.soundfont.vocal_stem
    """
    scale = synth.SCALES[plan["mode"]]
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


def lead_part(plan, rng, vocal_phrases) -> dict:
    """A vocal-like lead for "other": answers the singer between phrases, or plays along an octave off.

    Used by: helpers.soundfont.make_song
    """
    answer = rng.random() < 0.6
    low = int(rng.integers(55, 72))
    notes = []
    if answer:  # call and response: phrases in the vocal's rests
        for (start, pitches, durations), nxt in zip(vocal_phrases, [*vocal_phrases[1:], None]):
            gap_start = start + sum(durations) + 0.1
            gap_end = nxt[0] - 0.1 if nxt else plan["duration"]
            t, phrase = gap_start, melody(plan, rng, low=low)
            for p in (phrase[0][1] if phrase else []):
                length = float(rng.choice([0.5, 1.0])) * plan["beat"]
                if t + length > gap_end:
                    break
                notes.append((t, t + length * 0.95, p, int(rng.integers(70, 110))))
                t += length
    else:
        for start, pitches, durations in melody(plan, rng, low=low, rest_beats=(1, 2, 4)):
            t = start
            for p, d in zip(pitches, durations):
                notes.append((t, t + d * 0.95, p, int(rng.integers(70, 110))))
                t += d
    return {"program": int(rng.choice(LEAD_PROGRAMS)), "pan": float(rng.uniform(-0.5, 0.5)), "volume": 0.8,
            "notes": notes}


# ----------------------------------------------------------------------------------------------- vocals


def draw_singer(rng, *, style: str = "train") -> dict:
    """A singer of the style: a voice type and its range, vibrato, vocal-tract length and breathiness.

    Used by: helpers.soundfont.vocal_stem
    """
    name = str(rng.choice(list(SINGERS[style])))
    low, depth, rate, scale, tilt, breath = SINGERS[style][name]
    return {"name": name, "low": low, "vibrato_depth": rng.uniform(*depth), "vibrato_rate": rng.uniform(*rate),
            "formant_scale": rng.uniform(*scale), "tilt": rng.uniform(*tilt), "breathiness": rng.uniform(*breath)}


def _sibilants(phrase, durations, rng, sample_rate):
    """Add "s"/"sh"/"t" noise (4–14 kHz) at some syllable ends: the energy of a real voice above 11 kHz."""
    nyquist = sample_rate / 2
    b, a = sps.butter(2, [4000 / nyquist, min(14000, 0.45 * sample_rate) / nyquist], "band")
    end = 0
    for d in durations:
        end += int(round(d * sample_rate))
        if rng.random() < 0.3:
            m = int(rng.uniform(0.04, 0.12) * sample_rate)
            start = max(0, end - m)
            noise = sps.lfilter(b, a, rng.standard_normal(end - start)) * np.hanning(end - start)
            phrase[start:end] += noise * rng.uniform(0.05, 0.15)
    return phrase


def sung_take(plan, rng, phrases, singer, *, sample_rate, transpose=0, timing=0.0) -> np.ndarray:
    """One take of the phrases by a source–filter singer, mono; ``timing`` (s) jitters each phrase's start.

    Used by: helpers.soundfont.vocal_stem
    """
    n = int(round(plan["duration"] * sample_rate))
    track = np.zeros(n)
    for start, pitches, durations in phrases:
        vowels = [str(v) for v in rng.choice(list(synth.VOWELS), len(pitches))]
        voice = synth.sing(np.asarray(pitches) + transpose, durations, vowels, sample_rate=sample_rate, rng=rng,
                           singer=singer)
        voice = _sibilants(voice, durations, rng, sample_rate)
        synth._place(track, max(0.0, start + rng.normal(0, timing)), voice, sample_rate)
    return track


def vocal_stem(plan, rng, *, style, bank, sample_rate) -> tuple[np.ndarray, list, dict]:
    """The vocals: lead (sung or a sampled voice), maybe doubled, maybe backing vocals. Returns the stereo stem
    before production, the lead's phrases (for the lead in "other") and a description.

    Used by: helpers.soundfont.make_song
    """
    singer = draw_singer(rng, style=style)
    low = singer["low"] + int(rng.integers(0, 5))
    phrases = melody(plan, rng, low=low, rest_beats=(1, 1, 2, 2, 4))
    # Instrumental bars (an intro, breaks): the singer sits out whole bars, as in a real arrangement.
    bar_length = 4 * plan["beat"]
    tacet = {b for b in range(plan["n_bars"]) if rng.random() < (0.6 if b == 0 else 0.25)}
    phrases = [p for p in phrases if int(p[0] // bar_length) not in tacet] or phrases[:1]
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
        lead = sung_take(plan, rng, phrases, singer, sample_rate=sample_rate)
        stem += lead
        if rng.random() < 0.5:  # a doubled take, a little late and detuned, spread left and right
            double = sung_take(plan, rng, phrases, {**singer, "vibrato_rate": singer["vibrato_rate"] * 1.05},
                               sample_rate=sample_rate, timing=0.015)
            pan = rng.uniform(0.4, 0.8)
            stem += 0.45 * np.stack([double * np.cos((1 - pan) * np.pi / 4), double * np.sin((1 + pan) * np.pi / 4)])
            info["doubled"] = True
    backing = rng.random()
    if backing < 0.3:  # a harmony line a third above (in the key, approximately: 3 or 4 semitones)
        third = int(rng.choice([3, 4]))
        harmony = sung_take(plan, rng, phrases, draw_singer(rng, style=style), sample_rate=sample_rate,
                            transpose=third, timing=0.01)
        pan = float(rng.choice([-1, 1])) * rng.uniform(0.3, 0.7)
        angle = (pan + 1) * np.pi / 4
        stem += 0.35 * np.stack([np.cos(angle) * harmony, np.sin(angle) * harmony])
        info["backing"] = "harmony"
    elif backing < 0.55:  # choir chords under the phrases
        notes = []
        for start, pitches, durations in phrases:
            bar = int(start // (4 * plan["beat"]))
            for p in synth.chord_pitches(plan, bar, octave_root=int(rng.choice([55, 60]))):
                notes.append((start, start + sum(durations), int(p), int(rng.integers(50, 80))))
        choir = render_parts([{"program": int(rng.choice((52, 53))), "volume": 0.7, "notes": notes}],
                             duration=plan["duration"], bank=bank, sample_rate=sample_rate)
        stem += 0.5 * choir
        info["backing"] = "choir"
    return stem, phrases, info


# ----------------------------------------------------------------------------------------------- production


def produce(stem: np.ndarray, rng, *, role: str, style: str, sample_rate: int) -> np.ndarray:
    """Per-stem production with pedalboard: high-pass, random EQ, compression, and reverb (delay on some vocals).

    Used by: helpers.soundfont.make_song

    Parameters
    ----------
    stem : np.ndarray [shape=(2, n_samples)]
    rng : np.random.Generator
    role : {"vocals", "drums", "bass", "other"}
    style : {"train", "heldout"}
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
    wet = float(rng.uniform(*ranges["wet"])) * (0.3 if role in ("bass", "drums") else 1.0)
    chain.append(pb.Reverb(room_size=float(rng.uniform(*ranges["room"])), damping=float(rng.uniform(0.3, 0.7)),
                           wet_level=wet, dry_level=1.0 - wet, width=float(rng.uniform(0.7, 1.0))))
    return pb.Pedalboard(chain)(np.ascontiguousarray(stem, dtype=np.float32), float(sample_rate))


def bus_gain(mixture: np.ndarray, sample_rate: int, *, threshold_db: float = -12.0, ratio: float = 3.0,
             attack: float = 0.01, release: float = 0.15, ceiling: float = 0.95) -> np.ndarray:
    """One master-bus gain curve from the summed mix: a feed-forward compressor, then a look-ahead limiter.

    The compressor's gain computer [3]_ maps the mix's level (RMS over 10 ms, in dB) above ``threshold_db`` to
    ``threshold + (level - threshold) / ratio``; the gain reduction is smoothed with one-pole attack and release
    filters. The limiter then lowers the gain wherever the compressed mix would peak above ``ceiling``, taking the
    minimum over a 5-ms look-ahead window and smoothing it, so the result never exceeds the ceiling. Multiplying
    every stem by the same curve keeps ``mixture == sum(stems)``.

    Used by: helpers.soundfont.make_song

    Parameters
    ----------
    mixture : np.ndarray [shape=(n_channels, n_samples)]
    sample_rate : int
    threshold_db, ratio, attack, release, ceiling : float
        In dBFS, >= 1, seconds, seconds and linear full scale.

    Returns
    -------
    gain : np.ndarray [shape=(n_samples,)]
        Between 0 and 1.
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
    gain = 10 ** (-smoothed / 20)
    lookahead = max(1, int(0.005 * sample_rate))
    peak = maximum_filter1d(x * gain, lookahead, origin=-(lookahead // 2))
    limit = np.minimum(1.0, ceiling / np.maximum(peak, 1e-12))
    limit = minimum_filter1d(limit, 2 * lookahead)
    limit = uniform_filter1d(limit, lookahead)
    gain = np.clip(gain * limit, 0.0, 1.0)
    peak = float(np.max(x * gain)) if x.size else 0.0
    return gain * (ceiling / peak) if peak > ceiling else gain  # what the smoothing let through


def _active_rms(stem):
    active = np.abs(stem).max(axis=0) > 1e-4 * max(np.abs(stem).max(), 1e-12)
    return float(np.sqrt(np.mean(stem[:, active] ** 2))) if active.any() else 0.0


def make_song(seed: int, index: int, subset: str = "train", *, duration: float = 10.0,
              sample_rate: int = DATASET_SAMPLE_RATE, style: str | None = None) -> tuple[dict, dict]:
    """Render and produce one song: four stems and their mixture, like :func:`helpers.synth.make_song`.

    Used by: helpers.synth

    Parameters
    ----------
    seed, index : int >= 0
        The song is drawn from ``default_rng([seed, 10 + subset_code, index])``: the same seed gives the same song.
    subset : {"train", "test", "heldout"}
    duration : float > 0
        Seconds.
    sample_rate : int > 0
        Hz.
    style : {"train", "heldout"} or None
        Bank, singers and effect ranges; ``None``: ``"heldout"`` for the held-out subset, else ``"train"``.

    Returns
    -------
    audio : dict[str, np.ndarray [shape=(2, n_samples), dtype=float32]]
        ``vocals``, ``drums``, ``bass``, ``other`` and ``mixture``, their float32 sum (peak <= 0.95; every stem's
        peak < 0.99, so a 16-bit file of it does not clip).
    plan : dict
        The musical plan plus ``name``, ``engine``, ``style``, ``bank`` and the instruments and singer used.

    Raises
    ------
    ParameterError
        If a setting is out of range or the style's bank or the renderer is missing (the message says what to
        install).
    """
    if duration <= 0 or sample_rate <= 0:
        raise ParameterError(f"duration={duration} and sample_rate={sample_rate} must be positive")
    if subset not in ("train", "test", "heldout"):
        raise ParameterError(f"subset={subset!r} must be 'train', 'test' or 'heldout'")
    style = style or ("heldout" if subset == "heldout" else "train")
    reason = missing(style)
    if reason:
        raise ParameterError(f"cannot render {style!r} songs: {reason}")
    bank = find_bank(style)
    rng = np.random.default_rng([seed, 10 + ("train", "test", "heldout").index(subset), index])
    plan = synth.plan_song(rng, duration=duration)
    vocals, phrases, vocal_info = vocal_stem(plan, rng, style=style, bank=bank, sample_rate=sample_rate)
    other_parts = [chord_part(plan, rng)]
    if rng.random() < 0.7:
        other_parts.append(riff_part(plan, rng))
    if rng.random() < 0.7:
        other_parts.append(lead_part(plan, rng, phrases))
    parts = {"drums": [drum_part(plan, rng, style=style)], "bass": [bass_part(plan, rng)], "other": other_parts}
    dry = {"vocals": vocals, **{name: render_parts(p, duration=duration, bank=bank, sample_rate=sample_rate)
                                for name, p in parts.items()}}
    stems = {}
    for name in STEMS:  # produced, then set to its level: -20 dBFS active RMS for the vocals, LEVELS_DB for the rest
        wet = produce(dry[name], rng, role=name, style=style, sample_rate=sample_rate).astype(np.float64)
        rms = _active_rms(wet)
        level = 10 ** (rng.uniform(*LEVELS_DB[name]) / 20)
        stems[name] = wet * (0.1 * level / rms if rms > 0 else 0.0)
    mix = sum(stems.values())
    gain = bus_gain(mix, sample_rate, threshold_db=float(20 * np.log10(np.abs(mix).max() + 1e-12)
                                                         - rng.uniform(6, 12)),
                    ratio=float(rng.uniform(2, 4)))
    stems = {name: stem * gain for name, stem in stems.items()}
    # A stem can peak above the mixture where others cancel it: keep every stem below full scale too, since a
    # 16-bit decoder (musdb's) would clip it and the stems would no longer add up to the mixture.
    peak = max(float(np.abs(stem).max()) for stem in stems.values())
    audio = {name: (stem * min(1.0, 0.99 / peak)).astype(np.float32) for name, stem in stems.items()}
    mixture = np.zeros_like(audio["vocals"])
    for name in STEMS:
        mixture += audio[name]
    audio["mixture"] = mixture
    plan.update(engine="soundfont", style=style, bank=bank.name, vocals=vocal_info,
                programs={name: [p["program"] for p in p_list] for name, p_list in parts.items()},
                name=f"{index:03d} - {synth.NOTE_NAMES[plan['key']]} {plan['mode']} {plan['bpm']} bpm")
    return audio, plan
