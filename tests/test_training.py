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
    estimates = separation.separate_unet(loaded, np.zeros((2, 1000), np.float32) + 0.01)
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
