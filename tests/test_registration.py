"""A model of one's own is one registration: an architecture defined here, in a test file, and nowhere in the
package, trains through ``python -m helpers.train`` and separates through ``separate --model``, both as processes.

It uses only the package's public API: :class:`helpers.models.Architecture`, :func:`helpers.models.register`, the
settings layer and :class:`helpers.data.SpectrogramSegments`. The commands import this module because
``$HELPERS_ARCHITECTURES`` names it (:data:`helpers.models.PLUGINS_VARIABLE`).
"""

import json
import os
import subprocess
import sys
from pathlib import Path

import keras
import numpy as np
import pytest
import soundfile as sf

from helpers import ParameterError, data, models, separation

NAME = "one_layer_mask"


def one_layer_mask(targets=("vocals", "drums"), sample_rate=8000, n_fft=256, hop_length=64, window="hann",
                   n_frames=16):
    """One 1×1 convolution per target on log magnitudes, a sigmoid mask, times the mixture's magnitude."""
    settings = {"architecture": NAME, "sample_rate": sample_rate, "n_fft": n_fft, "hop_length": hop_length,
                "window": window, "n_frames": n_frames, "targets": list(targets), "arguments": {}}
    inputs = keras.Input((n_fft // 2 + 1, n_frames, 1), name="mixture_magnitude")
    magnitude = models.AudioSettings(settings, name=models.SETTINGS_LAYER)(inputs)
    x = models.Log1p(name="log1p")(magnitude)
    outputs = {t: keras.layers.Multiply(name=t)([keras.layers.Conv2D(1, 1, activation="sigmoid", name=f"{t}_mask")(x),
                                                 magnitude]) for t in targets}
    return keras.Model(inputs, outputs, name=NAME)


ONE_LAYER_MASK = models.register(models.Architecture(
    name=NAME, builder=one_layer_mask, settings=("sample_rate", "n_fft", "hop_length", "window", "targets", "n_frames"),
    input="magnitude", output="magnitude", segments=data.SpectrogramSegments))


def commands_environment():
    """The environment in which the commands import this module, and so know its architecture."""
    here = str(Path(__file__).resolve().parent)
    path = os.pathsep.join(filter(None, [here, os.environ.get("PYTHONPATH")]))
    return {**os.environ, "PYTHONPATH": path, models.PLUGINS_VARIABLE: Path(__file__).stem}


def test_a_registered_masked_magnitude_model_is_separated_by_its_masks():
    """Output "magnitude": the separator divides by the mixture's magnitude and applies the mask to the STFT."""
    model = one_layer_mask(targets=("vocals",))
    model.get_layer("vocals_mask").set_weights([np.zeros((1, 1, 1, 1)), np.zeros(1)])  # sigmoid(0): a mask of 1/2
    mixture = np.random.default_rng(0).uniform(-0.5, 0.5, (2, 3000)).astype(np.float32)
    estimates = separation.Separator(model, overlap=0.25, batch_size=2)(mixture, 8000)
    np.testing.assert_allclose(estimates["vocals"], 0.5 * mixture, atol=1e-5)
    assert NAME in models.architectures() and models.architecture("one-layer-mask") is ONE_LAYER_MASK


def test_a_new_architecture_trains_and_separates_through_the_commands(small_dataset, tmp_path):
    environment = commands_environment()
    model_path = tmp_path / "mine.keras"
    trained = subprocess.run(
        [sys.executable, "-m", "helpers.train", "--model", "one-layer-mask", "--root", str(small_dataset),
         "--model-path", str(model_path), "--epochs", "1", "--steps-per-epoch", "1", "--batch-size", "2",
         "--n-valid", "1", "--n-fft", "128", "--hop-length", "32", "--quiet"],
        capture_output=True, text=True, env=environment)
    assert trained.returncode == 0, trained.stderr[-2000:]
    card = json.loads(model_path.with_suffix(".json").read_text())
    assert card["settings"]["architecture"] == NAME and card["settings"]["n_fft"] == 128
    assert card["training"]["epochs_run"] == 1 and set(card["test_scores"]["test"]["values"]) >= {"MIX", NAME}

    rng = np.random.default_rng(1)
    song = tmp_path / "song.wav"
    sf.write(song, rng.uniform(-0.3, 0.3, (11025, 2)).astype(np.float32), 22050, subtype="FLOAT")
    separate = Path(sys.executable).with_name("separate")
    command = [str(separate), str(song), "--model", str(model_path), "--out", str(tmp_path / "out"), "--quiet"]
    separated = subprocess.run(command, capture_output=True, text=True, env=environment)
    assert separated.returncode == 0, separated.stderr[-2000:]
    original, _ = sf.read(song, dtype="float32")
    stems = [sf.read(tmp_path / "out" / "song" / f"{name}.wav", dtype="float32")[0]
             for name in ("vocals", "drums", "accompaniment")]
    assert all(stem.shape == original.shape for stem in stems)
    np.testing.assert_allclose(sum(stems), original, atol=1e-6)  # the stems plus the residual are the input
    assert 0 < np.abs(stems[0]).max() < np.abs(original).max() + 1e-6


def test_a_file_of_an_unregistered_architecture_is_refused_naming_the_variable(tmp_path):
    """As in a process that never imported the module that registers it."""
    settings = models.settings(one_layer_mask()) | {"architecture": "never_registered"}
    inputs = keras.Input((129, 16, 1))
    model = keras.Model(inputs, models.AudioSettings(settings, name=models.SETTINGS_LAYER)(inputs))
    model.save(tmp_path / "unknown.keras")
    with pytest.raises(ParameterError, match="architecture='never_registered' must be one of .*"
                                             + models.PLUGINS_VARIABLE):
        models.load(tmp_path / "unknown.keras")


def test_a_plugin_that_cannot_be_imported_is_named(monkeypatch):
    monkeypatch.setenv(models.PLUGINS_VARIABLE, "no_such_module_of_architectures")
    with pytest.raises(ParameterError, match="names 'no_such_module_of_architectures', which cannot be imported"):
        models.architectures()
