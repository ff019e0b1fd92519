"""The voices that sing the vocals: a source–filter singer, the singers of each style, and takes of a melody.

:func:`sing` is the course's own voice model: a harmonic glottal source with spectral tilt, vibrato, jitter and
pitch scoops, shaped by vowel formants, with consonants (plosive bursts, fricatives, nasals) between syllables,
breaths, and sibilants. A **singer** is a set of its parameters (range, vibrato, vocal-tract length, breathiness);
each style (:data:`SINGERS`) has its own, so the held-out splits hear voices the training songs never had.

Used by: helpers.songs.numpy_engine, helpers.songs.soundfont_engine

References
----------
.. [1] Fant, *Acoustic Theory of Speech Production*, 1960 (source–filter model, vowel formants).
.. [2] Peterson & Barney, "Control methods used in a study of the vowels", JASA 24(2), 1952 (formant values).
"""

from __future__ import annotations

import numpy as np
from scipy import signal as sps
from scipy.ndimage import uniform_filter1d

from helpers.config import DATASET_SAMPLE_RATE
from helpers.songs.plan import midi_to_hz
from helpers.songs.production import place

VOWELS = {"a": (750, 1200, 2600), "e": (500, 1850, 2600), "i": (320, 2300, 3000), "o": (500, 900, 2500),
          "u": (350, 800, 2400)}


# Singers: (low note of the range, vibrato depth in semitones, vibrato rate Hz, formant scale, tilt, breathiness).
SINGERS = {
    "train": {"bass": (43, (0.3, 0.6), (4.6, 5.6), (0.86, 0.94), (1.1, 1.5), (0.03, 0.1)),
              "tenor": (50, (0.35, 0.7), (5.0, 6.0), (0.93, 1.02), (1.0, 1.4), (0.04, 0.12)),
              "alto": (55, (0.35, 0.75), (5.2, 6.2), (1.0, 1.1), (0.9, 1.3), (0.05, 0.14)),
              "soprano": (60, (0.4, 0.8), (5.4, 6.4), (1.06, 1.16), (0.9, 1.2), (0.04, 0.12))},
    "heldout": {"baritone": (46, (0.1, 0.25), (4.2, 4.8), (0.9, 0.97), (1.5, 1.8), (0.04, 0.08)),
                "mezzo": (57, (0.5, 0.7), (6.3, 7.0), (1.02, 1.08), (0.8, 1.0), (0.06, 0.1))},
}
SINGERS["hard"] = SINGERS["heldout"]
# How expressive a style's singers are: the chance of a scoop per note, and the pitch drift (semitones).
EXPRESSION = {"train": {"scoop": (0.1, 0.5), "drift": (0.05, 0.25)},
              "heldout": {"scoop": (0.4, 0.7), "drift": (0.2, 0.35)}}
EXPRESSION["hard"] = EXPRESSION["heldout"]

def _formant_gain(freqs: np.ndarray, formants: np.ndarray) -> np.ndarray:
    """Vocal-tract magnitude response at ``freqs`` for formants ``(3, n)``: a sum of resonance peaks."""
    gain = np.zeros_like(freqs)
    for i, (bandwidth, level) in enumerate(((80, 1.0), (100, 0.6), (140, 0.35))):
        gain += level / (1 + ((freqs - formants[i]) / bandwidth) ** 2)
    return gain + 0.02


# Consonants before a syllable's vowel, by how they are made: (kind, noise band in Hz or None, seconds).
# Plosives close the tract (silence) and release a burst; fricatives are turbulent noise in a band; nasals and
# liquids are voiced, with formants of their own that glide into the vowel's.
CONSONANTS = {"p": ("plosive", (500, 6000), 0.012), "t": ("plosive", (2500, 9000), 0.015),
              "k": ("plosive", (1200, 4000), 0.02), "s": ("fricative", (4500, 12000), 0.09),
              "sh": ("fricative", (2000, 7000), 0.09), "f": ("fricative", (1000, 10000), 0.07),
              "h": ("fricative", (500, 5000), 0.06), "m": ("nasal", None, 0.06), "n": ("nasal", None, 0.05),
              "l": ("liquid", None, 0.05), "r": ("liquid", None, 0.05)}
# Formants (F1, F2, F3) of the voiced consonants, in Hz: the murmur of a nasal and the onset of a liquid.
VOICED_FORMANTS = {"m": (250, 1000, 2200), "n": (250, 1500, 2500), "l": (360, 1300, 2800), "r": (350, 1100, 1600)}


def syllables(rng, n_syllables: int) -> list:
    """Word-like syllables: ``[(consonant or "", vowel), ...]``, consonant-vowel pairs and bare vowels.

    Used by: helpers.songs.voices.sung_take
    """
    onsets = ["", "", *CONSONANTS]
    return [(str(rng.choice(onsets)), str(rng.choice(list(VOWELS)))) for _ in range(n_syllables)]


def sing(pitches, durations, vowels, *, sample_rate=DATASET_SAMPLE_RATE, rng=None, breathiness=0.03,
         singer: dict | None = None, consonants=None) -> np.ndarray:
    """Sing a phrase with a source–filter voice [1]_: harmonic glottal source, expressive pitch, vowel formants,
    consonants.

    The pitch moves as a singer's does: a glide between notes (portamento), a **scoop** up into some notes from
    below, a slow **drift** off the written pitch, and **vibrato** whose depth swells within each long note and
    varies along the phrase, with jitter on top. The source's harmonics are shaped by the formants of each vowel
    [2]_, which glide from one syllable to the next. Before a syllable's vowel, a **consonant**
    (:data:`CONSONANTS`) silences the tract and bursts (plosives), replaces the voice by band noise (fricatives) or
    voices its own formants (nasals, liquids).

    Used by: helpers.songs.numpy_engine.render_vocals, helpers.songs.voices.sung_take

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
        < 1 longer and darker, > 1 shorter and brighter), ``tilt`` (source roll-off exponent), ``breathiness`` and,
        optionally, ``scoop`` (probability of a scoop per note) and ``drift`` (semitones). ``None`` draws a
        mid-range voice from ``rng``.
    consonants : sequence of str or None
        One per syllable: a key of :data:`CONSONANTS` or ``""`` (none). ``None``: no consonants but a short noise
        onset on some syllables.

    Returns
    -------
    phrase : np.ndarray [shape=(n_samples,)]
        ``n_samples = round(sum(durations) * sample_rate)``.
    """
    rng = rng if rng is not None else np.random.default_rng(0)
    counts = [int(round(d * sample_rate)) for d in durations]
    n = sum(counts)
    starts = np.cumsum([0, *counts[:-1]])
    midi = np.repeat(np.asarray(pitches, dtype=float), counts)
    # Portamento: smooth the note steps over ~40 ms.
    glide = max(1, int(0.04 * sample_rate))
    midi = uniform_filter1d(midi, glide, mode="nearest")
    t = np.arange(n) / sample_rate
    singer = singer or {"vibrato_depth": rng.uniform(0.2, 0.45), "vibrato_rate": rng.uniform(4.8, 6.2),
                        "formant_scale": rng.uniform(0.92, 1.1), "tilt": rng.uniform(1.0, 1.4),
                        "breathiness": breathiness}
    # Scoops: some notes start up to two semitones low and rise into the pitch within about 0.1 s.
    for start, count in zip(starts, counts):
        if rng.random() < singer.get("scoop", 0.3):
            local = np.arange(count) / sample_rate
            midi[start:start + count] -= rng.uniform(0.5, 2.0) * np.exp(-local / rng.uniform(0.03, 0.08))
    # Drift: a slow random walk off the written pitch (a singer slightly flat or sharp).
    drift = uniform_filter1d(rng.standard_normal(n), max(1, int(0.5 * sample_rate)), mode="nearest")
    drift *= singer.get("drift", 0.15) / (np.abs(drift).max() + 1e-9)
    # Vibrato: swells in over each note's first 0.2-0.4 s, its depth varying along the phrase.
    onset = np.concatenate([np.arange(c) / sample_rate for c in counts]) if counts else np.zeros(0)
    swell = np.minimum(1, onset / rng.uniform(0.2, 0.4))
    depth = singer["vibrato_depth"] * swell * (1 + 0.4 * np.sin(2 * np.pi * rng.uniform(0.2, 0.5) * t
                                                                 + rng.uniform(0, 2 * np.pi)))
    jitter = uniform_filter1d(rng.standard_normal(n), 200) * 0.6
    rate = singer["vibrato_rate"] * (1 + 0.05 * np.sin(2 * np.pi * 0.3 * t))
    vibrato_phase = 2 * np.pi * np.cumsum(rate) / sample_rate
    f0 = midi_to_hz(midi + drift + depth * np.sin(vibrato_phase) + 0.1 * jitter)
    scale = singer["formant_scale"]
    consonants = list(consonants) if consonants is not None else [None] * len(counts)
    formant_targets = np.array([VOWELS[v] for v in vowels], dtype=float).T * scale
    formants = np.repeat(formant_targets, counts, axis=1)
    for start, count, consonant in zip(starts, counts, consonants):  # voiced consonants: their own formants first
        if consonant in VOICED_FORMANTS:
            m = min(int(CONSONANTS[consonant][2] * sample_rate), count // 2)
            formants[:, start:start + m] = np.array(VOICED_FORMANTS[consonant])[:, None] * scale
    smooth = int(0.05 * sample_rate)
    formants = uniform_filter1d(formants, smooth, axis=1, mode="nearest")
    phase = 2 * np.pi * np.cumsum(f0) / sample_rate
    voice = np.zeros(n)
    tilt = singer["tilt"]
    for k in range(1, 40):
        fk = k * f0
        if fk.min() > 0.45 * sample_rate or k * 200 > 9000:
            break
        voice += np.sin(k * phase) * _formant_gain(fk, formants) / k ** tilt
    voice = voice / (np.max(np.abs(voice)) + 1e-9)
    # Syllable envelopes and consonants.
    env = np.ones(n)
    nyquist = sample_rate / 2
    noise = np.zeros(n)
    for start, count, consonant in zip(starts, counts, consonants):
        ramp = min(int(0.03 * sample_rate), count // 2)
        env[start : start + ramp] *= np.linspace(0.2, 1, ramp)
        env[start + count - ramp : start + count] *= np.linspace(1, 0.3, ramp)
        if consonant is None:  # no text: a short noise onset on most syllables
            if rng.random() < 0.6:
                consonant = "t"
            else:
                continue
        if not consonant:
            continue
        kind, band, seconds = CONSONANTS[consonant]
        m = min(int(seconds * rng.uniform(0.8, 1.3) * sample_rate), count // 2)
        if m < 8:
            continue
        if kind == "nasal":  # a murmur: the voice, quieter, through the nasal formants set above
            env[start:start + m] *= 0.35
        elif kind == "liquid":
            env[start:start + m] *= 0.7
        else:
            low, high = band[0] / nyquist, min(band[1], 0.45 * sample_rate) / nyquist
            bb, ab = sps.butter(2, [low, high], "band")
            burst = sps.lfilter(bb, ab, rng.standard_normal(m))
            if kind == "plosive":  # the closure (silence), then the burst at the release
                closure = min(int(rng.uniform(0.02, 0.04) * sample_rate), count // 3)
                env[start:start + closure] = 0.0
                burst *= np.exp(-np.arange(m) / (0.3 * m)) * rng.uniform(0.3, 0.6)
                noise[start + closure:start + closure + m] += burst[:max(0, min(m, n - start - closure))]
            else:  # the fricative replaces the voice's onset, voiced only at its end
                env[start:start + m] *= np.linspace(0.0, 1.0, m) ** 2
                noise[start:start + m] += burst * np.hanning(m) * rng.uniform(0.15, 0.35)
    edge = min(int(0.05 * sample_rate), n // 2)
    env[:edge] *= np.linspace(0, 1, edge)
    env[n - edge :] *= np.linspace(1, 0, edge)
    b, a = sps.butter(2, [2500 / nyquist, min(9000, 0.45 * sample_rate) / nyquist], "band")
    aspiration = sps.lfilter(b, a, rng.standard_normal(n)) * singer["breathiness"]
    return voice * env + aspiration * env + noise


def draw_singer(rng, *, style: str = "train") -> dict:
    """A singer of the style: a voice type and its range, vibrato, vocal-tract length and breathiness.

    Used by: helpers.songs.soundfont_engine.vocal_stem
    """
    name = str(rng.choice(list(SINGERS[style])))
    low, depth, rate, scale, tilt, breath = SINGERS[style][name]
    expression = EXPRESSION[style]
    return {"name": name, "low": low, "vibrato_depth": rng.uniform(*depth), "vibrato_rate": rng.uniform(*rate),
            "formant_scale": rng.uniform(*scale), "tilt": rng.uniform(*tilt), "breathiness": rng.uniform(*breath),
            "scoop": rng.uniform(*expression["scoop"]), "drift": rng.uniform(*expression["drift"])}


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

    Used by: helpers.songs.soundfont_engine.vocal_stem
    """
    n = int(round(plan["duration"] * sample_rate))
    track = np.zeros(n)
    for start, pitches, durations in phrases:
        text = syllables(rng, len(pitches))
        voice = sing(np.asarray(pitches) + transpose, durations, [v for _, v in text], sample_rate=sample_rate,
                     rng=rng, singer=singer, consonants=[c for c, _ in text])
        voice = _sibilants(voice, durations, rng, sample_rate)
        place(track, max(0.0, start + rng.normal(0, timing)), voice, sample_rate)
    return track


