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
