"""helpers.separate: the `separate` command (outputs that add up, bad input, atomic writes, models from files)."""

import hashlib
import subprocess
import sys

import numpy as np
import pytest
import soundfile as sf

from conftest import BAD_AUDIO, write_bad_audio
from helpers import models, separate, separation


def run_cli(*args):
    """Run ``separate.main`` in-process; returns (exit status, stderr lines)."""
    import contextlib
    import io

    stderr = io.StringIO()
    with contextlib.redirect_stderr(stderr):
        status = separate.main([str(a) for a in args] + ["--quiet"])
    return status, [line for line in stderr.getvalue().splitlines() if line.strip()]


def digest(folder):
    return {p.relative_to(folder).as_posix(): hashlib.sha256(p.read_bytes()).hexdigest()
            for p in sorted(folder.rglob("*")) if p.is_file()}


@pytest.fixture
def song(tmp_path):
    """Half a second of a stereo generated-style signal at 44.1 kHz, as a 16-bit WAV."""
    rng = np.random.default_rng(3)
    t = np.arange(22050) / 44100
    signal = 0.3 * np.sin(2 * np.pi * 220 * t) + 0.05 * rng.standard_normal(t.size)
    path = tmp_path / "in" / "song.wav"
    path.parent.mkdir()
    sf.write(path, np.stack([signal, 0.5 * signal]).T, 44100, subtype="PCM_16")
    return path


def check_outputs_add_up(song, out, names=("vocals", "drums", "accompaniment")):
    original, rate = sf.read(song, dtype="float32", always_2d=True)
    total = 0
    for name in names:
        stem, stem_rate = sf.read(out / song.stem / f"{name}.wav", dtype="float32", always_2d=True)
        assert stem_rate == rate and stem.shape == original.shape
        total = total + stem
    assert np.abs(total - original).max() < 1e-6
    return original


def test_cli_writes_stems_that_add_up_and_refuses_to_overwrite(song, tmp_path):
    out = tmp_path / "out"
    status, errors = run_cli(song, "--out", out)
    assert status == 0 and not errors
    check_outputs_add_up(song, out)
    assert sorted(digest(out)) == ["song/accompaniment.wav", "song/drums.wav", "song/vocals.wav"]
    first = digest(out)
    status, errors = run_cli(song, "--out", out)  # again, without --overwrite: refused, nothing touched
    assert status == 2 and len(errors) == 1 and "exists (pass --overwrite" in errors[0]
    assert digest(out) == first
    status, errors = run_cli(song, "--out", out, "--overwrite")  # again, replacing: the same bytes, no extra files
    assert status == 0 and digest(out) == first


def test_cli_wiener_output_adds_up(song, tmp_path):
    status, _ = run_cli(song, "--out", tmp_path / "out", "--wiener")
    assert status == 0
    check_outputs_add_up(song, tmp_path / "out")


@pytest.mark.parametrize("case", BAD_AUDIO)
def test_cli_bad_songs_exit_2_and_write_nothing(song, tmp_path, case):
    bad = write_bad_audio(tmp_path / "in" / f"{case}.wav", case)
    message = BAD_AUDIO[case]
    inputs = digest(tmp_path / "in")
    status, errors = run_cli(song, bad, "--out", tmp_path / "out")  # a good song first: it is not written either
    assert status == 2 and len(errors) == 1
    assert errors[0].startswith("separate: error: ") and message in errors[0] and bad.name in errors[0]
    assert not (tmp_path / "out").exists()
    assert digest(tmp_path / "in") == inputs


@pytest.mark.parametrize("args, message", [
    (["--targets", "guitar"], "unknown target 'guitar'"),
    (["--targets", "other"], "'other' is not separated by this model"),
    (["--model", "{tmp}/missing.keras"], "no such model file"),
    (["--model", "{tmp}/corrupt.keras"], "not a Keras model file"),
    (["--out", "{tmp}/a_file"], "is not a folder"),
    (["--out", "{tmp}/a_file/below"], "is not a folder"),
    (["--out", "{tmp}/taken"], "exists and is not a folder"),  # taken/song, the song's folder, is a file
    (["--residual", "../escape"], "must be a plain file name"),
    (["--residual", "vocals"], "is also a target's name"),
    (["--overlap", "0.7"], "overlap=0.7"),
])
def test_cli_bad_options_exit_2_and_write_nothing(song, tmp_path, args, message):
    (tmp_path / "corrupt.keras").write_bytes(b"PK\x03\x04 not really a zip file")
    (tmp_path / "a_file").write_text("a file, not a folder")
    (tmp_path / "taken").mkdir()
    (tmp_path / "taken" / "song").write_text("a file where the song's output folder would go")
    before = digest(tmp_path)
    status, errors = run_cli(song, "--out", tmp_path / "out", *[a.format(tmp=tmp_path) for a in args])
    assert status == 2 and len(errors) == 1 and message in errors[0]
    assert digest(tmp_path) == before


def test_cli_refuses_to_write_over_its_input_or_twice_to_one_folder(song, tmp_path):
    # in/vocals/vocals.wav separated into in/: its output in/vocals/vocals.wav would be the input itself.
    own = tmp_path / "in" / "vocals" / "vocals.wav"
    own.parent.mkdir()
    own.write_bytes(song.read_bytes())
    before = digest(tmp_path)
    status, errors = run_cli(own, "--out", tmp_path / "in", "--overwrite")
    assert status == 2 and "would overwrite an input" in errors[0]
    other = tmp_path / "elsewhere" / "song.wav"
    other.parent.mkdir()
    other.write_bytes(song.read_bytes())
    before = digest(tmp_path)
    status, errors = run_cli(song, other, "--out", tmp_path / "out")
    assert status == 2 and "would both write to" in errors[0]
    assert digest(tmp_path) == before


def test_interrupted_separation_leaves_nothing(song, tmp_path, monkeypatch):
    separator = separation.Separator()
    paths = separation.output_paths(song, tmp_path / "out", targets=separator.targets, residual="accompaniment")

    def fail(batch):
        raise KeyboardInterrupt

    monkeypatch.setattr(separator, "separate_segments", fail)
    with pytest.raises(KeyboardInterrupt):
        separation.separate_file(song, paths, separator, progress=False)
    assert not (tmp_path / "out").exists()  # no temporary files, no empty folder


@pytest.mark.parametrize("case", ["silent", "ten_samples", "mono", "stereo", "six_channels", "8kHz", "96kHz"])
def test_cli_legal_edge_cases(tmp_path, case):
    rng = np.random.default_rng(4)
    n_channels = {"mono": 1, "six_channels": 6}.get(case, 2)
    rate = {"8kHz": 8000, "96kHz": 96000}.get(case, 44100)
    n_samples = 10 if case == "ten_samples" else rate // 2
    signal = np.zeros((n_samples, n_channels), np.float32)
    if case != "silent":
        signal[:] = 0.2 * rng.standard_normal((n_samples, n_channels))
    song = tmp_path / f"{case}.wav"
    sf.write(song, signal, rate, subtype="FLOAT")
    status, messages = run_cli(song, "--out", tmp_path / "out")
    assert status == 0
    assert messages == ([f"separate: warning: {song} is silent; its stems are silent"] if case == "silent" else [])
    original = check_outputs_add_up(song, tmp_path / "out")
    if case == "silent":
        for name in ("vocals", "drums", "accompaniment"):
            assert not sf.read(tmp_path / "out" / song.stem / f"{name}.wav")[0].any()
    assert original.shape == (n_samples, n_channels)


def test_cli_single_target_model_names_its_residual(song, tmp_path):
    model = models.unet(targets=("bass",), base_filters=2, depth=2)
    path = models.save(model, tmp_path / "bass.keras")
    status, errors = run_cli(song, "--model", path, "--out", tmp_path / "out")
    assert status == 0 and not errors
    check_outputs_add_up(song, tmp_path / "out", names=("bass", "bassless"))


def test_console_script_reports_bad_input_in_one_line(song, tmp_path):
    """The real process: TensorFlow's start-up logs must not bury the one line of error."""
    corrupt = tmp_path / "corrupt.keras"
    corrupt.write_bytes(b"PK\x03\x04 not really a zip file")
    result = subprocess.run([sys.executable, "-m", "helpers.separate", str(song), "--model", str(corrupt)],
                            capture_output=True, text=True)
    assert result.returncode == 2
    assert len(result.stderr.strip().splitlines()) == 1
    assert result.stderr.startswith(f"separate: error: {corrupt}: not a Keras model file")
    help_text = subprocess.run([sys.executable, "-m", "helpers.separate", "--help"], capture_output=True, text=True)
    assert help_text.returncode == 0 and "--residual" in help_text.stdout and "Exit status" in help_text.stdout


def test_a_model_trained_at_another_rate_and_hop_separates_from_its_file_alone(tiny_training, song, tmp_path):
    """The 16-kHz, hop-64 U-Net of the training tests: `separate --model` reads everything from the file."""
    folder, _, _ = tiny_training
    status, errors = run_cli(song, "--model", folder / "tiny.keras", "--out", tmp_path / "out")
    assert status == 0 and not errors
    check_outputs_add_up(song, tmp_path / "out")  # at the song's 44.1 kHz, and they sum to it
    separator = separation.Separator(folder / "tiny.keras")
    assert (separator.sample_rate, separator.n_fft, separator.hop_length) == (16000, 256, 64)
    assert separator.segment_length == 15 * 64


def test_a_model_without_settings_is_refused(song, tmp_path):
    import keras

    plain = keras.Sequential([keras.Input((4,)), keras.layers.Dense(2)])
    plain.save(tmp_path / "plain.keras")
    status, errors = run_cli(song, "--model", tmp_path / "plain.keras", "--out", tmp_path / "out")
    assert status == 2 and len(errors) == 1 and "carries no audio settings" in errors[0]
    assert not (tmp_path / "out").exists()


def test_a_wave_unet_file_separates_through_the_command(song, tmp_path):
    path = models.save(models.wave_unet(segment_length=1024, n_levels=2, base_filters=2), tmp_path / "wave.keras")
    status, errors = run_cli(song, "--model", path, "--out", tmp_path / "out")
    assert status == 0 and not errors
    check_outputs_add_up(song, tmp_path / "out")
    status, errors = run_cli(song, "--model", path, "--out", tmp_path / "again", "--wiener")
    assert status == 2 and "wiener=True refines masks; a Wave-U-Net predicts waveforms" in errors[0]
    assert not (tmp_path / "again").exists()
