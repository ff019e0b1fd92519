"""The SoundFont engine: rendering, production, the stem-consistent master bus, the held-out split, the fallback."""

import os

import numpy as np
import pytest
import soundfile as sf

from helpers import data, soundfont, synth
from helpers.config import STEMS
from helpers.exceptions import ParameterError

# CI installs the renderer and both banks (`make setup`, `make banks`); elsewhere these tests say what is missing.
MISSING = soundfont.missing("train") or soundfont.missing("heldout")
needs_banks = pytest.mark.skipif(bool(MISSING) and os.environ.get("CI") != "true", reason=str(MISSING))


@pytest.fixture(scope="module")
def songs():
    """Two in-domain songs and one held-out song of 6 s."""
    return [soundfont.make_song(5, i, subset, duration=6.0) for i, subset in ((0, "test"), (1, "train"),
                                                                               (0, "heldout"))]


@needs_banks
def test_mixture_is_the_exact_sum_of_produced_stems_under_the_ceiling(songs):
    for audio, plan in songs:
        assert set(audio) == {*STEMS, "mixture"}
        total = np.zeros_like(audio["mixture"])
        for stem in STEMS:
            assert audio[stem].shape == (2, 6 * 44100) and audio[stem].dtype == np.float32
            total += audio[stem]
        np.testing.assert_array_equal(audio["mixture"], total)
        assert np.abs(audio["mixture"]).max() <= 0.95 + 1e-6
        for stem in STEMS:  # every stem sounds, below full scale, and is stereo rather than one signal twice
            assert 1e-3 < np.abs(audio[stem]).max() < 0.99 + 1e-6
            assert not np.allclose(audio[stem][0], audio[stem][1])


@needs_banks
def test_same_seed_same_song_and_styles_use_their_own_banks(songs):
    again, plan = soundfont.make_song(5, 0, "test", duration=6.0)
    np.testing.assert_array_equal(again["mixture"], songs[0][0]["mixture"])
    assert not np.array_equal(songs[1][0]["mixture"][:, :1000], songs[0][0]["mixture"][:, :1000])
    assert plan["bank"] == "FluidR3_GM.sf2" and plan["engine"] == "soundfont"
    held_out = songs[2][1]
    assert held_out["bank"] == "MuseScore_General.sf3" and held_out["style"] == "heldout"
    assert held_out["vocals"]["singer"] in soundfont.SINGERS["heldout"]
    assert not set(soundfont.SINGERS["heldout"]) & set(soundfont.SINGERS["train"])


@needs_banks
def test_full_band_stems_carry_energy_above_11_khz(songs):
    audio, _ = songs[0]
    for stem in ("vocals", "drums"):
        spectrum = np.abs(np.fft.rfft(audio[stem][0])) ** 2
        freqs = np.fft.rfftfreq(audio[stem].shape[1], 1 / 44100)
        share = spectrum[freqs > 11025].sum() / spectrum.sum()
        assert share > 1e-4, (stem, share)  # cymbals and sibilants reach past the old 11-kHz model band


@needs_banks
def test_render_parts_plays_notes_where_they_are():
    part = {"program": 0, "notes": [(0.5, 0.9, 60, 100)]}
    audio = soundfont.render_parts([part], duration=1.5, bank=soundfont.find_bank("train"))
    assert audio.shape == (2, int(1.5 * 44100)) and audio.dtype == np.float32
    assert np.abs(audio[:, :int(0.49 * 44100)]).max() == 0  # silence before the note-on
    assert np.abs(audio[:, int(0.5 * 44100):int(0.6 * 44100)]).max() > 0.01
    with pytest.raises(ParameterError, match="ends"):
        soundfont.render_parts([{"program": 0, "notes": [(1.0, 0.5, 60, 100)]}], duration=1.5,
                               bank=soundfont.find_bank("train"))
    with pytest.raises(ParameterError, match="16 parts"):
        soundfont.render_parts([part] * 16, duration=1.5, bank=soundfont.find_bank("train"))


def test_bus_gain_limits_the_peak_and_compresses_loud_passages():
    rng = np.random.default_rng(0)
    sample_rate = 8000
    quiet, loud = 0.05 * rng.standard_normal((2, sample_rate)), 2.0 * rng.standard_normal((2, sample_rate))
    mix = np.concatenate([quiet, loud, quiet], axis=1)
    gain = soundfont.bus_gain(mix, sample_rate, threshold_db=-20, ratio=4)
    assert gain.shape == (mix.shape[1],) and np.all((gain >= 0) & (gain <= 1))
    assert np.abs(mix * gain).max() <= 0.95 + 1e-9
    assert np.median(gain[:sample_rate // 2]) > 0.9  # the quiet start is left alone
    assert np.median(gain[sample_rate + 2000:2 * sample_rate]) < 0.5  # the loud passage is turned down


def test_missing_says_what_to_install(monkeypatch, tmp_path):
    monkeypatch.setenv("COURSE_SOUNDFONTS", str(tmp_path))
    monkeypatch.setattr(soundfont, "BANK_FOLDERS", ())
    assert soundfont.find_bank("train") is None
    message = soundfont.missing("heldout")
    assert "MuseScore_General.sf3" in message and "musescore-general-soundfont" in message
    with pytest.raises(ParameterError, match="style="):
        soundfont.find_bank("other")
    with pytest.raises(ParameterError, match="cannot render 'train' songs"):
        soundfont.make_song(0, 0, "train", duration=1.0)


def test_generate_falls_back_to_numpy_with_one_line(monkeypatch, tmp_path, capsys):
    monkeypatch.setenv("COURSE_SOUNDFONTS", str(tmp_path / "none"))
    monkeypatch.setattr(soundfont, "BANK_FOLDERS", ())
    root = synth.generate(tmp_path / "data", n_train=1, n_test=0, duration=1.0, n_duets_train=0, n_duets_test=0,
                          workers=1, progress=False)
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and "FluidR3_GM.sf2" in err[0] and "NumPy synthesizer" in err[0]
    assert '"engine": "numpy"' in (root / "settings.json").read_text()
    with pytest.raises(ParameterError, match="cannot run"):
        synth.generate(tmp_path / "other", engine="soundfont", progress=False)
    with pytest.raises(ParameterError, match="engine="):
        synth.generate(tmp_path / "other", engine="midi", progress=False)


@needs_banks
def test_generate_writes_a_held_out_split_that_load_tracks_reads(tmp_path):
    root = synth.generate(tmp_path, n_train=1, n_test=1, n_heldout=2, duration=2.0, n_duets_train=0,
                          n_duets_test=0, workers=2, progress=False, engine="soundfont")
    held_out = data.load_tracks("generated", "heldout", root)
    assert len(held_out) == 2 and len(data.load_tracks("generated", "test", root)) == 1
    arrays = data.track_arrays(held_out[0], targets=STEMS, sample_rate=None)
    np.testing.assert_allclose(arrays["mixture"], sum(arrays[s] for s in STEMS), atol=3 / 32768)  # 16-bit files
    assert sf.info(str(root / "heldout" / "test" / held_out[0].name / "mixture.wav")).samplerate == 44100
    with pytest.raises(ParameterError, match="held-out split"):
        data.load_tracks("musdb", "heldout")
