"""What every model shares: the declaration that registers an architecture, the settings a model carries inside
itself, and how a model is built, saved and loaded from them.

**A model is one registration.** An architecture declares, in one :class:`Architecture`, its builder, what the
separator feeds it (magnitudes or waveforms), what its separation network gives back (masks, masked magnitudes or
waveforms), the segment data set it trains on and its losses; :func:`register` adds it. The separator
(:class:`helpers.separation.Separator`), the training loop (:func:`helpers.training.train`), the ``train`` and
``separate`` commands and the web app read that declaration and name no architecture. A module outside the package
registers its own at import; naming it in ``$HELPERS_ARCHITECTURES`` (:data:`PLUGINS_VARIABLE`) makes the commands
import it, so they can train and load its models.

**Settings travel with the model.** A spectrogram model is only usable with the STFT it was trained on. So every
model a builder makes carries its settings (sample rate, ``n_fft``, ``hop_length``, window, ``n_frames`` or
``segment_length``, targets, and the builder's other arguments) inside itself, in the config of an identity layer
(:class:`AudioSettings`), and so inside the ``.keras`` file that :func:`save` writes. :func:`load` reads those
settings from the file's JSON, rebuilds the network from this code and loads the weights: it never guesses a
setting, and it does not depend on how a given Keras release serialises initializers, so a file saved by a newer
Keras loads on an older one (down to the floor in ``pyproject.toml``) and under any backend.

Taught in: notebooks/05_unet_vocals_drums.ipynb
"""

from __future__ import annotations

import dataclasses
import importlib
import json
import os
import warnings
import zipfile
from pathlib import Path
from typing import Callable

import keras

from helpers import spectral
from helpers.audio import atomic_path
from helpers.exceptions import ParameterError, check_int

_PRETRAINED_DIR = Path(__file__).resolve().parents[1] / "pretrained"
#: The shipped U-Net: vocals, drums and bass, full band at 44.1 kHz, trained by ``make pretrained`` on the SoundFont
#: songs with remixing augmentation; its card is the ``.json`` beside.
PRETRAINED = _PRETRAINED_DIR / "unet_vocals_drums_bass.keras"
#: The first round's U-Net (vocals and drums, 22.05 kHz, trained on the NumPy songs): ``make pretrained`` starts from
#: its weights, and the benchmarks compare against it.
PRETRAINED_22K = _PRETRAINED_DIR / "unet_vocals_drums.keras"
#: The shipped Wave-U-Net (``make pretrained-wave``), with its card and the two losses' results beside it.
PRETRAINED_WAVE = _PRETRAINED_DIR / "wave_unet_vocals_drums.keras"
#: The name of the :class:`AudioSettings` layer in every model that carries settings.
SETTINGS_LAYER = "audio_settings"
#: The environment variable naming modules (comma-separated, importable) that register architectures of their own.
PLUGINS_VARIABLE = "HELPERS_ARCHITECTURES"
#: What a separator may feed an architecture's network, and what the network may give back.
INPUTS = ("magnitude", "waveform")
OUTPUTS = ("mask", "magnitude", "waveform")


@dataclasses.dataclass(frozen=True)
class Architecture:
    """The declaration of one architecture: everything the separator, the training loop and the commands need.

    The settings a model of it carries (:func:`settings`) name it (``"architecture"``) and hold, besides
    ``sample_rate``, ``targets`` and ``arguments`` (the builder's other arguments): for a ``"magnitude"`` input,
    the STFT (``n_fft``, ``hop_length``, ``window``) and ``n_frames``, the frames of one segment; for a
    ``"waveform"`` input, ``segment_length`` in samples.

    Taught in: notebooks/07_time_domain.ipynb

    Used by: helpers.models.unet, helpers.models.wave_unet, helpers.models.fnn

    Parameters
    ----------
    name : str
        The ``architecture`` its models' settings carry; ``train --model`` spells it with ``-`` for ``_``.
    builder : callable
        Builds an untrained model (with an :class:`AudioSettings` layer) from keyword arguments.
    settings : tuple of str
        The settings passed to ``builder`` by name (the rest come from the settings' ``arguments``).
    input : {"magnitude", "waveform"} or None
        What :class:`helpers.separation.Separator` feeds the separation network: magnitude spectrograms
        ``(batch, n_bins, n_frames, 1)`` or waveforms ``(batch, segment_length, 1)``, one audio channel per row;
        ``None``: the separator does not run it (a notebook's own loop does).
    output : {"mask", "magnitude", "waveform"}
        What the separation network gives per target, in the input's shape: masks in [0, 1] (applied to the
        complex STFT), masked magnitudes (the separator divides them by the mixture's magnitude to get masks), or
        waveforms (the estimates themselves).
    segments : type or None
        The data set it trains on: a ``keras.utils.PyDataset`` class with ``from_tracks(tracks, settings, *,
        batch_size, n_batches, seed, augment)`` and an ``augmentation`` sentence (e.g.
        :class:`helpers.data.SpectrogramSegments`); ``None``: not trained by :func:`helpers.training.train`.
    losses : dict[str, keras loss or str]
        The losses it may be trained with, by name; the first is the default.
    separation_network : callable or None
        ``separation_network(model, targets) -> keras.Model``, the network the separator runs (e.g.
        :func:`helpers.models.unet_mask_model`); ``None``: the model itself, restricted to ``targets``.
    title : str or None
        A short name for tables (default: ``name``).

    Raises
    ------
    ParameterError
        If ``input`` or ``output`` is not one of the above, or they do not fit together (a waveform input needs a
        waveform output, a magnitude input a mask or magnitude output).
    """

    name: str
    builder: Callable
    settings: tuple
    input: str | None
    output: str
    segments: type | None = None
    losses: dict = dataclasses.field(default_factory=lambda: {"l1": "mae"})
    separation_network: Callable | None = None
    title: str | None = None

    def __post_init__(self):
        if self.input not in (*INPUTS, None):
            raise ParameterError(f"input={self.input!r} must be one of {', '.join(INPUTS)} or None")
        if self.output not in OUTPUTS:
            raise ParameterError(f"output={self.output!r} must be one of {', '.join(OUTPUTS)}")
        if self.input == "waveform" and self.output != "waveform":
            raise ParameterError(f"a waveform input needs a waveform output, not {self.output!r}")
        if self.input == "magnitude" and self.output == "waveform":
            raise ParameterError("a magnitude input needs a mask or magnitude output, not 'waveform'")
        if not self.losses:
            raise ParameterError(f"architecture {self.name!r} declares no loss")

    def network(self, model, targets) -> keras.Model:
        """The network the separator runs on ``model`` for ``targets``, sharing its weights (no copy).

        Returns
        -------
        network : keras.Model
            One output per target, as :attr:`output` describes.

        Raises
        ------
        ParameterError
            If a target is not one of the model's outputs.
        """
        targets = list(targets)
        available = list(model.output)
        missing = [t for t in targets if t not in available]
        if missing:
            raise ParameterError(f"targets {missing} are not among the model's outputs ({', '.join(available)})")
        if self.separation_network is not None:
            return self.separation_network(model, targets)
        return keras.Model(model.input, {t: model.output[t] for t in targets}, name=f"{model.name}_targets")


_REGISTRY: dict[str, Architecture] = {}
_PLUGINS_IMPORTED: set[str] = set()


def register(architecture: Architecture) -> Architecture:
    """Add an architecture to the registry (at import of the module that declares it) and return it.

    Registering the same declaration twice is harmless (a module imported again), and a declaration whose builder
    has the same module and name replaces the one before (a notebook cell or a module run again).

    Taught in: notebooks/07_time_domain.ipynb

    Used by: helpers.models.unet, helpers.models.wave_unet, helpers.models.fnn

    Raises
    ------
    ParameterError
        If another declaration already has its name.
    """
    if not isinstance(architecture, Architecture):
        raise ParameterError(f"register takes an Architecture, not {type(architecture).__name__}")
    known = _REGISTRY.get(architecture.name)
    redefined = known is not None and (known.builder.__module__, known.builder.__qualname__) == (
        architecture.builder.__module__, architecture.builder.__qualname__)
    if known is not None and known != architecture and not redefined:
        raise ParameterError(f"architecture {architecture.name!r} is already registered (by "
                             f"{known.builder.__module__}.{known.builder.__qualname__})")
    _REGISTRY[architecture.name] = architecture
    return architecture


def _import_plugins() -> None:
    """Import the modules ``$HELPERS_ARCHITECTURES`` names, once each, so they register their architectures."""
    for module in filter(None, (m.strip() for m in os.environ.get(PLUGINS_VARIABLE, "").split(","))):
        if module in _PLUGINS_IMPORTED:
            continue
        try:
            importlib.import_module(module)
        except ImportError as exc:
            raise ParameterError(f"{PLUGINS_VARIABLE} names {module!r}, which cannot be imported ({exc})") from None
        _PLUGINS_IMPORTED.add(module)


def architectures() -> tuple[str, ...]:
    """The registered architectures' names, the package's own and those of ``$HELPERS_ARCHITECTURES``'s modules.

    Taught in: notebooks/07_time_domain.ipynb

    Used by: helpers.train
    """
    _import_plugins()
    return tuple(_REGISTRY)


def architecture(name: str) -> Architecture:
    """The declaration registered under ``name`` (``-`` and ``_`` are the same: ``"wave-unet"`` is ``wave_unet``).

    Used by: helpers.separation, helpers.training, helpers.train

    Raises
    ------
    ParameterError
        If no architecture has that name.
    """
    _import_plugins()
    key = str(name).replace("-", "_")
    if key not in _REGISTRY:
        raise ParameterError(f"architecture={name!r} must be one of {', '.join(sorted(_REGISTRY))} (a module "
                             f"outside the package registers its own; name it in ${PLUGINS_VARIABLE})")
    return _REGISTRY[key]


@keras.saving.register_keras_serializable(package="helpers")
class AudioSettings(keras.layers.Layer):
    """An identity layer whose config carries a model's audio settings, so they travel inside its ``.keras`` file.

    ``settings`` holds ``architecture`` (its registered name, :func:`architecture`), ``sample_rate`` (Hz),
    ``targets``, ``arguments`` (the builder's other arguments) and what the architecture's input needs (see
    :class:`Architecture`). :func:`settings` reads them; :func:`load` rebuilds the model from them. Name the layer
    :data:`SETTINGS_LAYER`.

    Taught in: notebooks/07_time_domain.ipynb

    Used by: helpers.models.unet, helpers.models.wave_unet, helpers.models.fnn
    """

    def __init__(self, settings: dict, **kwargs):
        super().__init__(**kwargs)
        self.settings = json.loads(json.dumps(settings))  # a plain, JSON-safe copy

    def call(self, inputs):
        return inputs

    def get_config(self):
        return {**super().get_config(), "settings": self.settings}


@keras.saving.register_keras_serializable(package="helpers")
class Log1p(keras.layers.Layer):
    """``log(1 + x)``: compresses the dynamic range of magnitudes. A registered layer, so Keras's safe-mode loading
    accepts models that use it (a ``Lambda`` layer would be refused).

    Taught in: notebooks/05_unet_vocals_drums.ipynb
    """

    def call(self, inputs):
        return keras.ops.log1p(inputs)


def check_stft(sample_rate, n_fft, hop_length) -> tuple[int, int]:
    """Check a spectrogram model's rate and STFT sizes; return ``(n_fft, hop_length)`` as ints.

    Used by: helpers.models.unet, helpers.models.fnn

    Raises
    ------
    ParameterError
        If a value is not a positive integer or ``hop_length > n_fft``.
    """
    check_int("sample_rate", sample_rate)
    return spectral.check_frame_params(n_fft, hop_length)


def settings(model) -> dict:
    """A model's audio settings: what it needs to be trained, saved, loaded and used on audio.

    Taught in: notebooks/05_unet_vocals_drums.ipynb

    Parameters
    ----------
    model : keras.Model
        From a registered builder (e.g. :func:`helpers.models.unet`), or loaded by :func:`load`.

    Returns
    -------
    settings : dict
        ``architecture``, ``sample_rate`` (Hz), ``targets``, ``arguments`` (the builder's other arguments), and
        the STFT (``n_fft``, ``hop_length``, ``window``) with ``n_frames`` or ``context``, or ``segment_length``;
        a copy.

    Raises
    ------
    ParameterError
        If the model carries no settings (no :class:`AudioSettings` layer).
    """
    try:
        layer = model.get_layer(SETTINGS_LAYER)
    except ValueError:
        raise ParameterError(f"model {model.name!r} carries no audio settings (no {SETTINGS_LAYER!r} layer); "
                             "build it with a registered builder such as helpers.models.unet") from None
    return json.loads(json.dumps(layer.settings))


def build(settings: dict):
    """Build an untrained model from its settings (as :func:`settings` returns them) with its registered builder.

    Used by: helpers.models.base, helpers.training

    Returns
    -------
    model : keras.Model

    Raises
    ------
    ParameterError
        If the architecture is unknown, a setting is missing, or a value is out of range.
    """
    declared = architecture(settings.get("architecture"))
    names = declared.settings + ("arguments",)
    missing = [name for name in names if name not in settings]
    if missing:
        raise ParameterError(f"the settings lack {', '.join(missing)}")
    if not isinstance(settings["arguments"], dict):
        raise ParameterError(f"arguments={settings['arguments']!r} must be a dict")
    try:
        return declared.builder(**{name: settings[name] for name in declared.settings}, **settings["arguments"])
    except TypeError as exc:  # an argument the builder does not take
        raise ParameterError(f"the settings do not fit {declared.name}: {exc}") from None


def save(model, path) -> Path:
    """Save a model with its settings and weights, without optimizer state, atomically (temporary file, rename).

    The network is rebuilt from its settings and given the trained weights first, so the file holds no
    optimizer, loss or training state: smaller, and it loads for inference anywhere.

    Taught in: notebooks/04_masks_and_spectrogram_fnn.ipynb, notebooks/05_unet_vocals_drums.ipynb

    Parameters
    ----------
    model : keras.Model
        From a registered builder (trained or not).
    path : str or os.PathLike
        A ``.keras`` file; its folder is created.

    Returns
    -------
    path : pathlib.Path

    Raises
    ------
    ParameterError
        If ``path`` does not end in ``.keras`` or the model carries no settings.
    """
    path = Path(path)
    if path.suffix != ".keras":
        raise ParameterError(f"path={str(path)!r} must end in .keras")
    clean = build(settings(model))
    clean.set_weights(model.get_weights())
    with atomic_path(path) as tmp:
        clean.save(tmp)
    return path


def _stored_config(path: Path) -> tuple[dict, list, dict]:
    """A ``.keras`` file's settings, input shape and output names, read from its ``config.json`` as plain JSON
    (no Keras deserialisation, so no dependence on how a Keras release serialises layers)."""
    try:
        with zipfile.ZipFile(path) as archive:
            stored = json.loads(archive.read("config.json"))
    except (zipfile.BadZipFile, KeyError, ValueError, OSError) as exc:
        raise ParameterError(f"{path}: not a Keras model file ({type(exc).__name__}: {exc})") from None
    graph = stored.get("config", {}) if isinstance(stored, dict) else {}
    layers = [layer for layer in graph.get("layers", []) if isinstance(layer, dict)]
    input_shapes = [layer.get("config", {}).get("batch_shape") for layer in layers
                    if layer.get("class_name") == "InputLayer"]
    outputs = graph.get("output_layers")
    for layer in layers:
        found = layer.get("config", {}).get("settings") if layer.get("class_name") == "AudioSettings" else None
        if isinstance(found, dict):
            return found, input_shapes, outputs
    raise ParameterError(f"{path}: the model carries no audio settings (sample rate, STFT, targets); it was not "
                         "saved by helpers.models.save, so it cannot be used on audio safely")


def file_settings(path=None) -> dict:
    """The settings inside a ``.keras`` file saved by :func:`save`, read without loading the model (no Keras).

    Used by: helpers.app.server

    Parameters
    ----------
    path : str or os.PathLike or None
        ``None`` is :data:`PRETRAINED`.

    Returns
    -------
    settings : dict
        As :func:`settings` returns them.

    Raises
    ------
    ParameterError
        If the file is missing, is not a Keras model file, or carries no settings.
    """
    path = Path(path) if path is not None else PRETRAINED
    if not path.is_file():
        raise ParameterError(f"{path}: no such model file (train one with `make pretrained`)")
    return _stored_config(path)[0]


def load(path=None):
    """Load a model saved by :func:`save` (default: the shipped U-Net): settings from the file, weights into a
    network built from this code.

    Taught in: notebooks/05_unet_vocals_drums.ipynb

    Parameters
    ----------
    path : str or os.PathLike or None
        A ``.keras`` file; ``None`` is :data:`PRETRAINED`.

    Returns
    -------
    model : keras.Model
        Ready for inference; :func:`settings` gives its settings.

    Raises
    ------
    ParameterError
        Naming the file: if it is missing, is not a Keras model file, carries no settings, its architecture is not
        registered, its settings are incomplete or out of range, or its weights do not fit the network its
        settings describe.
    """
    path = Path(path) if path is not None else PRETRAINED
    if not path.is_file():
        raise ParameterError(f"{path}: no such model file (train one with `make pretrained`)")
    stored, input_shapes, outputs = _stored_config(path)
    try:
        model = build(stored)
    except ParameterError as exc:
        raise ParameterError(f"{path}: inconsistent settings ({exc})") from None
    expected_outputs = sorted(outputs) if isinstance(outputs, dict) else outputs
    if input_shapes != [list(model.input_shape)] or expected_outputs != sorted(model.output):
        raise ParameterError(f"{path}: inconsistent settings (they describe inputs {list(model.input_shape)} and "
                             f"outputs {sorted(model.output)}; the saved network has {input_shapes} and {outputs})")
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        try:
            model.load_weights(path)
            problem = next((str(w.message) for w in caught if "freshly-initialized" in str(w.message)), None)
        except Exception as exc:  # keras raises ValueError, KeyError, OSError...
            problem = f"{type(exc).__name__}: {exc}"
    if problem:
        raise ParameterError(f"{path}: the weights do not fit the model its settings describe ({problem})")
    return model


def card(path=None) -> dict:
    """The model card beside a ``.keras`` file (``.json``): where it came from, how it was trained, its scores.

    The settings a model needs are inside the model (:func:`settings`); the card is provenance for people.

    Taught in: notebooks/05_unet_vocals_drums.ipynb

    Parameters
    ----------
    path : str or os.PathLike or None
        The model file; ``None`` is :data:`PRETRAINED`.

    Returns
    -------
    card : dict
        ``{}`` if there is no card.
    """
    card_path = Path(path if path is not None else PRETRAINED).with_suffix(".json")
    return json.loads(card_path.read_text()) if card_path.is_file() else {}
