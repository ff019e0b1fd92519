"""helpers.training: a tiny U-Net trained through the public function keeps its settings and loads cleanly."""

import numpy as np
import pytest

from conftest import TINY_UNET
from helpers import ParameterError, models, separation, training


def test_train_unet_saves_a_clean_model_that_carries_its_settings(tiny_training):
    folder, model, history = tiny_training
    assert {"loss", "val_loss", "vocals_loss", "drums_loss", "val_vocals_loss"} <= set(history)
    assert len(history["loss"]) == 2
    assert (folder / "tiny.csv").read_text().startswith("epoch")
    assert sorted(p.name for p in folder.glob("*.keras")) == ["tiny.keras"]  # no leftover checkpoint, no card
    loaded = models.load(folder / "tiny.keras")
    assert getattr(loaded, "optimizer", None) is None  # saved without optimizer state
    settings = models.settings(loaded)
    assert {k: settings[k] for k in ("sample_rate", "n_fft", "hop_length", "n_frames")} == {
        k: TINY_UNET[k] for k in ("sample_rate", "n_fft", "hop_length", "n_frames")}
    assert settings["targets"] == ["vocals", "drums"] and settings["arguments"]["depth"] == TINY_UNET["depth"]
    x = np.random.default_rng(0).random((1, 129, 16, 1)).astype(np.float32)
    np.testing.assert_allclose(loaded.predict(x, verbose=0)["vocals"], model.predict(x, verbose=0)["vocals"],
                               atol=1e-6)
    estimates = separation.Separator(loaded)(np.zeros((2, 1000), np.float32) + 0.01, TINY_UNET["sample_rate"])
    assert estimates["drums"].shape == (2, 1000)


@pytest.mark.parametrize("kwargs, message", [
    ({"model_path": "model.h5"}, "must end in .keras"),
    ({"epochs": 0}, "epochs=0 must be a positive integer"),
    ({"batch_size": -1}, "batch_size=-1 must be a positive integer"),
    ({"targets": ("guitar",)}, "unknown target 'guitar'"),
    ({"hop_length": 2048}, "hop_length=2048 must not exceed n_fft=1024"),
    ({"n_frames": 100}, "divisible"),
])
def test_train_unet_checks_everything_before_building_caches(tmp_path, kwargs, message):
    arguments = dict(train_tracks=["a track"], valid_tracks=["another"], model_path=tmp_path / "m.keras",
                     cache_dir=tmp_path / "cache") | kwargs
    with pytest.raises(ParameterError, match=message):
        training.train_unet(**arguments)
    assert not (tmp_path / "cache").exists()


def test_waveform_excerpts_are_consistent_remixes_and_reproducible(small_dataset):
    from helpers import data

    tracks = data.load_tracks("generated", "train", root=small_dataset)
    arrays = [data.track_arrays(t, ("vocals", "drums", "accompaniment"), sample_rate=8000) for t in tracks]
    plain = training.WaveformExcerpts(arrays, ("vocals", "drums"), 2048, 4, 3, seed=1, remix=False)
    mixture, targets = plain[0]
    assert len(plain) == 3 and mixture.shape == (4, 2048, 1) and set(targets) == {"vocals", "drums"}
    assert np.abs(mixture - targets["vocals"] - targets["drums"]).max() > 0  # the accompaniment is in the mixture
    remixed = training.WaveformExcerpts(arrays, ("vocals", "drums"), 2048, 4, 3, seed=1)
    first = remixed[0]
    np.testing.assert_array_equal(first[0], remixed[0][0])  # the same batch, the same draw
    remixed.on_epoch_end()
    assert not np.array_equal(first[0], remixed[0][0])  # a new epoch, new remixes
    with pytest.raises(ParameterError, match="arrays is empty"):
        training.WaveformExcerpts([], ("vocals",), 2048, 4, 3)


def test_train_wave_unet_saves_a_model_that_separates(small_dataset, tmp_path):
    from helpers import data

    tracks = data.load_tracks("generated", "train", root=small_dataset)
    model, history, seconds = training.train_wave_unet(
        tracks[:1], tracks[1:], tmp_path / "wave.keras", loss="l1+stft", epochs=2, steps_per_epoch=2, batch_size=2,
        sample_rate=8000, segment_length=4096, n_levels=3, base_filters=4, verbose=0)
    assert len(history["loss"]) == 2 and "val_vocals_loss" in history
    loaded = models.load(tmp_path / "wave.keras")
    assert models.settings(loaded)["architecture"] == "wave_unet" and models.settings(loaded)["sample_rate"] == 8000
    mixture = np.random.default_rng(0).uniform(-0.3, 0.3, (2, 5000)).astype(np.float32)
    estimates = separation.separate(mixture, 44100, model=loaded, residual="accompaniment")
    np.testing.assert_allclose(sum(estimates.values()), mixture, atol=1e-6)
    with pytest.raises(ParameterError, match="loss='mse'"):
        training.train_wave_unet(tracks[:1], tracks[1:], tmp_path / "w.keras", loss="mse")


def test_the_time_limit_stops_training_after_the_epoch_that_crosses_it():
    import keras

    model = keras.Sequential([keras.Input((2,)), keras.layers.Dense(1)])
    model.compile(optimizer="sgd", loss="mse")
    history = model.fit(np.zeros((4, 2)), np.zeros((4, 1)), epochs=50, verbose=0,
                        callbacks=[training.TimeLimit(minutes=0)])
    assert len(history.history["loss"]) == 1


def test_spectrogram_excerpts_remix_stems_across_songs_consistently(small_dataset):
    from helpers import data, spectral
    from helpers.config import STEMS

    tracks = data.load_tracks("generated", "train", root=small_dataset)
    arrays = [data.track_arrays(t, STEMS, sample_rate=8000) for t in tracks]
    kwargs = dict(n_fft=256, hop_length=64, n_frames=16, batch_size=4, n_batches=3, seed=2)
    remixed = training.SpectrogramExcerpts(arrays, ("vocals", "accompaniment"), **kwargs)
    mixture, stems = remixed.signals(0)
    assert mixture.shape == (4, 15 * 64) and set(stems) == set(STEMS)
    total = np.zeros_like(mixture)
    for s in STEMS:
        total += stems[s]
    np.testing.assert_array_equal(mixture, total)  # the new mixture is exactly the sum of its stems
    magnitude, targets = remixed[0]
    assert magnitude.shape == (4, 129, 16, 1) and set(targets) == {"vocals", "accompaniment"}
    np.testing.assert_allclose(magnitude[..., 0], np.abs(spectral.stft(mixture, n_fft=256, hop_length=64)),
                               rtol=1e-5, atol=1e-6)
    np.testing.assert_allclose(targets["accompaniment"][..., 0],
                               np.abs(spectral.stft(mixture - stems["vocals"], n_fft=256, hop_length=64)),
                               rtol=1e-4, atol=1e-5)
    # Stems from different songs at different gains: no row is one song's real mixture.
    real = {tuple(np.round(a["mixture"][c, :50], 6)) for a in arrays for c in range(2)}
    assert not any(tuple(np.round(row[:50], 6)) in real for row in mixture)
    np.testing.assert_array_equal(remixed.signals(0)[0], mixture)  # same epoch and batch, same draw
    remixed.on_epoch_end()
    assert not np.array_equal(remixed.signals(0)[0], mixture)
    fixed = training.SpectrogramExcerpts(arrays, ("vocals",), augment=False, **kwargs)
    plain, plain_stems = fixed.signals(1)
    np.testing.assert_allclose(plain, sum(plain_stems[s] for s in STEMS), atol=1e-4)  # one song's real mixture
    fixed.on_epoch_end()
    np.testing.assert_array_equal(fixed.signals(1)[0], plain)  # validation repeats
    with pytest.raises(ParameterError, match="lack"):
        training.SpectrogramExcerpts([{"mixture": arrays[0]["mixture"]}], ("vocals",), **kwargs)


def test_copy_weights_matches_layers_by_name_and_shape(tmp_path):
    from helpers import models

    source = models.unet(("vocals", "drums"), n_frames=16, base_filters=2, depth=2, sample_rate=8000, n_fft=256,
                         hop_length=64)
    target = models.unet(("vocals", "drums", "bass"), n_frames=16, base_filters=2, depth=2, sample_rate=16000,
                         n_fft=512, hop_length=128, modelled_bins=128)
    copied = training.copy_weights(source, target)
    assert "encoder_0" in copied and "vocals_mask" in copied and "bass_mask" not in copied
    np.testing.assert_array_equal(target.get_layer("encoder_1").get_weights()[0],
                                  source.get_layer("encoder_1").get_weights()[0])
    with pytest.raises(ParameterError, match="no layer"):
        training.copy_weights(source, models.spectrogram_fnn(("vocals",), hidden=(8,)))
