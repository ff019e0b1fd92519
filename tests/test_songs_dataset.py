import hashlib
import json
from pathlib import Path

import librosa
import numpy as np
import pytest
import soundfile as sf

from helpers import ParameterError, compat, evaluation, masks, songs, spectral
from helpers.songs import dataset, numpy_engine
from helpers.config import STEMS


def _file_digest(root):
    digest = hashlib.sha256()
    for path in sorted(root.rglob("*.wav")):
        digest.update(str(path.relative_to(root)).encode())
        digest.update(path.read_bytes())
    return digest.hexdigest()


def test_layout_and_musdb_loads_it(small_dataset):
    musdb = compat.import_musdb()
    for subset, count in (("train", 2), ("test", 1)):
        tracks = list(musdb.DB(root=str(small_dataset), is_wav=True, subsets=subset))
        assert len(tracks) == count
        track = tracks[0]
        assert track.rate == 44100
        assert track.audio.shape == (4 * 44100, 2)
        assert {"vocals", "drums", "bass", "other"} <= set(track.sources)
        # musdb decodes through ffmpeg as 16-bit, so the sum holds to a few LSBs there.
        stems_sum = sum(track.sources[s].audio for s in STEMS)
        assert np.max(np.abs(track.audio - stems_sum)) < 4 * 2 ** -15
    duet_dir = next((small_dataset / "duets" / "train").iterdir())
    assert sorted(p.name for p in duet_dir.iterdir()) == ["mixture.wav", "piano.wav", "violin.wav"]


def test_mixture_is_sum_of_stems_in_the_files(small_dataset):
    for track_dir in (small_dataset / "train").iterdir():
        audio = {p.stem: sf.read(p, dtype="float32")[0] for p in track_dir.glob("*.wav")}
        assert sf.info(track_dir / "mixture.wav").subtype == "FLOAT"
        total = np.zeros_like(audio["mixture"])
        for stem in STEMS:
            total += audio[stem]
        np.testing.assert_array_equal(audio["mixture"], total)
        assert np.max(np.abs(audio["mixture"])) <= 0.9 + 1e-6


def test_same_seed_same_bytes_other_seed_other_song(tmp_path):
    kwargs = dict(n_train=1, n_test=1, duration=2.0, n_duets_train=1, n_duets_test=0, duet_duration=2.0,
                  progress=False)
    a = songs.generate(tmp_path / "a", seed=3, workers=1, **kwargs)
    b = songs.generate(tmp_path / "b", seed=3, workers=2, **kwargs)
    c = songs.generate(tmp_path / "c", seed=4, workers=1, **kwargs)
    assert _file_digest(a) == _file_digest(b)
    assert _file_digest(a) != _file_digest(c)


def test_generate_is_idempotent_and_rebuilds_on_new_settings(tmp_path):
    kwargs = dict(n_train=1, n_test=0, n_duets_train=0, n_duets_test=0, progress=False, workers=1)
    root = songs.generate(tmp_path, duration=1.0, **kwargs)
    wav = next(root.rglob("mixture.wav"))
    stamp = wav.stat().st_mtime_ns
    songs.generate(tmp_path, duration=1.0, **kwargs)
    assert wav.stat().st_mtime_ns == stamp  # untouched
    songs.generate(tmp_path, duration=1.5, **kwargs)
    assert sf.info(next(root.rglob("mixture.wav"))).frames == int(1.5 * 44100)


def _names(folder):
    return sorted(p.name for p in folder.iterdir() if p.is_dir())


def test_ensure_writes_only_missing_songs_and_generate_trims(tmp_path):
    kwargs = dict(duration=1.0, n_duets_train=0, n_duets_test=0, n_heldout=0, progress=False, workers=1,
                  engine="numpy")
    root = songs.generate(tmp_path, n_train=1, n_test=1, **kwargs)
    first = next((root / "train").iterdir()) / "mixture.wav"
    stamp, digest = first.stat().st_mtime_ns, _file_digest(root / "train")
    songs.generate(tmp_path, n_train=3, n_test=1, **kwargs)  # two more songs; the first is not rewritten
    assert len(_names(root / "train")) == 3 and first.stat().st_mtime_ns == stamp
    fresh = songs.generate(tmp_path / "fresh", n_train=3, n_test=1, **kwargs)
    assert _file_digest(fresh / "train") == _file_digest(root / "train")  # the same bytes as a set made at once
    songs.generate(tmp_path, n_train=1, n_test=1, **kwargs)  # exact: the extra songs go
    assert _names(root / "train") == [first.parent.name] and _file_digest(root / "train") == digest
    songs.generate(tmp_path, n_train=3, n_test=1, **kwargs)
    songs.generate(tmp_path, n_train=2, n_test=0, at_least=True, **kwargs)  # at least: nothing removed
    assert len(_names(root / "train")) == 3 and len(_names(root / "test")) == 1
    assert json.loads((root / "settings.json").read_text())["n_train"] == 3
    assert not any(p.name == ".partial" for p in root.rglob("*"))


def test_ensure_uses_the_default_set_and_leaves_a_bigger_one(tmp_path, monkeypatch):
    monkeypatch.setattr(dataset, "generated_root", lambda: tmp_path / "generated")
    monkeypatch.setattr(dataset, "choose_engine", lambda engine="auto": "numpy")  # fast; the engine is not the point
    root = songs.ensure(n_test=1, n_duets_test=1, progress=False)
    assert root == tmp_path / "generated"
    assert len(_names(root / "test")) == 1 and len(_names(root / "duets" / "test")) == 1
    assert not (root / "train").exists()
    settings = json.loads((root / "settings.json").read_text())
    assert settings["n_test"] == 1 and settings["n_train"] == 0 and settings["duration"] == 10.0
    stamp = (root / "settings.json").stat().st_mtime_ns
    songs.ensure(n_test=1, progress=False)  # already there: nothing written
    assert (root / "settings.json").stat().st_mtime_ns == stamp
    with pytest.raises(ParameterError, match="n_train=-2"):
        songs.ensure(n_train=-2)


def test_a_stopped_run_leaves_no_half_written_song(tmp_path, monkeypatch):
    def stop(path, signal, sample_rate):
        if Path(path).name == "vocals.wav":
            raise KeyboardInterrupt
        return real_save(path, signal, sample_rate)

    real_save = dataset.audio_io.save
    monkeypatch.setattr(dataset.audio_io, "save", stop)
    with pytest.raises(KeyboardInterrupt):
        songs.generate(tmp_path, n_train=1, n_test=0, duration=1.0, n_duets_train=0, n_duets_test=0, workers=1,
                       progress=False, engine="numpy")
    assert not (tmp_path / "train").exists() and not (tmp_path / "settings.json").exists()
    monkeypatch.undo()
    root = songs.generate(tmp_path, n_train=1, n_test=0, duration=1.0, n_duets_train=0, n_duets_test=0, workers=1,
                          progress=False, engine="numpy")
    assert len(_names(root / "train")) == 1 and not (root / ".partial").exists()


@pytest.mark.parametrize("kwargs, message", [
    ({"n_train": -1}, "n_train=-1"),
    ({"duration": 0}, "duration=0"),
    ({"duration": -2.5}, "duration=-2.5"),
    ({"n_hard": -3}, "n_hard=-3"),
    ({"workers": 0}, "workers=0"),
    ({"engine": "midi"}, "engine='midi'"),
])
def test_generate_rejects_bad_settings(tmp_path, kwargs, message):
    with pytest.raises(ParameterError, match=message):
        songs.generate(tmp_path, progress=False, **kwargs)


def test_cli_help_documents_every_option(capsys):
    with pytest.raises(SystemExit) as info:
        dataset.main(["--help"])
    assert info.value.code == 0
    text = capsys.readouterr().out
    for option in ("--root", "--n-train", "--n-test", "--duration", "--n-duets-train", "--n-duets-test",
                   "--duet-duration", "--seed", "--sample-rate", "--workers", "--force", "--demo-song",
                   "--demo-seconds", "--n-heldout", "--n-hard", "--engine"):
        assert option in text


def test_cli_turns_bad_input_into_exit_status_2_and_writes_nothing(tmp_path, capsys):
    assert dataset.main(["--root", str(tmp_path / "set"), "--n-train", "-1"]) == 2
    assert "n_train=-1" in capsys.readouterr().err and not (tmp_path / "set").exists()


def test_demo_song_plays_the_test_songs_in_a_loop(small_dataset, tmp_path):
    path = songs.demo_song(tmp_path / "demo.wav", duration=9.5, root=small_dataset)  # the one test song is 4 s
    song, rate = sf.read(path, dtype="float32", always_2d=True)
    first, _ = sf.read(next((small_dataset / "test").glob("*/mixture.wav")), dtype="float32", always_2d=True)
    assert rate == 44100 and song.shape == (round(9.5 * rate), 2) and sf.info(path).subtype == "PCM_16"
    for start in (0, len(first), 2 * len(first)):  # 4 s, 4 s again, then the first 1.5 s
        piece = song[start:start + len(first)]
        np.testing.assert_allclose(piece, first[:len(piece)], atol=1 / 2 ** 15)
    with pytest.raises(ParameterError, match="duration=0"):
        songs.demo_song(tmp_path / "none.wav", duration=0, root=small_dataset)
    with pytest.raises(ParameterError, match="no generated songs"):
        songs.demo_song(tmp_path / "none.wav", root=tmp_path)
    assert not (tmp_path / "none.wav").exists()


@pytest.fixture(scope="module")
def numpy_songs():
    return [numpy_engine.make_song(seed=0, index=i, subset="test", duration=8.0)[0] for i in range(3)]


def _mono(x):
    return x.mean(axis=0)


def test_vocals_are_harmonic_and_drums_are_noisy(numpy_songs):
    for song in numpy_songs:
        flatness = {}
        for stem in ("vocals", "drums"):
            y = _mono(song[stem])
            rms = librosa.feature.rms(y=y)[0]
            active = rms > 0.1 * rms.max()
            flatness[stem] = np.median(librosa.feature.spectral_flatness(y=y)[0][active])
        assert flatness["vocals"] < 0.05
        assert flatness["drums"] > 3 * flatness["vocals"]


def test_vocals_have_silent_phrases(numpy_songs):
    shares = []
    for song in numpy_songs:
        rms = librosa.feature.rms(y=_mono(song["vocals"]), frame_length=4096, hop_length=2048)[0]
        shares.append(np.mean(rms < 1e-3 * rms.max()))
    assert all(0.05 < share < 0.8 for share in shares), shares
    assert np.mean(shares) > 0.2, shares


def test_drums_are_transient_rich(numpy_songs):
    for song in numpy_songs:
        rates = {stem: len(librosa.onset.onset_detect(y=_mono(song[stem]), sr=44100)) / 8.0
                 for stem in ("drums", "vocals", "bass")}
        assert rates["drums"] >= 2.5
        assert rates["drums"] > rates["vocals"]


def test_bass_energy_sits_below_300_hz(numpy_songs):
    for song in numpy_songs:
        power = np.abs(spectral.stft(_mono(song["bass"]), n_fft=4096, hop_length=1024)) ** 2
        freqs = librosa.fft_frequencies(sr=44100, n_fft=4096)
        assert power[freqs < 300].sum() / power.sum() > 0.9


def _fixed_filter_split(mixture: np.ndarray, reference: np.ndarray, sample_rate: int, *,
                        cutoffs=(100, 150, 200, 300, 500, 800, 1200, 2000, 3000, 5000),
                        n_fft: int = 2048, hop_length: int = 512) -> dict:
    """The best fixed low-pass or high-pass "separator" for a target: a baseline that needs no learning.

    Every cutoff (Hz) and both sides are tried as a brick-wall STFT mask; the one with the highest SI-SDR against
    the reference wins. If it scores close to an ideal mask, the data would be too easy.

    Parameters
    ----------
    mixture, reference : np.ndarray [shape=(..., n_samples)]
    sample_rate : int > 0
        In Hz.
    cutoffs : sequence of float
        Candidate cutoff frequencies in Hz.
    n_fft, hop_length : int

    Returns
    -------
    best : dict
        ``{"cutoff": Hz, "side": "low" or "high", "si_sdr": dB, "estimate": np.ndarray}``.
    """
    mixture_stft = spectral.stft(mixture, n_fft=n_fft, hop_length=hop_length)
    freqs = np.arange(n_fft // 2 + 1) * sample_rate / n_fft
    best = None
    for cutoff in cutoffs:
        for side in ("low", "high"):
            keep = (freqs < cutoff) if side == "low" else (freqs >= cutoff)
            estimate = spectral.istft(mixture_stft * keep[:, None], hop_length=hop_length, length=mixture.shape[-1])
            score = evaluation.si_sdr(reference, estimate)
            if best is None or score > best["si_sdr"]:
                best = {"cutoff": float(cutoff), "side": side, "si_sdr": score, "estimate": estimate}
    return best


def test_stems_are_not_separable_by_a_fixed_filter(numpy_songs):
    """The best low/high-pass split stays far below the ideal ratio mask (SI-SDR, dB)."""
    for song in numpy_songs[:2]:
        mixture = _mono(song["mixture"])
        stfts = {s: spectral.stft(_mono(song[s])) for s in STEMS}
        irm = masks.ratio_masks(stfts, power=1)
        mixture_stft = spectral.stft(mixture)
        for target in ("vocals", "drums"):
            reference = _mono(song[target])
            fixed = _fixed_filter_split(mixture, reference, 44100)
            oracle = evaluation.si_sdr(reference, masks.apply_mask(irm[target], mixture_stft, length=mixture.size))
            assert oracle - fixed["si_sdr"] > 6, (target, fixed["si_sdr"], oracle)
