import h5py
import numpy as np
import pytest

from helpers import ParameterError, data


@pytest.fixture(scope="module")
def tracks(small_dataset):
    return data.load_tracks("generated", "train", root=small_dataset)


def test_load_tracks_generated_and_helpful_errors(tracks, tmp_path, monkeypatch):
    assert len(tracks) == 2
    with pytest.raises(ParameterError, match="make data"):
        data.load_tracks("generated", "train", root=tmp_path)
    monkeypatch.delenv("MUSDB_ROOT", raising=False)
    with pytest.raises(ParameterError, match="MUSDB_ROOT"):
        data.load_tracks("musdb", "train")
    with pytest.raises(ParameterError, match="source='nope'"):
        data.load_tracks("nope")
    with pytest.raises(ParameterError, match="subset='valid'"):
        data.load_tracks("generated", "valid")


def test_load_tracks_auto_falls_back_and_says_so(small_dataset, monkeypatch, capsys):
    monkeypatch.delenv("MUSDB_ROOT", raising=False)
    monkeypatch.setattr(data, "generated_root", lambda: small_dataset)
    assert len(data.load_tracks("auto", "test")) == 1
    assert "using the generated dataset" in capsys.readouterr().out


def test_load_tracks_musdb_root_reads_wav_layout(small_dataset, monkeypatch):
    monkeypatch.setenv("MUSDB_ROOT", str(small_dataset))
    assert [t.name for t in data.load_tracks("musdb", "test")] == [t.name for t in
                                                                   data.load_tracks("generated", "test", small_dataset)]


def test_load_tracks_musdb_reads_stem_mp4_files_like_musdb18(small_dataset, tmp_path, monkeypatch):
    # MUSDB18 ships each song as one .stem.mp4 (AAC streams: mixture, drums, bass, other, vocals). Write the small
    # set's test song in that format with stempeg and read it back through the real musdb code path.
    from helpers import compat

    compat.ensure_ffmpeg()
    import stempeg

    song = data.load_tracks("generated", "test", small_dataset)[0]
    arrays = data.track_arrays(song, targets=("drums", "bass", "other", "vocals"), sample_rate=None)
    streams = np.stack([arrays[name].T for name in ("mixture", "drums", "bass", "other", "vocals")])
    (tmp_path / "test").mkdir()
    stempeg.write_stems(str(tmp_path / "test" / f"{song.name}.stem.mp4"), streams, sample_rate=song.rate,
                        writer=stempeg.StreamsWriter(codec="aac", bitrate=256000))
    monkeypatch.setenv("MUSDB_ROOT", str(tmp_path))
    [track] = data.load_tracks("musdb", "test")
    assert track.name == song.name and track.rate == song.rate
    decoded = data.track_arrays(track, targets=("vocals", "drums"), sample_rate=None)
    for name in ("mixture", "vocals", "drums"):  # AAC is lossy and may shift by a frame: compare levels and shape
        reference = arrays[name][:, : decoded[name].shape[1]]
        assert abs(decoded[name].shape[1] - arrays[name].shape[1]) <= 2048
        n = min(reference.shape[1], decoded[name].shape[1])
        correlation = np.corrcoef(reference[0, :n], decoded[name][0, :n])[0, 1]
        assert correlation > 0.9, (name, correlation)


def test_load_duets(small_dataset):
    duets = data.load_duets("train", root=small_dataset)
    assert len(duets) == 1
    duet = duets[0]
    assert duet["mixture"].shape == duet["piano"].shape == (2, 3 * 44100)
    np.testing.assert_allclose(duet["mixture"], duet["piano"] + duet["violin"], atol=1e-6)
    with pytest.raises(ParameterError, match="no held-out split"):
        data.load_duets("heldout", root=small_dataset)


def test_track_arrays_targets_and_accompaniment(tracks):
    arrays = data.track_arrays(tracks[0], targets=("bass", "accompaniment"), sample_rate=22050)
    assert sorted(arrays) == ["accompaniment", "bass", "mixture"]  # arrays only: the caller knows the rate
    assert arrays["mixture"].shape == (2, 4 * 22050)
    np.testing.assert_allclose(arrays["bass"] + arrays["accompaniment"], arrays["mixture"], atol=1e-5)
    with pytest.raises(ParameterError, match="unknown target 'guitar'"):
        data.track_arrays(tracks[0], targets=("guitar",))


def test_model_layout_round_trip():
    magnitude = np.random.default_rng(0).random((3, 513, 64)).astype(np.float32)
    image = data.to_model_layout(magnitude)
    assert image.shape == (3, 513, 64, 1)
    np.testing.assert_array_equal(data.from_model_layout(image), magnitude)
    with pytest.raises(ParameterError, match="trailing channel"):
        data.from_model_layout(magnitude)


@pytest.fixture(scope="module")
def cache(tracks, tmp_path_factory):
    path = tmp_path_factory.mktemp("cache") / "train.h5"
    return data.build_cache(tracks, path, targets=("vocals", "drums"), n_frames=64, progress=False)


def test_cache_round_trips(cache, tracks):
    info = data.cache_info(cache)
    # 4 s at 22.05 kHz in segments of 63 hops of 256 samples: 6 segments, 2 channels each, 2 tracks.
    assert info["n_examples"] == 2 * 2 * 6 and info["shape"] == (513, 64)
    arrays = data.track_arrays(tracks[0], targets=("vocals",))
    first = np.abs(data.spectral.stft(arrays["vocals"][0, : 63 * 256]))
    with h5py.File(cache, "r") as f:
        np.testing.assert_allclose(f["vocals"][0], first, rtol=1e-5, atol=1e-5)
        assert f["mixture"].dtype == np.float32


def test_cache_reused_when_settings_match_rebuilt_otherwise(cache, tracks):
    stamp = cache.stat().st_mtime_ns
    data.build_cache(tracks, cache, targets=("vocals", "drums"), n_frames=64, progress=False)
    assert cache.stat().st_mtime_ns == stamp
    other = cache.with_name("other.h5")
    other.write_bytes(cache.read_bytes())
    data.build_cache(tracks, other, targets=("vocals",), n_frames=32, progress=False)
    info = data.cache_info(other)
    assert info["targets"] == ["vocals"] and info["shape"] == (513, 32)
    assert not list(cache.parent.glob(".*.tmp"))


def test_numpy_batches(cache):
    batches = list(data.numpy_batches(cache, targets=("drums",), batch_size=10, shuffle=True, seed=1))
    assert [b[0].shape[0] for b in batches] == [10, 10, 4]
    mixture, sources = batches[0]
    assert mixture.shape == (10, 513, 64, 1) and list(sources) == ["drums"]
    with pytest.raises(ParameterError, match="not in the cache"):
        next(data.numpy_batches(cache, targets=("bass",)))


def test_tf_dataset_shapes_and_dtypes(cache):
    import tensorflow as tf

    dataset = data.tf_dataset(cache, targets=("vocals", "drums"), batch_size=8, seed=0)
    mixture, sources = next(iter(dataset))
    assert mixture.shape == (8, 513, 64, 1) and mixture.dtype == tf.float32
    assert sorted(sources) == ["drums", "vocals"]
    assert all(s.shape == (8, 513, 64, 1) and s.dtype == tf.float32 for s in sources.values())
    assert sum(int(m.shape[0]) for m, _ in dataset) == 24


def test_context_windows_centre_and_padding():
    magnitude = np.arange(2 * 3 * 5, dtype=np.float32).reshape(2, 3, 5)  # (channels, bins, frames)
    windows = data.context_windows(magnitude, context=1)
    assert windows.shape == (2, 5, 3, 3)
    np.testing.assert_array_equal(windows[:, :, 1, :], np.swapaxes(magnitude, -1, -2))
    np.testing.assert_array_equal(windows[0, 0, 0], 0)  # zero padding before the first frame
    np.testing.assert_array_equal(windows[0, 1, 0], magnitude[0, :, 0])
    with pytest.raises(ParameterError, match="context=-1"):
        data.context_windows(magnitude, context=-1)


def test_spectrogram_fnn_batches(small_dataset, tmp_path):
    tracks = data.load_tracks("generated", "train", root=small_dataset)
    cache = data.build_cache(tracks, tmp_path / "c.h5", targets=("vocals",), n_fft=64, hop_length=16, n_frames=32,
                             sample_rate=4000, progress=False)
    x, y = next(data.spectrogram_fnn_batches(cache, targets=("vocals",), context=1, segments_per_batch=2))
    assert x.shape == (64, 3, 33) and y["vocals"].shape == (64, 33)


def test_waveform_frames_frame_the_mixture_and_its_sources():
    mixture = np.arange(10, dtype=np.float32)
    x, y = data.waveform_frames(mixture, {"vocals": 2 * mixture}, frame_length=4, hop_length=2)
    assert x.shape == (4, 4) and x.dtype == np.float32
    np.testing.assert_array_equal(x[1], [2, 3, 4, 5])
    np.testing.assert_array_equal(y["vocals"], 2 * x)
    assert data.waveform_frames(mixture, frame_length=4, hop_length=2)[1] is None


SEGMENT_SETS = {  # both segment data sets, as (class, keyword arguments) with segments of 64 samples
    "spectrogram": (data.SpectrogramSegments, dict(n_fft=64, hop_length=16, n_frames=5)),
    "waveform": (data.WaveformSegments, dict(segment_length=64)),
}


def _segments(kind, arrays, targets, **kwargs):
    cls, settings = SEGMENT_SETS[kind]
    return cls(arrays, targets, **settings, **kwargs)


def _coded_arrays(n_tracks=4, n_samples=600):
    """Stems whose every sample says where it comes from: stem j, track k, channel c, sample n hold
    100000 j + 10000 (k + 1) + 1000 c + n (exact in float32)."""
    from helpers.config import STEMS

    n = np.arange(n_samples)
    return [{s: np.stack([j * 100000 + (k + 1) * 10000 + c * 1000 + n for c in range(2)]).astype(np.float32)
             for j, s in enumerate(STEMS)} for k in range(n_tracks)]


def _decode(row):
    """(track, channel, offset) of a segment of :func:`_coded_arrays` (at gain 1)."""
    code = int(row[0]) % 100000
    np.testing.assert_array_equal(np.diff(row), 1)  # one contiguous piece
    return code // 10000 - 1, code % 10000 // 1000, code % 1000


def test_both_segment_sets_share_one_policy_and_its_description():
    policy = data.SpectrogramSegments.policy
    assert policy is data.WaveformSegments.policy is data.AUGMENTATION
    assert isinstance(policy, data.Augmentation)
    assert data.SpectrogramSegments.augmentation == data.WaveformSegments.augmentation == policy.description
    assert policy.description.startswith("stems remixed across songs")
    assert "[-9, +6] dB" in policy.description and "p = 0.1" in policy.description
    assert data.Augmentation(gain_db=(-3, 3), p_drop=0.2).description == (
        "stems remixed across songs, gains in [-3, +3] dB, channels swapped, a target dropped with p = 0.2")
    with pytest.raises(ParameterError, match=r"gain_db=\(6, -9\)"):
        data.Augmentation(gain_db=(6, -9))
    with pytest.raises(ParameterError, match="p_drop=1.5"):
        data.Augmentation(p_drop=1.5)


@pytest.mark.parametrize("kind", SEGMENT_SETS)
def test_augmented_stems_come_from_many_tracks_channels_and_offsets(kind, monkeypatch):
    from helpers.config import STEMS

    cls, _ = SEGMENT_SETS[kind]
    monkeypatch.setattr(cls, "policy", data.Augmentation(gain_db=(0.0, 0.0), p_drop=0.0))  # gains 1: exact codes
    arrays = _coded_arrays()
    remixed = _segments(kind, arrays, ("vocals", "drums"), batch_size=50, n_batches=1, seed=3)
    mixture, stems = remixed.signals(0)
    draws = np.array([[_decode(stems[s][row]) for s in STEMS] for row in range(50)])  # (row, stem, 3)
    tracks, channels, offsets = draws[..., 0], draws[..., 1], draws[..., 2]
    assert set(tracks.ravel()) == set(range(4)) and set(channels.ravel()) == {0, 1}
    assert np.mean([len(set(r)) > 1 for r in tracks]) > 0.8  # most examples mix stems of different songs
    assert np.mean([len(set(r)) > 1 for r in channels]) > 0.6  # and of both channels
    assert np.mean([len(set(r)) == 4 for r in offsets]) > 0.9  # each stem at an offset of its own
    np.testing.assert_array_equal(mixture, sum(stems[s] for s in STEMS))


@pytest.mark.parametrize("kind", SEGMENT_SETS)
def test_augmented_gains_span_the_db_range_and_targets_drop_to_silence(kind):
    from helpers.config import STEMS

    ones = [{s: np.ones((2, 300), np.float32) for s in STEMS} for _ in range(3)]
    remixed = _segments(kind, ones, ("vocals", "drums"), batch_size=500, n_batches=4, seed=4)
    batches = [remixed.signals(i) for i in range(4)]
    stems = {s: np.concatenate([b[1][s] for b in batches]) for s in STEMS}  # 2000 examples
    for s in STEMS:
        assert np.all(stems[s] == stems[s][:, :1])  # one gain per stem and example
    level = {s: stems[s][:, 0] for s in STEMS}
    for s in ("bass", "other"):  # not targets: never dropped
        db = 20 * np.log10(level[s])
        assert db.min() >= -9 - 1e-4 and db.max() <= 6 + 1e-4
        assert db.min() < -8.5 and db.max() > 5.5 and 0.45 < np.mean(db < -1.5) < 0.55  # uniform in dB
    for s in ("vocals", "drums"):
        dropped = level[s] == 0
        assert 0.05 < dropped.mean() < 0.15
        assert np.all(stems[s][dropped] == 0)
        assert np.all(20 * np.log10(level[s][~dropped]) >= -9 - 1e-4)
    mixture, outputs = remixed[0]  # the data set's outputs: a dropped target is exact silence
    silent = batches[0][1]["vocals"][:, 0] == 0
    assert silent.any() and np.all(outputs["vocals"][silent] == 0) and np.all(outputs["vocals"][~silent].max(
        axis=tuple(range(1, mixture.ndim))) > 0)


def test_a_drop_never_silences_the_whole_mixture():
    from helpers.config import STEMS

    ones = [{s: np.ones((1, 100), np.float32) for s in STEMS}]
    policy = data.Augmentation(p_drop=1.0)
    mixture, stems = policy.batch(np.random.default_rng(0), ones, batch_size=20, segment_length=50, targets=STEMS)
    assert np.all(mixture != 0) and all(np.all(stems[s] == 0) for s in STEMS[:3]) and np.all(stems["other"] != 0)
    mixture, stems = policy.batch(np.random.default_rng(0), ones, batch_size=20, segment_length=50,
                                  targets=("vocals", "accompaniment"))
    assert np.all(stems["vocals"] == 0) and np.all(mixture == stems["drums"] + stems["bass"] + stems["other"])


@pytest.mark.parametrize("kind", SEGMENT_SETS)
def test_without_augment_the_batches_are_real_segments_and_repeat(kind):
    from helpers.config import STEMS

    arrays = _coded_arrays()
    fixed = _segments(kind, arrays, ("vocals", "drums"), batch_size=20, n_batches=2, seed=5, augment=False)
    mixture, stems = fixed.signals(1)
    for row in range(20):
        [(track, channel, start)] = {_decode(stems[s][row]) for s in STEMS}
        for s in STEMS:  # one track's stems, one channel, one offset, gains 1
            np.testing.assert_array_equal(stems[s][row], arrays[track][s][channel, start:start + 64])
    np.testing.assert_array_equal(mixture, sum(stems[s] for s in STEMS))
    first = fixed[1]
    fixed.on_epoch_end()
    np.testing.assert_array_equal(fixed.signals(1)[0], mixture)  # a fixed validation set
    np.testing.assert_array_equal(fixed[1][0], first[0])


@pytest.mark.parametrize("kind", SEGMENT_SETS)
def test_segment_sets_are_reproducible_and_new_every_epoch(kind):
    arrays = _coded_arrays()
    remixed = _segments(kind, arrays, ("vocals",), batch_size=4, n_batches=3, seed=1)
    mixture, _ = remixed.signals(0)
    np.testing.assert_array_equal(remixed.signals(0)[0], mixture)  # the same batch, the same draw
    assert not np.array_equal(remixed.signals(1)[0], mixture)
    remixed.on_epoch_end()
    assert not np.array_equal(remixed.signals(0)[0], mixture)  # a new epoch, new remixes
    with pytest.raises(ParameterError, match="arrays is empty"):
        _segments(kind, [], ("vocals",), batch_size=4, n_batches=3)
    with pytest.raises(ParameterError, match="lack"):
        _segments(kind, [{"mixture": arrays[0]["vocals"], "vocals": arrays[0]["vocals"]}], ("vocals",),
                  batch_size=4, n_batches=3)


def test_segment_sets_targets_and_accompaniment_add_up_to_the_mixture(small_dataset):
    from helpers import spectral
    from helpers.config import STEMS

    tracks = data.load_tracks("generated", "train", root=small_dataset)
    arrays = [data.track_arrays(t, targets=STEMS, sample_rate=8000) for t in tracks]
    targets = ("vocals", "drums", "accompaniment")
    waveform = data.WaveformSegments(arrays, targets, segment_length=2048, batch_size=8, n_batches=2, seed=1)
    mixture, outputs = waveform[0]
    assert mixture.shape == (8, 2048, 1) and mixture.dtype == np.float32 and list(outputs) == list(targets)
    assert all(o.shape == (8, 2048, 1) and o.dtype == np.float32 for o in outputs.values())
    np.testing.assert_allclose(sum(outputs.values()), mixture, atol=1e-6 * np.abs(mixture).max())
    stems = waveform.signals(0)[1]
    np.testing.assert_allclose(outputs["accompaniment"][..., 0], stems["bass"] + stems["other"], atol=1e-6)
    # Stems from different songs at different gains: no row is one song's real mixture.
    real = {tuple(np.round(a["mixture"][c, :50], 6)) for a in arrays for c in range(2)}
    assert not any(tuple(np.round(row[:50, 0], 6)) in real for row in mixture)

    kwargs = dict(n_fft=256, hop_length=64, n_frames=16, batch_size=4, n_batches=3, seed=2)
    remixed = data.SpectrogramSegments(arrays, ("vocals", "accompaniment"), **kwargs)
    mixture, stems = remixed.signals(0)
    assert mixture.shape == (4, 15 * 64) and set(stems) == set(STEMS)
    magnitude, outputs = remixed[0]
    assert magnitude.shape == (4, 129, 16, 1) and magnitude.dtype == np.float32
    assert list(outputs) == ["vocals", "accompaniment"]
    np.testing.assert_allclose(magnitude[..., 0], np.abs(spectral.stft(mixture, n_fft=256, hop_length=64)),
                               rtol=1e-5, atol=1e-6)
    np.testing.assert_allclose(outputs["accompaniment"][..., 0],
                               np.abs(spectral.stft(mixture - stems["vocals"], n_fft=256, hop_length=64)),
                               rtol=1e-4, atol=1e-5)


def test_segments_from_tracks_read_the_models_settings(small_dataset):
    from helpers import models

    tracks = data.load_tracks("generated", "train", root=small_dataset)
    settings = models.settings(models.unet(sample_rate=8000, n_fft=256, hop_length=64, n_frames=16, depth=2))
    magnitude, targets = data.SpectrogramSegments.from_tracks(tracks, settings, batch_size=2, n_batches=1)[0]
    assert magnitude.shape == (2, 129, 16, 1) and set(targets) == {"vocals", "drums"}
    settings = models.settings(models.wave_unet(("bass",), sample_rate=8000, segment_length=1024, n_levels=2))
    mixture, targets = data.WaveformSegments.from_tracks(tracks, settings, batch_size=3, n_batches=1)[0]
    assert mixture.shape == (3, 1024, 1) and set(targets) == {"bass"}


def test_musdb_previews_offline_fail_with_one_clear_line(monkeypatch):
    import types
    import urllib.error

    from helpers import compat

    def offline(**kwargs):
        raise urllib.error.URLError("Name or service not known")

    monkeypatch.setattr(compat, "import_musdb", lambda: types.SimpleNamespace(DB=offline))
    with pytest.raises(ParameterError) as error:
        data.load_tracks("musdb-preview", "test")
    message = str(error.value)
    assert "could not download the MUSDB18 previews" in message and "make data" in message and "\n" not in message
