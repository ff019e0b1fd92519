import importlib.util
import json
import subprocess
import sys

import numpy as np
import pytest

from helpers import ParameterError, data, models, plotting, train, training


def test_unet_shapes_heads_and_masks_bounded():
    model = models.unet(targets=("vocals", "drums"), n_bins=65, n_frames=16, base_filters=2, depth=2)
    x = np.random.default_rng(0).random((2, 65, 16, 1)).astype(np.float32)
    outputs = model.predict(x, verbose=0)
    assert sorted(outputs) == ["drums", "vocals"]
    for estimate in outputs.values():
        assert estimate.shape == (2, 65, 16, 1)
        assert (estimate >= 0).all() and (estimate <= x + 1e-6).all()  # mask in [0, 1] times the mixture
        assert not estimate[:, -1].any()  # Nyquist bin masked to zero
    bass = models.unet(targets=("bass",), n_bins=65, n_frames=16, base_filters=2, depth=2)
    assert list(bass.output) == ["bass"]


@pytest.mark.parametrize("kwargs, message", [
    ({"n_bins": 64}, "divisible"),
    ({"n_frames": 10}, "divisible"),
    ({"targets": ("guitar",)}, "unknown target"),
    ({"dropout": 1.0}, "out of range"),
])
def test_unet_rejects_bad_settings(kwargs, message):
    settings = dict(n_bins=65, n_frames=16, base_filters=2, depth=2) | kwargs
    with pytest.raises(ParameterError, match=message):
        models.unet(**settings)


def test_unet_masks_stitch_patches_back():
    class Half:  # a stand-in model: every mask is 0.5
        input_shape = (None, 9, 4, 1)

        def predict(self, x, batch_size, verbose):
            return {"vocals": 0.5 * x}

    magnitude = np.random.default_rng(1).random((2, 9, 10)).astype(np.float32) + 0.1
    result = models.unet_masks(Half(), magnitude)
    assert result["vocals"].shape == (2, 9, 10)
    np.testing.assert_allclose(result["vocals"], 0.5, rtol=1e-6)


@pytest.fixture(scope="module")
def tiny_training(small_dataset, tmp_path_factory):
    folder = tmp_path_factory.mktemp("unet")
    tracks = data.load_tracks("generated", "train", root=small_dataset)
    model, history, seconds = training.train_unet(
        tracks[:1], tracks[1:], folder / "tiny.keras", epochs=2, batch_size=4, sample_rate=8000, n_fft=64,
        hop_length=16, n_frames=16, base_filters=2, depth=2, cache_dir=folder / "cache", verbose=0)
    return folder, model, history


def test_train_unet_saves_a_clean_loadable_model(tiny_training):
    folder, model, history = tiny_training
    assert {"loss", "val_loss", "vocals_loss", "drums_loss", "val_vocals_loss"} <= set(history)
    assert len(history["loss"]) == 2
    assert (folder / "tiny.csv").read_text().startswith("epoch")
    assert sorted(p.name for p in folder.glob("*.keras")) == ["tiny.keras"]  # no leftover checkpoint
    loaded, card = training.load_unet(folder / "tiny.keras")
    assert card == {} and getattr(loaded, "optimizer", None) is None  # saved without optimizer state
    x = np.random.default_rng(0).random((1, 33, 16, 1)).astype(np.float32)
    np.testing.assert_allclose(loaded.predict(x, verbose=0)["vocals"], model.predict(x, verbose=0)["vocals"],
                               atol=1e-6)
    estimates = training.separate_unet(loaded, np.zeros((2, 1000), np.float32) + 0.01, n_fft=64, hop_length=16)
    assert estimates["drums"].shape == (2, 1000)


def test_load_unet_errors(tmp_path):
    with pytest.raises(ParameterError, match="no such model file"):
        training.load_unet(tmp_path / "missing.keras")
    corrupt = tmp_path / "corrupt.keras"
    corrupt.write_bytes(b"PK\x03\x04 not really a keras archive")
    with pytest.raises(ParameterError, match="not a loadable Keras model"):
        training.load_unet(corrupt)


def test_train_cli_rejects_bad_arguments_with_exit_code_2(capsys):
    assert train.main(["--targets", "guitar"]) == 2
    assert "unknown target 'guitar'" in capsys.readouterr().err
    assert train.main(["--model-path", "model.h5"]) == 2
    assert "must end in .keras" in capsys.readouterr().err


def test_shipped_checkpoint_matches_its_card_and_loads():
    card = json.loads(training.PRETRAINED.with_suffix(".json").read_text())
    assert training.sha256(training.PRETRAINED) == card["sha256"]
    assert training.PRETRAINED.stat().st_size < 5e6
    model, loaded_card = training.load_unet()
    assert loaded_card == card and model.count_params() == card["parameters"]
    assert sorted(model.output) == ["drums", "vocals"]
    assert card["test_scores"]["values"]["MIX"]  # scored against the MIX baseline


def test_unet_diagram_draws_every_block():
    model = models.unet(n_bins=65, n_frames=16, base_filters=2, depth=2)
    ax = plotting.unet_diagram(model)
    texts = [t.get_text() for t in ax.texts]
    assert sum("conv 5×5 /2" in t for t in texts) == 2 and sum("deconv" in t for t in texts) == 2
    assert any(t.startswith("vocals:") for t in texts) and any(t.startswith("drums:") for t in texts)


@pytest.mark.parametrize("backend", ["jax", "torch"])
def test_unet_builds_under_another_backend(backend):
    if importlib.util.find_spec(backend) is None:
        pytest.skip(f"{backend} is not installed")
    code = ("from helpers import models; m = models.unet(n_bins=65, n_frames=16, base_filters=2, depth=2); "
            "import keras, numpy as np; print(keras.backend.backend(), m.predict(np.ones((1, 65, 16, 1)), verbose=0)"
            "['vocals'].shape)")
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                            env={"KERAS_BACKEND": backend, "PATH": ""}, timeout=300)
    assert result.returncode == 0, result.stderr
    assert result.stdout.split()[0] == backend


def test_model_config_reads_back_the_build_arguments(tmp_path):
    import keras

    settings = dict(targets=["bass"], n_bins=65, n_frames=16, base_filters=2, depth=2)
    model = models.unet(**settings)
    assert training.model_config(model) == settings
    model.save(tmp_path / "m.keras")
    assert training.model_config(keras.models.load_model(tmp_path / "m.keras", safe_mode=True)) == settings
