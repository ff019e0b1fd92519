"""helpers.training: tiny models trained through the one public function keep their settings and load cleanly."""

import numpy as np
import pytest

from conftest import TINY_UNET
from helpers import ParameterError, models, separation, training


def test_train_saves_a_clean_model_that_carries_its_settings(tiny_training):
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
    ({"clip_norm": 0.0}, "clip_norm=0.0 must be > 0"),
    ({"loss": "mse"}, "loss='mse' must be one of l1 for unet"),
    ({"settings": {"architecture": "lstm"}}, "architecture='lstm' must be one of"),
    ({"settings": {"architecture": "spectrogram_fnn"}}, "declares no segment data set"),
    ({"settings": {"architecture": "unet", "targets": ["vocals"]}}, "the settings lack"),
    ({"train_tracks": []}, "must not be empty"),
])
def test_train_checks_everything_before_reading_a_track(tmp_path, kwargs, message):
    settings = models.settings(models.unet(**TINY_UNET))
    arguments = dict(settings=settings, train_tracks=["not a track"], valid_tracks=["nor this"],
                     model_path=tmp_path / "m.keras") | kwargs
    with pytest.raises(ParameterError, match=message):  # a track would fail differently: none is read
        training.train(**arguments)
    assert not list(tmp_path.iterdir())


def test_train_fits_a_wave_unet_through_its_declaration(small_dataset, tmp_path):
    from helpers import data

    tracks = data.load_tracks("generated", "train", root=small_dataset)
    settings = models.settings(models.wave_unet(sample_rate=8000, segment_length=4096, n_levels=3, base_filters=4))
    model, history, seconds = training.train(settings, tracks[:1], tracks[1:], tmp_path / "wave.keras",
                                             loss="l1+stft", epochs=2, steps_per_epoch=2, batch_size=2, clip_norm=1.0,
                                             verbose=0)
    assert len(history["loss"]) == 2 and "val_vocals_loss" in history and seconds > 0
    loaded = models.load(tmp_path / "wave.keras")
    assert models.settings(loaded) == settings
    mixture = np.random.default_rng(0).uniform(-0.3, 0.3, (2, 5000)).astype(np.float32)
    estimates = separation.separate(mixture, 44100, model=loaded, residual="accompaniment")
    np.testing.assert_allclose(sum(estimates.values()), mixture, atol=1e-6)
    with pytest.raises(ParameterError, match="loss='mse' must be one of l1\\+stft, l1, stft"):
        training.train(settings, tracks[:1], tracks[1:], tmp_path / "w.keras", loss="mse")


def test_the_time_limit_stops_training_after_the_epoch_that_crosses_it():
    import keras

    model = keras.Sequential([keras.Input((2,)), keras.layers.Dense(1)])
    model.compile(optimizer="sgd", loss="mse")
    history = model.fit(np.zeros((4, 2)), np.zeros((4, 1)), epochs=50, verbose=0,
                        callbacks=[training.TimeLimit(minutes=0)])
    assert len(history.history["loss"]) == 1


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


@pytest.mark.parametrize("curve, expected", [
    ([4.98, 5.41, 5.05, 4.68, 43.76, 43.76, 43.76], True),  # the course's first STFT-loss run: jumped and stayed
    ([1.0, 0.8, float("nan")], True),
    ([1.0, 0.8, 3.0, 0.7, 0.6], False),  # a spike it recovered from
    ([1.0, 0.9, 0.85, 0.86, 0.84], False),
    ([0.5], False),
])
def test_a_run_diverged_when_its_loss_jumps_and_stays_or_is_not_finite(curve, expected):
    assert training.diverged(curve) is expected


def test_bad_divergence_arguments():
    with pytest.raises(ParameterError, match="val_loss is empty"):
        training.diverged([])
    with pytest.raises(ParameterError, match="factor=1"):
        training.diverged([1.0], factor=1)
