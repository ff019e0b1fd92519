import io
from pathlib import Path

import librosa
import numpy as np
import pytest
import soundfile as sf

from conftest import BAD_AUDIO, write_bad_audio
from helpers import ParameterError, audio


def test_save_load_round_trip(tone_file):
    path, signal, sample_rate = tone_file
    loaded, rate = audio.load(path)
    assert rate == sample_rate
    assert loaded.dtype == np.float32 and loaded.shape == signal.shape
    np.testing.assert_array_equal(loaded, signal)  # float WAV is lossless


def test_load_mono_and_resample(tone_file):
    path, signal, _ = tone_file
    mono, rate = audio.load(path, sample_rate=11025, mono=True)
    assert rate == 11025 and mono.ndim == 1
    assert abs(mono.shape[0] - signal.shape[1] // 2) <= 1
    # The 440-Hz tone survives resampling: its peak stays at 0.375 (the mean of 0.5 and 0.25).
    assert np.max(np.abs(mono[100:-100])) == pytest.approx(0.375, abs=0.01)


@pytest.mark.parametrize("shape, rate, target_rate", [((2, 12345), 44100, 11025), ((1001,), 44100, 8000),
                                                      ((2, 5000), 8000, 44100), ((3, 22050), 22050, 44100)])
def test_resample_is_soxr_hq_as_librosa_gives_it(shape, rate, target_rate):
    x = np.random.default_rng(0).standard_normal(shape).astype(np.float32)
    y = audio.resample(x, rate, target_rate=target_rate)
    assert y.dtype == np.float32 and y.flags.c_contiguous
    np.testing.assert_allclose(y, librosa.resample(x, orig_sr=rate, target_sr=target_rate, res_type="soxr_hq"),
                               atol=1e-6)  # same samples, same length (ceil(n * target_rate / rate))
    with pytest.raises(ParameterError, match="target_rate=0"):
        audio.resample(x, rate, target_rate=0)


@pytest.mark.parametrize("case", BAD_AUDIO)
def test_load_bad_inputs_name_file_and_problem(tmp_path, case):
    path = write_bad_audio(tmp_path / f"{case}.wav", case)
    before = path.read_bytes() if path.is_file() else None
    with pytest.raises(ParameterError, match=BAD_AUDIO[case]) as info:
        audio.load(path)
    assert str(path) in str(info.value)
    if before is not None:
        assert path.read_bytes() == before  # input untouched


def test_load_rejects_bad_sample_rate(tone_file):
    with pytest.raises(ParameterError, match="sample_rate=0"):
        audio.load(tone_file[0], sample_rate=0)


def test_save_is_atomic_and_respects_overwrite(tmp_path, tone):
    signal, sample_rate = tone
    path = audio.save(tmp_path / "out" / "a.wav", signal, sample_rate)
    original = path.read_bytes()
    with pytest.raises(ParameterError, match="exists"):
        audio.save(path, signal * 0.5, sample_rate, overwrite=False)
    bad = signal.copy()
    bad[0, 0] = np.inf
    with pytest.raises(ParameterError, match="non-finite"):
        audio.save(path, bad, sample_rate)
    assert path.read_bytes() == original
    assert sorted(p.name for p in path.parent.iterdir()) == ["a.wav"]  # no temp files left


def test_save_pcm24(tmp_path, tone):
    signal, sample_rate = tone
    path = audio.save(tmp_path / "a.wav", signal, sample_rate, subtype="PCM_24")
    loaded, _ = audio.load(path)
    assert np.max(np.abs(loaded - signal)) < 2 ** -22


@pytest.mark.parametrize("bad, message", [
    ([0.0, 1.0], "numpy.ndarray"),
    (np.zeros(10, dtype=np.int16), "floating-point"),
    (np.zeros((2, 2, 2)), "shape"),
    (np.zeros(0), "empty"),
    (np.zeros((44100, 2)), "too many"),
    (np.array([0.0, np.nan]), "non-finite"),
])
def test_validate_audio(bad, message):
    with pytest.raises(ParameterError, match=message):
        audio.validate_audio(bad)


def test_to_mono(tone):
    signal, _ = tone
    mono = audio.to_mono(signal)
    np.testing.assert_allclose(mono, signal.mean(axis=0), rtol=1e-6)


def test_check_file_scans_every_block_without_loading(tmp_path):
    signal = np.zeros((3 * 4096 + 5, 2), np.float32)
    signal[2 * 4096 + 1, 1] = np.inf  # in the third block
    path = tmp_path / "late_inf.wav"
    sf.write(path, signal, 8000, subtype="FLOAT")
    info = audio.check_file(path, scan=False)
    assert (info.samplerate, info.channels, info.frames) == (8000, 2, 3 * 4096 + 5)
    with pytest.raises(ParameterError, match="non-finite"):
        audio.check_file(path, block_length=4096)


def test_writers_publish_all_files_or_none(tmp_path, tone):
    signal, sample_rate = tone
    paths = {"a": tmp_path / "out" / "a.wav", "b": tmp_path / "out" / "b.flac"}
    with pytest.raises(RuntimeError):
        with audio.writers(paths, sample_rate, 2, subtype="PCM_24") as files:
            files["a"].write(signal.T)
            raise RuntimeError("interrupted")
    assert list((tmp_path / "out").iterdir()) == []  # no file, no temporary left behind
    with audio.writers(paths, sample_rate, 2, subtype="PCM_24") as files:
        for f in files.values():
            f.write(signal.T)
    assert sorted(p.name for p in (tmp_path / "out").iterdir()) == ["a.wav", "b.flac"]
    np.testing.assert_allclose(sf.read(paths["b"], dtype="float32")[0], signal.T, atol=2 ** -22)


def test_atomic_path_publishes_on_success_and_leaves_nothing_on_failure(tmp_path):
    target = tmp_path / "deep" / "model.keras"
    with pytest.raises(RuntimeError):
        with audio.atomic_path(target) as tmp:
            Path(tmp).write_text("half")
            raise RuntimeError("interrupted")
    assert not target.exists() and not any((tmp_path / "deep").iterdir())
    with audio.atomic_path(target) as tmp:
        Path(tmp).write_text("whole")
    assert target.read_text() == "whole" and [p.name for p in (tmp_path / "deep").iterdir()] == ["model.keras"]


def _decode(encoded):
    return sf.read(io.BytesIO(encoded), dtype="float32")


def test_wav_bytes_is_unnormalised_16_bit():
    quiet = 0.001 * np.random.default_rng(0).standard_normal((2, 800)).astype(np.float32)
    decoded, rate = _decode(audio.wav_bytes(quiet, 8000))
    assert rate == 8000 and decoded.shape == (800, 2)
    np.testing.assert_allclose(decoded.T, quiet, atol=2 ** -15)  # not scaled up to full scale


def test_ogg_is_a_fraction_of_wav():
    t = np.arange(5 * 44100) / 44100
    song = (0.3 * np.sin(2 * np.pi * 440 * t) * np.exp(-t)).astype(np.float32)
    ogg, wav = audio.ogg_bytes(np.stack([song, song]), 44100), audio.wav_bytes(np.stack([song, song]), 44100)
    assert len(ogg) < len(wav) / 5
    decoded, rate = _decode(ogg)
    assert rate == 44100 and abs(decoded.shape[0] - song.size) < 2048 and np.abs(decoded).max() < 0.35
    with pytest.raises(ParameterError, match="sample_rate=0"):
        audio.wav_bytes(song, 0)
