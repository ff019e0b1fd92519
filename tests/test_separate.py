"""helpers.separate: the cross-fade, the stream's alignment, the shipped model's quality and the `separate` CLI."""

import hashlib
import subprocess
import sys

import keras
import numpy as np
import pytest
import soundfile as sf

from conftest import BAD_AUDIO, write_bad_audio
from helpers import ParameterError, data, evaluation, models, separate, training


def constant_mask_model(values, n_frames=16):
    """A stand-in U-Net whose masks are constants (``{target: value}``), with the course's 513 bins."""
    inputs = keras.Input((513, n_frames, 1))
    outputs = {}
    for target, value in values.items():
        mask = keras.layers.Rescaling(0.0, offset=value, name=f"{target}_mask_full")(inputs)
        outputs[target] = keras.layers.Multiply(name=target)([mask, inputs])
    return keras.Model(inputs, outputs)


@pytest.fixture(scope="module")
def identity():
    """A separator whose only target keeps everything: what comes out must be what went in."""
    return separate.Separator(constant_mask_model({"vocals": 1.0}), batch_size=2)


def test_crossfade_windows_sum_to_one():
    for length, overlap in [(100, 25), (101, 50), (10, 0), (7, 3)]:
        window = separate.crossfade_window(length, overlap)
        assert window.shape == (length,) and window.min() > 0 and window.max() == 1
        hop = length - overlap
        total = np.zeros(5 * hop + length)
        for start in range(0, 5 * hop + 1, hop):
            total[start:start + length] += window
        np.testing.assert_allclose(total[overlap:5 * hop + overlap], 1.0, atol=1e-6)
    with pytest.raises(ParameterError, match="overlap_length=60"):
        separate.crossfade_window(100, 60)


@pytest.mark.parametrize("n_samples", [1, 74, 75, 76, 1000])
def test_chunk_starts_cover_the_signal_with_full_weight(n_samples):
    length, overlap = 100, 25
    starts = separate.chunk_starts(n_samples, length, overlap)
    assert starts[0] == -overlap
    assert starts[-1] + length - overlap >= n_samples  # the last sample lies before the last window's fade-out
    assert len(starts) == 1 or starts[-2] + length - overlap < n_samples  # and no window is wasted


def test_seams_lie_at_boundaries_or_in_the_middle_of_cross_fades():
    np.testing.assert_array_equal(separate.seam_positions(350, 100, 0), [100, 200, 300])
    # windows start at -20, 60, 140, 220, 300: their overlaps are [60, 80), [140, 160), ...
    np.testing.assert_array_equal(separate.seam_positions(300, 100, 20), [70, 150, 230])


def test_chunk_windows_figure_draws_every_window_and_a_unit_sum():
    import matplotlib.pyplot as plt

    from helpers import plotting

    axes = plotting.chunk_windows(np.zeros((2, 44100 * 3)), 44100, 1000, 250, 1000, seconds=3.0)
    lines = axes[1].lines
    assert len(lines) == len(separate.chunk_starts(3000, 1000, 250)) + 1  # one per window, then the sum
    np.testing.assert_allclose(lines[-1].get_ydata(), 1.0, atol=1e-6)
    plt.close(axes[0].figure)


def test_mask_model_gives_the_masks_the_unet_multiplies():
    model = models.unet(n_bins=65, n_frames=16, base_filters=2, depth=2)
    x = np.random.default_rng(5).random((2, 65, 16, 1)).astype(np.float32) + 0.1
    masks = models.unet_mask_model(model).predict_on_batch(x)
    outputs = model.predict_on_batch(x)
    for target in ("vocals", "drums"):
        np.testing.assert_allclose(np.asarray(masks[target]) * x, outputs[target], rtol=1e-5, atol=1e-6)
    with pytest.raises(ParameterError, match="not among the model's outputs"):
        models.unet_mask_model(model, ("bass",))


@pytest.mark.parametrize("n_samples", [1, 10, 3839, 3840, 3841, 17 * 3840 + 17])
@pytest.mark.parametrize("overlap", [0.0, 0.25, 0.5])
def test_stream_is_aligned_sample_exact(n_samples, overlap):
    separator = separate.Separator(constant_mask_model({"vocals": 1.0}), overlap=overlap, batch_size=2)
    signal = np.random.default_rng(n_samples).uniform(-0.5, 0.5, (2, n_samples)).astype(np.float32)
    estimates = separator(signal, 22050)
    assert estimates["vocals"].shape == signal.shape
    np.testing.assert_allclose(estimates["vocals"], signal, atol=2e-6)  # STFT, mask 1, ISTFT, cross-fade: exact


def test_stream_is_independent_of_block_sizes(identity):
    signal = np.random.default_rng(1).uniform(-0.5, 0.5, (1, 20000)).astype(np.float32)
    for sizes in ([20000], [1] * 7 + [19993], [4096] * 4 + [3616], [333] * 60 + [20]):
        blocks = np.split(signal, np.cumsum(sizes)[:-1], axis=1)
        pieces = list(identity.stream(iter(blocks), 22050, 1))
        assert sum(m.shape[1] for m, _ in pieces) == 20000
        np.testing.assert_array_equal(np.concatenate([m for m, _ in pieces], axis=1), signal)
        np.testing.assert_allclose(np.concatenate([e["vocals"] for _, e in pieces], axis=1), signal, atol=2e-6)


def test_stream_keeps_memory_flat(identity):
    """Estimates come out while the input is still arriving, never more than a batch of windows behind."""
    consumed = []

    def blocks():
        for _ in range(200):
            consumed.append(1000)
            yield np.zeros((2, 1000), dtype=np.float32)

    emitted, lags = 0, []
    for mixture, _ in identity.stream(blocks(), 22050, 2):
        emitted += mixture.shape[1]
        lags.append(sum(consumed) - emitted)
    assert emitted == 200_000 and len(lags) > 10
    hop = identity.chunk_length - identity.overlap_length
    assert max(lags) <= identity.batch_size * hop + identity.chunk_length + 1000


@pytest.mark.parametrize("sample_rate", [8000, 44100, 96000])
def test_other_sample_rates_come_back_at_their_own_rate(identity, sample_rate):
    t = np.arange(sample_rate) / sample_rate  # 1 s of a 440-Hz tone: well inside the model's band
    signal = (0.5 * np.sin(2 * np.pi * 440 * t)).astype(np.float32)
    estimate = identity(signal, sample_rate)["vocals"]
    assert estimate.shape == signal.shape
    assert np.abs(estimate - signal)[100:-100].max() < 1e-3  # down to 22.05 kHz and back: the tone survives


def test_separate_returns_targets_and_residual_that_sum_to_the_mixture():
    model = constant_mask_model({"vocals": 0.5, "drums": 0.25})
    mixture = np.random.default_rng(2).uniform(-0.5, 0.5, (2, 9000)).astype(np.float32)
    before = mixture.copy()
    estimates = separate.separate(mixture, 22050, model=model, residual="accompaniment")
    assert list(estimates) == ["vocals", "drums", "accompaniment"]
    np.testing.assert_allclose(estimates["vocals"], 0.5 * mixture, atol=2e-6)
    np.testing.assert_allclose(estimates["drums"], 0.25 * mixture, atol=2e-6)
    np.testing.assert_allclose(sum(estimates.values()), mixture, atol=1e-6)
    np.testing.assert_array_equal(mixture, before)  # input untouched


def test_separate_warns_on_silence_and_rejects_bad_input(identity):
    with pytest.warns(UserWarning, match="silent"):
        estimates = separate.separate(np.zeros(5000, np.float32), 22050, targets=("vocals",), model=identity)
    assert not estimates["vocals"].any()
    with pytest.raises(ParameterError, match="non-finite"):
        separate.separate(np.full(100, np.nan, np.float32), 22050, targets=("vocals",), model=identity)
    with pytest.raises(ParameterError, match="sample_rate=0"):
        separate.separate(np.zeros(100, np.float32), 0, targets=("vocals",), model=identity)
    with pytest.raises(ParameterError, match="'drums' is not separated by this separator"):
        separate.separate(np.zeros(100, np.float32), 22050, targets=("drums",), model=identity)
    with pytest.raises(ParameterError, match="'bass' is not separated by this model"):
        separate.Separator(constant_mask_model({"vocals": 1.0}), targets=("bass",))
    with pytest.raises(ParameterError, match="overlap=0.7"):
        separate.Separator(constant_mask_model({"vocals": 1.0}), overlap=0.7)


def test_shipped_model_separates_a_generated_song(small_dataset):
    """Regression: the shipped U-Net on the small generated test song, at 44.1 kHz through the whole stream."""
    track = data.load_tracks("generated", "test", root=small_dataset)[0]
    arrays = data.track_arrays(track, ("vocals", "drums"), sample_rate=None)
    mixture, rate = arrays["mixture"], arrays["sample_rate"]
    estimates = separate.separate(mixture, rate, residual="accompaniment")
    assert all(e.shape == mixture.shape and e.dtype == np.float32 for e in estimates.values())
    np.testing.assert_allclose(sum(estimates.values()), mixture, atol=1e-6)
    for target, measured in [("vocals", 7.73), ("drums", 7.63)]:  # SDR in dB (MIX: -3.1 and -3.9)
        sdr = evaluation.bss_eval_target(arrays[target], estimates[target], mixture, rate)["SDR"]
        assert sdr == pytest.approx(measured, abs=1.0), target


# --- the command line ------------------------------------------------------------------------------------------------

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
    (["--targets", "bass"], "'bass' is not separated by this model"),
    (["--model", "{tmp}/missing.keras"], "no such model file"),
    (["--model", "{tmp}/corrupt.keras"], "not a loadable Keras model"),
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
    separator = separate.Separator()
    paths = separate.output_paths(song, tmp_path / "out", separator.targets, "accompaniment")

    def fail(chunks):
        raise KeyboardInterrupt

    monkeypatch.setattr(separator, "separate_chunks", fail)
    with pytest.raises(KeyboardInterrupt):
        separate.separate_file(song, paths, separator, progress=False)
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
    path = training.export(model, tmp_path / "bass.keras")
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
    assert result.stderr.startswith(f"separate: error: {corrupt}: not a loadable Keras model")
    help_text = subprocess.run([sys.executable, "-m", "helpers.separate", "--help"], capture_output=True, text=True)
    assert help_text.returncode == 0 and "--residual" in help_text.stdout and "Exit status" in help_text.stdout
