"""The models under the backend that runs the tests: build, one training step, save, safe-mode load, and the shipped
checkpoint's masks, the same as TensorFlow's.

The main suite runs this under TensorFlow; ``make test-jax`` runs it again in an environment with JAX and the oldest
Keras the course supports (``pyproject.toml``'s floor, Colab's), and without TensorFlow.
"""

import os

import keras
import numpy as np
import pytest

from helpers import models


def test_the_requested_backend_is_the_one_running():
    import importlib.util

    backend = os.environ.get("KERAS_BACKEND", "tensorflow")
    assert keras.backend.backend() == backend
    if backend != "tensorflow":  # the models need no TensorFlow
        assert importlib.util.find_spec("tensorflow") is None


@pytest.mark.parametrize("build, shape", [
    (lambda: models.unet(n_fft=128, hop_length=32, n_frames=16, base_filters=2, depth=2), (4, 65, 16, 1)),
    (lambda: models.spectrogram_fnn(context=1, hidden=(8,), n_fft=64, hop_length=16), (4, 3, 33)),
], ids=["unet", "spectrogram_fnn"])
def test_models_train_a_step_save_and_load_safely(tmp_path, build, shape):
    keras.utils.set_random_seed(0)
    model = build()
    model.compile(optimizer=keras.optimizers.Adam(1e-2), loss={t: "mae" for t in model.output})
    x = np.random.default_rng(0).random(shape).astype(np.float32)
    y = {t: 0.5 * (x if len(shape) == 4 else x[:, 1]) for t in model.output}
    before = [w.copy() for w in model.get_weights()]
    model.train_on_batch(x, y)
    assert any(not np.array_equal(a, b) for a, b in zip(before, model.get_weights()))  # the step changed weights
    path = models.save(model, tmp_path / "model.keras")
    for loaded in (models.load(path), keras.models.load_model(path, safe_mode=True)):
        assert models.settings(loaded) == models.settings(model)
        expected, got = model.predict(x, verbose=0), loaded.predict(x, verbose=0)
        for target in model.output:
            np.testing.assert_allclose(got[target], expected[target], rtol=1e-5, atol=1e-6)


#: The shipped U-Net's masks on a fixed input, measured under TensorFlow 2.20 and Keras 3.15 (regression values):
#: the mean mask, the mean over bins 10-99 and 200-399, and two single cells, per target.
SHIPPED_MASKS = {"vocals": [0.616478, 0.329549, 0.692425, 0.182946, 0.982269, 0.633429],
                 "drums": [0.126305, 0.096615, 0.058038, 0.108459, 0.098489, 0.160648],
                 "bass": [0.01784, 0.048707, 0.006857, 0.004012, 0.002563, 0.007603]}


def test_the_shipped_checkpoint_loads_and_gives_the_same_masks():
    model = models.load()
    x = (np.random.default_rng(0).random((1, 1025, 128, 1)) ** 4 * 5).astype(np.float32)
    masks = models.unet_mask_model(model).predict_on_batch(x)
    for target, expected in SHIPPED_MASKS.items():  # measured under TensorFlow; the extended band last
        m = np.asarray(masks[target])
        measured = [m.mean(), m[0, 10:100].mean(), m[0, 200:400].mean(), m[0, 50, 60, 0], m[0, 300, 20, 0],
                    m[0, 600:].mean()]
        np.testing.assert_allclose(measured, expected, atol=2e-5, err_msg=target)
