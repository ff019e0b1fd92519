"""helpers.models: the networks' shapes and checks, the settings they carry, and saving and loading them."""

import json
import zipfile

import keras
import numpy as np
import pytest

from helpers import ParameterError, models, training

SMALL = dict(n_fft=128, hop_length=32, n_frames=16, base_filters=2, depth=2)


def test_unet_shapes_heads_and_masks_bounded():
    model = models.unet(targets=("vocals", "drums"), **SMALL)
    x = np.random.default_rng(0).random((2, 65, 16, 1)).astype(np.float32)
    outputs = model.predict(x, verbose=0)
    assert sorted(outputs) == ["drums", "vocals"]
    for estimate in outputs.values():
        assert estimate.shape == (2, 65, 16, 1)
        assert (estimate >= 0).all() and (estimate <= x + 1e-6).all()  # mask in [0, 1] times the mixture
        assert not estimate[:, -1].any()  # Nyquist bin masked to zero
    bass = models.unet(targets=("bass",), **SMALL)
    assert list(bass.output) == ["bass"]


def test_full_band_unet_models_the_low_bins_and_extends_its_masks_above():
    model = models.unet(targets=("vocals", "drums"), n_fft=256, hop_length=64, n_frames=16, base_filters=2, depth=2,
                        modelled_bins=64)
    assert models.settings(model)["arguments"]["modelled_bins"] == 64
    x = np.random.default_rng(0).random((2, 129, 16, 1)).astype(np.float32)
    masks = keras.ops.convert_to_numpy(models.unet_mask_model(model)(x)["vocals"])
    assert masks.shape == (2, 129, 16, 1)
    top = masks[:, 48:64].mean(axis=1)  # the mean of the top quarter of the modelled band ...
    for row in range(64, 129):  # ... fills every bin above it, Nyquist included
        np.testing.assert_allclose(masks[:, row], top, rtol=1e-5, atol=1e-6)
    x_high = x.copy()
    x_high[:, 64:] *= 5  # the network never sees the bins above its band
    np.testing.assert_allclose(keras.ops.convert_to_numpy(models.unet_mask_model(model)(x_high)["vocals"]), masks,
                               rtol=1e-5, atol=1e-6)
    for bad in (50, 130):
        with pytest.raises(ParameterError, match=f"modelled_bins={bad}"):
            models.unet(n_fft=256, hop_length=64, n_frames=16, depth=2, modelled_bins=bad)


@pytest.mark.parametrize("kwargs, message", [
    ({"n_fft": 100}, "divisible"),
    ({"n_frames": 10}, "divisible"),
    ({"targets": ("guitar",)}, "unknown target"),
    ({"dropout": 1.0}, "dropout=1.0"),
    ({"depth": 0}, "depth=0 must be a positive integer"),
    ({"hop_length": 0}, "hop_length=0 must be a positive integer"),
    ({"sample_rate": 0}, "sample_rate=0 must be a positive integer"),
])
def test_unet_rejects_bad_settings(kwargs, message):
    with pytest.raises(ParameterError, match=message):
        models.unet(**(SMALL | kwargs))


def test_mask_model_gives_the_masks_the_unet_multiplies():
    model = models.unet(**SMALL)
    x = np.random.default_rng(5).random((2, 65, 16, 1)).astype(np.float32) + 0.1
    masks = models.unet_mask_model(model).predict_on_batch(x)
    outputs = model.predict_on_batch(x)
    for target in ("vocals", "drums"):
        np.testing.assert_allclose(np.asarray(masks[target]) * x, outputs[target], rtol=1e-5, atol=1e-6)
    with pytest.raises(ParameterError, match="not among the model's outputs"):
        models.unet_mask_model(model, ("bass",))


def test_waveform_fnn_shapes():
    keras.utils.set_random_seed(0)
    model = models.waveform_fnn(64, sources=("piano", "violin"), hidden=(32,))
    outputs = model(np.zeros((3, 64), dtype=np.float32))
    assert {k: tuple(v.shape) for k, v in outputs.items()} == {"piano": (3, 64), "violin": (3, 64)}
    with pytest.raises(ParameterError, match="frame_length=0"):
        models.waveform_fnn(0)


def test_spectrogram_fnn_outputs_masked_magnitudes_never_above_the_mixture():
    keras.utils.set_random_seed(0)
    model = models.spectrogram_fnn(targets=("vocals", "drums"), context=2, hidden=(16,), n_fft=64, hop_length=16)
    x = np.random.default_rng(0).random((4, 5, 33)).astype(np.float32)
    outputs = model.predict(x, verbose=0)
    assert sorted(outputs) == ["drums", "vocals"]
    for estimate in outputs.values():
        assert estimate.shape == (4, 33)
        assert (estimate >= 0).all() and (estimate <= x[:, 2, :] + 1e-6).all()
    assert models.settings(model)["context"] == 2


def test_separate_waveform_overlap_adds_frames_back():
    class Identity:  # a stand-in "model" that returns its input: separation must give the mixture back
        def predict(self, x, batch_size, verbose):
            return {"piano": x, "violin": 0 * x}

    mixture = np.random.default_rng(1).standard_normal(1000).astype(np.float32)
    estimates = models.separate_waveform(Identity(), mixture, frame_length=64, hop_length=32)
    np.testing.assert_allclose(estimates["piano"], mixture, atol=1e-5)
    assert estimates["violin"].shape == (1000,) and not estimates["violin"].any()
    with pytest.raises(ParameterError, match="frame_length / 2"):
        models.separate_waveform(Identity(), mixture, frame_length=64, hop_length=16)


def test_separate_spectrogram_fnn_reads_its_settings():
    keras.utils.set_random_seed(0)
    model = models.spectrogram_fnn(targets=("vocals",), context=1, hidden=(8,), n_fft=64, hop_length=16)
    mixture = np.random.default_rng(0).standard_normal((2, 1000)).astype(np.float32)
    estimates = models.separate_spectrogram_fnn(model, mixture)
    assert estimates["vocals"].shape == (2, 1000)
    assert np.isfinite(estimates["vocals"]).all()
    # the same weights under settings that say hop 32 give another estimate: the settings are what is read
    other = models.spectrogram_fnn(targets=("vocals",), context=1, hidden=(8,), n_fft=64, hop_length=32)
    other.set_weights(model.get_weights())
    assert not np.allclose(models.separate_spectrogram_fnn(other, mixture)["vocals"], estimates["vocals"])


def test_settings_travel_inside_the_file_and_rebuild_the_same_model(tmp_path):
    model = models.unet(targets=("bass",), sample_rate=16000, **SMALL)
    expected = {"architecture": "unet", "sample_rate": 16000, "n_fft": 128, "hop_length": 32, "window": "hann",
                "n_frames": 16, "targets": ["bass"],
                "arguments": {"base_filters": 2, "depth": 2, "kernel_size": 5, "dropout": 0.5}}
    assert models.settings(model) == expected
    path = models.save(model, tmp_path / "bass.keras")
    assert sorted(p.name for p in tmp_path.iterdir()) == ["bass.keras"]  # no temporary file left, no card needed
    loaded = models.load(path)
    assert models.settings(loaded) == expected
    x = np.random.default_rng(1).random((1, 65, 16, 1)).astype(np.float32)
    np.testing.assert_array_equal(loaded.predict(x, verbose=0)["bass"], model.predict(x, verbose=0)["bass"])
    safe = keras.models.load_model(path, safe_mode=True)  # plain Keras loading works too (registered layers)
    assert models.settings(safe) == expected


def test_fnn_saves_and_loads_with_its_settings(tmp_path):
    model = models.spectrogram_fnn(context=2, hidden=(8,), n_fft=64, hop_length=16, sample_rate=8000)
    loaded = models.load(models.save(model, tmp_path / "fnn.keras"))
    assert models.settings(loaded) == models.settings(model)
    x = np.random.default_rng(2).random((3, 5, 33)).astype(np.float32)
    np.testing.assert_array_equal(loaded.predict(x, verbose=0)["vocals"], model.predict(x, verbose=0)["vocals"])


def rewrite_settings(path, out, change):
    """Copy a .keras file, applying ``change`` to the settings stored in its config.json."""
    with zipfile.ZipFile(path) as source, zipfile.ZipFile(out, "w") as target:
        for item in source.infolist():
            content = source.read(item.filename)
            if item.filename == "config.json":
                config = json.loads(content)
                for layer in config["config"]["layers"]:
                    if layer["class_name"] == "AudioSettings":
                        change(layer["config"]["settings"])
                content = json.dumps(config).encode()
            target.writestr(item, content)
    return out


@pytest.mark.parametrize("change, message", [
    (lambda s: s.pop("sample_rate"), "inconsistent settings (the settings lack sample_rate)"),
    (lambda s: s.update(hop_length=0), "inconsistent settings (hop_length=0 must be a positive integer)"),
    (lambda s: s.update(architecture="transformer"), "architecture='transformer'"),
    (lambda s: s.update(n_fft=256), "inconsistent settings (they describe inputs [None, 129, 16, 1]"),
    (lambda s: s.update(targets=["bass"]), "inconsistent settings (they describe inputs"),
    (lambda s: s["arguments"].update(base_filters=4), "the weights do not fit"),
])
def test_load_refuses_missing_or_inconsistent_settings_naming_the_file(tmp_path, change, message):
    path = models.save(models.unet(**SMALL), tmp_path / "good.keras")
    bad = rewrite_settings(path, tmp_path / "bad.keras", change)
    with pytest.raises(ParameterError, match="bad.keras") as error:
        models.load(bad)
    assert message in str(error.value)


def test_load_refuses_files_without_settings(tmp_path):
    with pytest.raises(ParameterError, match="no such model file"):
        models.load(tmp_path / "missing.keras")
    corrupt = tmp_path / "corrupt.keras"
    corrupt.write_bytes(b"PK\x03\x04 not really a keras archive")
    with pytest.raises(ParameterError, match="corrupt.keras: not a Keras model file"):
        models.load(corrupt)
    plain = keras.Sequential([keras.Input((4,)), keras.layers.Dense(2)])
    plain.save(tmp_path / "plain.keras")
    with pytest.raises(ParameterError, match="plain.keras: the model carries no audio settings"):
        models.load(tmp_path / "plain.keras")
    with pytest.raises(ParameterError, match="carries no audio settings"):
        models.settings(plain)
    with pytest.raises(ParameterError, match="must end in .keras"):
        models.save(models.unet(**SMALL), tmp_path / "model.h5")


def test_shipped_checkpoint_matches_its_card_and_loads():
    card = models.card()
    assert training.sha256(models.PRETRAINED) == card["sha256"]
    assert models.PRETRAINED.stat().st_size < 5e6
    model = models.load()
    assert model.count_params() == card["parameters"]
    assert models.settings(model) == card["settings"]
    settings = models.settings(model)
    assert (settings["sample_rate"], settings["n_fft"], settings["hop_length"]) == (44100, 2048, 512)
    assert settings["arguments"]["modelled_bins"] == 512 and sorted(model.output) == ["bass", "drums", "vocals"]
    # What it learned from, the bank's licence, and its scores on both test splits against the baselines.
    assert card["data"]["sound_banks"][0]["file"] == "FluidR3_GM.sf2" and "MIT" in card["data"]["sound_banks"][0]["licence"]
    assert card["training"]["augmentation"].startswith("stems remixed across songs")
    for split in ("test", "heldout"):
        values = card["test_scores"][split]["values"]
        assert set(values) >= {"MIX", "HALF", "IRM1", "U-Net"}
        assert all(values["U-Net"][t] > values["HALF"][t] for t in ("vocals", "drums", "bass"))


def test_the_first_rounds_checkpoint_still_loads_for_fine_tuning_and_comparison():
    card = models.card(models.PRETRAINED_22K)
    assert training.sha256(models.PRETRAINED_22K) == card["sha256"]
    model = models.load(models.PRETRAINED_22K)
    assert models.settings(model)["sample_rate"] == 22050 and sorted(model.output) == ["drums", "vocals"]


def test_file_settings_reads_the_settings_without_loading(tmp_path):
    assert models.file_settings() == models.card()["settings"]
    with pytest.raises(ParameterError, match="no such model file"):
        models.file_settings(tmp_path / "missing.keras")


WAVE = dict(segment_length=4096, n_levels=4, base_filters=4)


def test_wave_unet_shapes_settings_and_round_trip(tmp_path):
    model = models.wave_unet(targets=("vocals", "drums"), **WAVE)
    x = np.random.default_rng(0).uniform(-0.5, 0.5, (2, 4096, 1)).astype(np.float32)
    outputs = model.predict(x, verbose=0)
    assert {t: y.shape for t, y in outputs.items()} == {"vocals": (2, 4096, 1), "drums": (2, 4096, 1)}
    assert all(np.abs(y).max() <= 1 for y in outputs.values())  # tanh heads
    assert models.settings(model) == {"architecture": "wave_unet", "sample_rate": 22050, "segment_length": 4096,
                                      "targets": ["vocals", "drums"], "arguments": {"n_levels": 4, "base_filters": 4,
                                                                                    "down_kernel": 15, "up_kernel": 5}}
    loaded = models.load(models.save(model, tmp_path / "wave.keras"))
    np.testing.assert_array_equal(loaded.predict(x, verbose=0)["drums"], outputs["drums"])
    with pytest.raises(ParameterError, match="segment_length=4004 must be divisible by 2 \\*\\* n_levels = 16"):
        models.wave_unet(segment_length=4004, n_levels=4)


def test_linear_upsampling_interpolates_and_decimation_keeps_every_second_sample():
    x = np.array([[[0.0], [2.0], [4.0], [10.0]]], np.float32)
    up = keras.ops.convert_to_numpy(models.LinearUpsample()(x))[0, :, 0]
    np.testing.assert_allclose(up, [0, 1, 2, 3, 4, 7, 10, 10])
    np.testing.assert_array_equal(keras.ops.convert_to_numpy(models.Decimate()(x))[0, :, 0], [0, 4])


def test_the_receptive_field_bounds_what_an_impulse_reaches():
    keras.utils.set_random_seed(1)
    model = models.wave_unet(**WAVE)
    field = models.receptive_field(model)
    x = np.zeros((1, 4096, 1), np.float32)
    before = model.predict(x, verbose=0)["vocals"][0, :, 0]
    x[0, 2048, 0] = 1.0
    changed = np.nonzero(model.predict(x, verbose=0)["vocals"][0, :, 0] != before)[0]
    span = changed.max() - changed.min() + 1
    assert 0.9 * field <= span <= field  # the bound holds and is nearly tight


def test_the_shipped_wave_unet_matches_its_card_and_its_loss_comparison():
    card = models.card(models.PRETRAINED_WAVE)
    assert training.sha256(models.PRETRAINED_WAVE) == card["sha256"]
    assert models.PRETRAINED_WAVE.stat().st_size < 10e6
    model = models.load(models.PRETRAINED_WAVE)
    assert models.settings(model) == card["settings"] and models.settings(model)["architecture"] == "wave_unet"
    comparison = json.loads(models.PRETRAINED_WAVE.with_name("wave_unet_losses.json").read_text())
    assert set(comparison["runs"]) == {"l1", "stft"} and comparison["shipped"] in comparison["runs"]
    shipped = comparison["runs"][comparison["shipped"]]
    assert shipped["SDR"] == card["test_scores"]["values"]["Wave-U-Net"]
    assert all(shipped["SDR"][t] >= run["SDR"][t] for run in comparison["runs"].values() for t in ("vocals", "drums"))


def test_the_registry_finds_every_architecture_by_name_and_refuses_clashes():
    import dataclasses

    assert {"unet", "wave_unet", "spectrogram_fnn"} <= set(models.architectures())
    assert models.architecture("wave-unet") is models.WAVE_UNET and models.architecture("unet") is models.UNET
    with pytest.raises(ParameterError, match="architecture='lstm' must be one of .*HELPERS_ARCHITECTURES"):
        models.architecture("lstm")
    assert models.register(models.UNET) is models.UNET  # a module imported again: harmless
    with pytest.raises(ParameterError, match="'unet' is already registered"):
        models.register(dataclasses.replace(models.UNET, builder=models.wave_unet))
    with pytest.raises(ParameterError, match="a waveform input needs a waveform output"):
        models.Architecture("x", models.unet, (), input="waveform", output="mask")
    with pytest.raises(ParameterError, match="input='image' must be one of"):
        models.Architecture("x", models.unet, (), input="image", output="mask")
    with pytest.raises(ParameterError, match="targets \\['bass'\\] are not among"):
        models.UNET.network(models.unet(**SMALL), ["bass"])
