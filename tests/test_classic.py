"""helpers.classic: HPSS sends clicks to the drums and a steady tone away; REPET-SIM keeps what does not repeat."""

import numpy as np
import pytest

from helpers import classic
from helpers.exceptions import ParameterError

SAMPLE_RATE = 22050


def _gain(estimate, reference):
    """How much of ``reference`` is in ``estimate``: the least-squares scale of ``reference`` (1: all of it)."""
    return float(np.sum(estimate * reference) / np.sum(reference * reference))


def _error_ratio(estimate, reference):
    """Error energy over reference energy (0 is perfect; the mixture itself scores far above 1 here)."""
    return float(np.sum((estimate - reference) ** 2) / np.sum(reference ** 2))


@pytest.fixture(scope="module")
def clicks_and_tone():
    n = 4 * SAMPLE_RATE
    t = np.arange(n) / SAMPLE_RATE
    tone = 0.3 * np.sin(2 * np.pi * 440 * t)
    clicks = np.zeros(n)
    clicks[SAMPLE_RATE // 8::SAMPLE_RATE // 4] = 1.0  # four clicks a second
    clicks = 0.5 * np.convolve(clicks, np.exp(-np.arange(64) / 8))[:n]
    stereo = np.array([[1.0], [0.8]])  # a little panning, so the channels differ
    return stereo * tone, stereo * clicks


@pytest.fixture(scope="module")
def background_and_melody():
    """A 1-s bar of four chords repeated 12 times, and a melody of 0.35-s notes that never repeats a pitch."""
    rng = np.random.default_rng(0)
    n = 12 * SAMPLE_RATE
    t = np.arange(SAMPLE_RATE) / SAMPLE_RATE
    bar = np.zeros(SAMPLE_RATE)
    for k, f in enumerate((110, 165, 220, 330)):
        quarter = slice(k * SAMPLE_RATE // 4, (k + 1) * SAMPLE_RATE // 4)
        bar[quarter] = sum(0.1 / h * np.sin(2 * np.pi * f * h * t[quarter]) for h in (1, 2, 3))
    background = np.tile(bar, 12)
    note = int(0.35 * SAMPLE_RATE)
    pitches = 600 * 2 ** (rng.permutation(40) / 12)
    melody = np.zeros(n)
    tt = np.arange(note) / SAMPLE_RATE
    for i in range(n // note):
        melody[i * note:(i + 1) * note] = 0.15 * np.hanning(note) * sum(
            np.sin(2 * np.pi * pitches[i] * h * tt) / h for h in (1, 2))
    return np.stack([background] * 2), np.stack([melody] * 2)


def test_hpss_puts_clicks_in_the_drums_and_the_tone_in_the_rest(clicks_and_tone):
    tone, clicks = clicks_and_tone
    mixture = (tone + clicks).astype(np.float32)
    estimates = classic.hpss_drums(mixture, SAMPLE_RATE)
    assert set(estimates) == {"drums"}
    drums = estimates["drums"]
    assert drums.shape == mixture.shape and drums.dtype == np.float32
    harmonic = mixture - drums  # margin=1: the two masks sum to one
    assert _gain(drums, clicks) > 0.85  # most of the clicks are in the drums estimate
    assert abs(_gain(drums, tone)) < 0.02  # almost none of the tone
    assert _gain(harmonic, tone) > 0.98
    assert _error_ratio(drums, clicks) < 0.15 < _error_ratio(mixture, clicks)
    assert _error_ratio(harmonic, tone) < 0.01


def test_hpss_margin_keeps_less(clicks_and_tone):
    tone, clicks = clicks_and_tone
    mixture = (tone + clicks).astype(np.float32)
    soft = classic.hpss_drums(mixture, SAMPLE_RATE)["drums"]
    strict = classic.hpss_drums(mixture, SAMPLE_RATE, margin=4.0)["drums"]
    assert np.sum(strict ** 2) < np.sum(soft ** 2)


def test_repet_sim_keeps_the_melody_and_drops_the_repeating_background(background_and_melody):
    background, melody = background_and_melody
    mixture = (background + melody).astype(np.float32)
    estimates = classic.repet_sim_vocals(mixture, SAMPLE_RATE)
    assert set(estimates) == {"vocals"}
    vocals = estimates["vocals"]
    assert vocals.shape == mixture.shape and vocals.dtype == np.float32
    assert _gain(vocals, melody) > 0.85
    assert abs(_gain(vocals, background)) < 0.05
    assert _error_ratio(vocals, melody) < 0.1 < 1.0 < _error_ratio(mixture, melody)


def test_mono_and_other_rates_keep_the_shape(background_and_melody):
    background, melody = background_and_melody
    mono = (background[0] + melody[0]).astype(np.float32)
    assert classic.repet_sim_vocals(mono, SAMPLE_RATE)["vocals"].shape == mono.shape
    assert classic.hpss_drums(mono, SAMPLE_RATE)["drums"].shape == mono.shape
    assert classic.hpss_drums(mono[None, :], 44100)["drums"].shape == (1, mono.size)  # n_fft 2048 at 44.1 kHz


@pytest.mark.parametrize("function", [classic.hpss_drums, classic.repet_sim_vocals])
@pytest.mark.parametrize("mixture, match", [
    (np.zeros((2, 3, 4096), np.float32), "shape=\\(2, 3, 4096\\)"),
    (np.zeros((4096, 2), np.float32), "shape=\\(4096, 2\\)"),  # samples first: too many channels
    (np.zeros((2, 100), np.float32), "100 samples"),
    (np.full((2, 4096), np.nan, np.float32), "non-finite"),
    (np.zeros((2, 4096), np.int16), "dtype=int16"),
    ([0.0] * 4096, "numpy.ndarray"),
])
def test_bad_mixtures_are_refused(function, mixture, match):
    with pytest.raises(ParameterError, match=match):
        function(mixture, SAMPLE_RATE)


@pytest.mark.parametrize("function, kwargs, match", [
    (classic.hpss_drums, {"sample_rate": 0}, "sample_rate=0"),
    (classic.hpss_drums, {"kernel_size": 0}, "kernel_size=0"),
    (classic.hpss_drums, {"margin": 0.5}, "margin=0.5"),
    (classic.hpss_drums, {"power": -1.0}, "power=-1.0"),
    (classic.hpss_drums, {"n_fft": 1000, "hop_length": 2000}, "hop_length=2000"),
    (classic.repet_sim_vocals, {"sample_rate": 22050.5}, "sample_rate=22050.5"),
    (classic.repet_sim_vocals, {"min_distance": 0.0}, "min_distance=0.0"),
    (classic.repet_sim_vocals, {"margin": float("inf")}, "margin=inf"),
    (classic.repet_sim_vocals, {"power": True}, "power=True"),
])
def test_bad_parameters_are_named(function, kwargs, match):
    mixture = np.random.default_rng(1).standard_normal((2, 5 * SAMPLE_RATE)).astype(np.float32)
    kwargs = {"sample_rate": SAMPLE_RATE} | kwargs
    with pytest.raises(ParameterError, match=match):
        function(mixture, **kwargs)


def test_repet_sim_needs_room_for_repetitions():
    short = np.random.default_rng(2).standard_normal((2, 2 * SAMPLE_RATE)).astype(np.float32)
    with pytest.raises(ParameterError, match="min_distance=2.0"):
        classic.repet_sim_vocals(short, SAMPLE_RATE)
    assert classic.repet_sim_vocals(short, SAMPLE_RATE, min_distance=0.5)["vocals"].shape == short.shape
