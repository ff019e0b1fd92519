"""The course's networks, in Keras 3 (layers and ``keras.ops`` only, so they build under any backend), and how a
model is saved and loaded with its settings.

A spectrogram model is only usable with the STFT it was trained on. So every model that :func:`spectrogram_fnn`
or :func:`unet` builds carries its settings (sample rate, ``n_fft``, ``hop_length``, window, ``n_frames`` or
context, targets, and the builder's arguments) inside itself, in the config of an identity layer
(:class:`AudioSettings`), and so inside the ``.keras`` file that :func:`save` writes. :func:`load` reads those
settings from the file's JSON, rebuilds the network from this code and loads the weights: it never guesses a
setting, and it does not depend on how a given Keras release serialises initializers, so a file saved by a newer
Keras loads on an older one (down to the floor in ``pyproject.toml``) and under any backend.

Taught in: notebooks/02_waveform_fnn.ipynb, notebooks/04_masks_and_spectrogram_fnn.ipynb, 
notebooks/05_unet_vocals_drums.ipynb
"""

from __future__ import annotations

import json
import warnings
import zipfile
from pathlib import Path

import keras
import numpy as np

from helpers import spectral
from helpers.config import DUET_SOURCES, HOP_LENGTH, N_FFT, N_FRAMES, SAMPLE_RATE, WINDOW, check_targets
from helpers.exceptions import ParameterError, check_int

#: The shipped U-Net: vocals, drums and bass, full band at 44.1 kHz, trained by ``make pretrained`` on the SoundFont
#: songs with remixing augmentation; its card is the ``.json`` beside.
PRETRAINED = Path(__file__).resolve().parent / "pretrained" / "unet_vocals_drums_bass.keras"
#: The first round's U-Net (vocals and drums, 22.05 kHz, trained on the NumPy songs): ``make pretrained`` starts from
#: its weights, and the benchmarks compare against it.
PRETRAINED_22K = PRETRAINED.with_name("unet_vocals_drums.keras")
#: The shipped Wave-U-Net (``make pretrained-wave``), with its card and the two losses' results beside it.
PRETRAINED_WAVE = PRETRAINED.with_name("wave_unet_vocals_drums.keras")
#: The name of the :class:`AudioSettings` layer in every model that carries settings.
SETTINGS_LAYER = "audio_settings"


def waveform_fnn(frame_length: int = 512, sources=DUET_SOURCES, hidden=(1024, 1024)):
    """A feed-forward network from a mixture frame to one frame per source, all in the time domain.

    Each output is a linear layer of ``frame_length`` samples; the frames are put back together by
    :func:`helpers.separation.separate_waveform` (windowed overlap-add). Notebook 02 trains it in place and never
    saves it, so it carries no settings.

    Taught in: notebooks/02_waveform_fnn.ipynb

    Parameters
    ----------
    frame_length : int > 0
        Samples per frame.
    sources : sequence of str
        One output head per source, named after it.
    hidden : sequence of int
        Widths of the ReLU hidden layers.

    Returns
    -------
    model : keras.Model
        Input ``(batch, frame_length)``; outputs a dict ``{source: (batch, frame_length)}``.

    Raises
    ------
    ParameterError
        If ``frame_length`` or a width is not positive, or ``sources`` is empty.
    """

    check_int("frame_length", frame_length)
    if not hidden:
        raise ParameterError("hidden is empty")
    for width in hidden:
        check_int("hidden width", width)
    if not sources:
        raise ParameterError("sources is empty")
    inputs = keras.Input((frame_length,), name="mixture")
    x = inputs
    for i, width in enumerate(hidden):
        x = keras.layers.Dense(width, activation="relu", name=f"hidden_{i}")(x)
    outputs = {name: keras.layers.Dense(frame_length, name=name)(x) for name in sources}
    return keras.Model(inputs, outputs, name="waveform_fnn")


def waveform_frames(mixture: np.ndarray, sources: dict | None, frame_length: int, hop_length: int):
    """Frame a mono mixture (and its sources) for the waveform FNN.

    Taught in: notebooks/02_waveform_fnn.ipynb

    Parameters
    ----------
    mixture : np.ndarray [shape=(n_samples,)]
    sources : dict[str, np.ndarray [shape=(n_samples,)]] or None
    frame_length, hop_length : int

    Returns
    -------
    x : np.ndarray [shape=(n_frames, frame_length)], float32
    y : dict[str, np.ndarray [shape=(n_frames, frame_length)]] or None
    """
    x = spectral.frame_signal(mixture, frame_length, hop_length).astype(np.float32)
    if sources is None:
        return x, None
    return x, {name: spectral.frame_signal(s, frame_length, hop_length).astype(np.float32)
               for name, s in sources.items()}


def context_windows(magnitude: np.ndarray, context: int) -> np.ndarray:
    """Stack each frame with its ``context`` neighbours on both sides (zero-padded at the edges).

    Parameters
    ----------
    magnitude : np.ndarray [shape=(..., n_bins, n_frames)]
    context : int >= 0
        Frames on each side.

    Returns
    -------
    windows : np.ndarray [shape=(..., n_frames, 2 * context + 1, n_bins)]
        ``windows[..., t, context]`` is frame ``t``.

    Raises
    ------
    ParameterError
        If ``context`` is negative.
    """
    check_int("context", context, minimum=0)
    frames = np.swapaxes(np.asarray(magnitude), -1, -2)  # (..., n_frames, n_bins)
    pad = [(0, 0)] * (frames.ndim - 2) + [(context, context), (0, 0)]
    padded = np.pad(frames, pad)
    n_frames = frames.shape[-2]
    return np.stack([padded[..., i : i + n_frames, :] for i in range(2 * context + 1)], axis=-2)


def spectrogram_fnn(targets=("vocals", "drums"), context: int = 3, hidden=(512, 512), dropout: float = 0.2,
                    sample_rate: int = SAMPLE_RATE, n_fft: int = N_FFT, hop_length: int = HOP_LENGTH,
                    window: str = WINDOW):
    """A frame-wise dense network: a context of mixture magnitude frames in, one mask per target out.

    The input is compressed with ``log1p`` inside the model; each head is a sigmoid mask over the centre frame's
    bins, multiplied by the centre frame's mixture magnitude, so the model outputs masked magnitudes and is trained
    with an L1 loss against the target magnitudes. It sees ``2 * context + 1`` frames (7 frames at the default
    context of 3: 116 ms of audio at the course's STFT) and no wider: the limit that the U-Net of notebook 05
    removes.

    Taught in: notebooks/04_masks_and_spectrogram_fnn.ipynb

    Parameters
    ----------
    targets : sequence of str
        One head per target.
    context : int >= 0
        Frames on each side of the centre frame.
    hidden : sequence of int
        ReLU layer widths.
    dropout : float in [0, 1)
        Dropout after each hidden layer.
    sample_rate : int > 0
        Hz; the rate of the audio the model is trained on (stored in the model, not used by the network).
    n_fft, hop_length : int
        The STFT's size and hop in samples; ``n_bins = n_fft // 2 + 1``.
    window : str
        The STFT's window.

    Returns
    -------
    model : keras.Model
        Input ``(batch, 2 * context + 1, n_bins)`` magnitudes; outputs ``{target: (batch, n_bins)}`` magnitudes.
        :func:`settings` reads its settings back.

    Raises
    ------
    ParameterError
        If a parameter is out of range or a target unknown.

    References
    ----------
    .. [1] Uhlich, Giron & Mitsufuji, "Deep neural network based instrument extraction from music", ICASSP 2015.
    """

    targets = check_targets(targets)
    context = check_int("context", context, minimum=0)
    n_fft, hop_length = _check_stft(sample_rate, n_fft, hop_length)
    if not hidden or not 0 <= dropout < 1:
        raise ParameterError(f"hidden={hidden} and dropout={dropout} are out of range")
    for width in hidden:
        check_int("hidden width", width)
    settings = {"architecture": "spectrogram_fnn", "sample_rate": int(sample_rate), "n_fft": n_fft,
                "hop_length": hop_length, "window": window, "context": context, "targets": list(targets),
                "arguments": {"hidden": [int(w) for w in hidden], "dropout": float(dropout)}}
    inputs = keras.Input((2 * context + 1, n_fft // 2 + 1), name="mixture_magnitude")
    magnitude = AudioSettings(settings, name=SETTINGS_LAYER)(inputs)
    centre = CentreFrame(context, name="centre_frame")(magnitude)
    x = Log1p(name="log1p")(magnitude)
    x = keras.layers.Flatten()(x)
    for i, width in enumerate(hidden):
        x = keras.layers.Dense(width, activation="relu", name=f"hidden_{i}")(x)
        x = keras.layers.Dropout(dropout)(x)
    outputs = {}
    for target in targets:
        mask = keras.layers.Dense(n_fft // 2 + 1, activation="sigmoid", name=f"{target}_mask")(x)
        outputs[target] = keras.layers.Multiply(name=target)([mask, centre])
    return keras.Model(inputs, outputs, name="spectrogram_fnn")


def spectrogram_fnn_batches(cache_path, targets=("vocals", "drums"), context: int = 3, segments_per_batch: int = 4,
                            seed: int = 0):
    """Endless training batches for :func:`spectrogram_fnn`, built from a spectrogram cache a few segments at a time.

    Taught in: notebooks/04_masks_and_spectrogram_fnn.ipynb

    Parameters
    ----------
    cache_path : str or os.PathLike
        From :func:`helpers.data.build_cache`.
    targets : sequence of str
    context : int >= 0
    segments_per_batch : int > 0
        Cache examples per batch; a batch holds ``segments_per_batch * n_frames`` frames.
    seed : int
        The order of segments is reshuffled every pass, from this seed.

    Yields
    ------
    x : np.ndarray [shape=(batch, 2 * context + 1, n_bins)], float32
    y : dict[str, np.ndarray [shape=(batch, n_bins)]]
    """
    from helpers import data

    epoch = 0
    while True:
        for mixture, sources in data.numpy_batches(cache_path, targets, segments_per_batch, shuffle=True,
                                                   seed=seed + epoch):
            x = context_windows(data.from_model_layout(mixture), context)
            yield (x.reshape(-1, *x.shape[-2:]),
                   {t: np.swapaxes(data.from_model_layout(s), -1, -2).reshape(-1, x.shape[-1]) for t, s in sources.items()})
        epoch += 1


@keras.saving.register_keras_serializable(package="helpers")
class Log1p(keras.layers.Layer):
    """``log(1 + x)``: compresses the dynamic range of magnitudes. A registered layer, so Keras's safe-mode loading
    accepts models that use it (a ``Lambda`` layer would be refused).
    """

    def call(self, inputs):
        return keras.ops.log1p(inputs)


@keras.saving.register_keras_serializable(package="helpers")
class CentreFrame(keras.layers.Layer):
    """Select the centre frame of a context window: ``(batch, 2c + 1, n_bins) -> (batch, n_bins)``."""

    def __init__(self, context: int, **kwargs):
        super().__init__(**kwargs)
        self.context = int(context)

    def call(self, inputs):
        return inputs[:, self.context, :]

    def get_config(self):
        return {**super().get_config(), "context": self.context}


@keras.saving.register_keras_serializable(package="helpers")
class MaskExtension(keras.layers.Layer):
    """Extend a mask over the frequency bins the network does not model (Spleeter's "average" extension).

    Above the modelled band, each frame's mask is the mean of its mask over the top ``source_bins`` modelled bins,
    repeated over the ``n_rows`` missing bins. With ``source_bins`` a quarter of the band (8–11 kHz for a 0–11 kHz
    band), cymbals and sibilants, which dominate the top of the band, carry their share into the bins above it.

    Input ``(batch, modelled_bins, n_frames, 1)``; output ``(batch, modelled_bins + n_rows, n_frames, 1)``.

    Taught in: notebooks/05_unet_vocals_drums.ipynb

    References
    ----------
    .. [1] Hennequin, Khlif, Voituret & Moussallam, "Spleeter: a fast and efficient music source separation tool
       with pre-trained models", JOSS 5(50), 2020 (the mask extension above the modelled band).
    """

    def __init__(self, n_rows: int, source_bins: int, **kwargs):
        super().__init__(**kwargs)
        self.n_rows, self.source_bins = int(n_rows), int(source_bins)

    def call(self, mask):
        from keras import ops

        top = ops.mean(mask[:, -self.source_bins:], axis=1, keepdims=True)
        return ops.concatenate([mask, ops.repeat(top, self.n_rows, axis=1)], axis=1)

    def get_config(self):
        return {**super().get_config(), "n_rows": self.n_rows, "source_bins": self.source_bins}


def unet(targets=("vocals", "drums"), n_frames: int = N_FRAMES, base_filters: int = 8, depth: int = 5,
         kernel_size: int = 5, dropout: float = 0.5, sample_rate: int = SAMPLE_RATE, n_fft: int = N_FFT,
         hop_length: int = HOP_LENGTH, window: str = WINDOW, modelled_bins: int | None = None):
    """A U-Net that predicts one soft mask per target from a mixture magnitude spectrogram (Jansson et al. 2017).

    Layout ``(batch, n_bins, n_frames, 1)``: frequency rows, time columns, one channel (each audio channel is
    separated on its own). Inside: ``log1p`` compression; the top bin (Nyquist) is cropped so the frequency axis is
    a power of two; an encoder of ``depth`` strided 5×5 convolutions (``base_filters`` doubling each level,
    BatchNorm, leaky ReLU 0.2); a decoder of strided transposed convolutions (BatchNorm, ReLU, dropout in its first
    three layers) with skip connections; and, shared by all targets up to there, **one sigmoid mask head per
    target** (a 3×3 convolution). Each mask is padded back to ``n_bins`` (zero at Nyquist) and multiplies the
    mixture magnitude, so the model's outputs are magnitude estimates, trained with L1 against the targets'.

    **Full band**: with ``modelled_bins``, only the lowest ``modelled_bins`` bins go through the network, and each
    mask is extended over the bins above by :class:`MaskExtension`, so the model writes full-band stems at the
    song's own rate. The shipped model runs at 44.1 kHz with ``n_fft=2048``, ``hop_length=512`` and
    ``modelled_bins=512`` (0–11 kHz modelled, 11–22 kHz extended): the same 21.5-Hz bins and 46-ms frames as
    22.05 kHz with ``n_fft=1024``, so the network costs the same, and no resampling is needed for CD-rate songs.

    Defaults, and why: 22.05 kHz with ``n_fft=1024``, ``hop_length=256`` (46-ms frames, 0–11 kHz: the course's STFT;
    Jansson used 8 kHz, the seed project 11.025 kHz — 22.05 kHz keeps cymbals and sibilants); 128 frames (1.5 s of
    context, against the spectrogram FNN's 116 ms); ``base_filters=8`` and ``depth=5`` (8…128 filters, about 0.6 M
    parameters, a 3-MB checkpoint that trains on a laptop CPU) instead of Jansson's 16…512 and depth 6 (about 10 M).

    Taught in: notebooks/05_unet_vocals_drums.ipynb

    Parameters
    ----------
    targets : sequence of str
        One head per target; ``("bass",)`` gives a bass separator (its residual is the "bassless" track).
    n_frames : int
        Frames per segment; divisible by ``2 ** depth``.
    base_filters, depth, kernel_size : int > 0
    dropout : float in [0, 1)
    sample_rate : int > 0
        Hz; the rate of the audio the model is trained on and separates (stored in the model).
    n_fft, hop_length : int
        The STFT's size and hop in samples; ``n_bins = n_fft // 2 + 1``, and ``n_fft / 2`` must be divisible by
        ``2 ** depth``.
    window : str
        The STFT's window.
    modelled_bins : int or None
        How many of the lowest bins the network models (divisible by ``2 ** depth``, at most ``n_fft / 2``); the
        masks are extended above them. ``None``: ``n_fft / 2`` (all but Nyquist, whose mask is zero).

    Returns
    -------
    model : keras.Model
        Input ``(batch, n_bins, n_frames, 1)`` magnitudes; outputs ``{target: (batch, n_bins, n_frames, 1)}``.
        :func:`settings` reads its settings back.

    Raises
    ------
    ParameterError
        If the sizes are not divisible by ``2 ** depth`` or a parameter is out of range.

    References
    ----------
    .. [1] Jansson, Humphrey, Montecchio, Bittner, Kumar & Weyde, "Singing voice separation with deep U-Net
       convolutional networks", ISMIR 2017.
    .. [2] Ronneberger, Fischer & Brox, "U-Net: convolutional networks for biomedical image segmentation", 2015.
    """
    from keras import layers

    targets = check_targets(targets)
    depth, base_filters = check_int("depth", depth), check_int("base_filters", base_filters)
    kernel_size, n_frames = check_int("kernel_size", kernel_size), check_int("n_frames", n_frames)
    if not 0 <= dropout < 1:
        raise ParameterError(f"dropout={dropout!r} must be in [0, 1)")
    n_fft, hop_length = _check_stft(sample_rate, n_fft, hop_length)
    n_bins, scale = n_fft // 2 + 1, 2 ** depth
    if (n_bins - 1) % scale or n_frames % scale:
        raise ParameterError(f"n_fft / 2 = {n_bins - 1} and n_frames = {n_frames} must be divisible by "
                             f"2 ** depth = {scale}")
    arguments = {"base_filters": base_filters, "depth": depth, "kernel_size": kernel_size, "dropout": float(dropout)}
    if modelled_bins is not None:
        modelled_bins = check_int("modelled_bins", modelled_bins)
        if modelled_bins % scale or modelled_bins > n_bins - 1:
            raise ParameterError(f"modelled_bins={modelled_bins} must be divisible by 2 ** depth = {scale} and at "
                                 f"most n_fft / 2 = {n_bins - 1}")
        arguments["modelled_bins"] = modelled_bins
    modelled = n_bins - 1 if modelled_bins is None else modelled_bins
    settings = {"architecture": "unet", "sample_rate": int(sample_rate), "n_fft": n_fft, "hop_length": hop_length,
                "window": window, "n_frames": n_frames, "targets": list(targets), "arguments": arguments}
    inputs = keras.Input((n_bins, n_frames, 1), name="mixture_magnitude")
    magnitude = AudioSettings(settings, name=SETTINGS_LAYER)(inputs)
    x = layers.Cropping2D(((0, n_bins - modelled), (0, 0)),
                          name="drop_nyquist" if modelled_bins is None else "modelled_band")(magnitude)
    x = Log1p(name="log1p")(x)
    skips = []
    for level in range(depth):
        x = layers.Conv2D(base_filters * 2 ** level, kernel_size, strides=2, padding="same",
                          name=f"encoder_{level}")(x)
        x = layers.BatchNormalization(name=f"encoder_{level}_bn")(x)
        x = layers.LeakyReLU(0.2, name=f"encoder_{level}_act")(x)
        skips.append(x)
    for level in reversed(range(depth)):
        if level != depth - 1:
            x = layers.Concatenate(name=f"skip_{level}")([x, skips[level]])
        filters = base_filters * 2 ** max(level - 1, 0)
        x = layers.Conv2DTranspose(filters, kernel_size, strides=2, padding="same", name=f"decoder_{level}")(x)
        x = layers.BatchNormalization(name=f"decoder_{level}_bn")(x)
        x = layers.ReLU(name=f"decoder_{level}_act")(x)
        if depth - 1 - level < 3 and dropout > 0:
            x = layers.Dropout(dropout, name=f"decoder_{level}_dropout")(x)
    outputs = {}
    for target in targets:
        mask = layers.Conv2D(1, 3, padding="same", activation="sigmoid", name=f"{target}_mask")(x)
        if modelled_bins is None:
            mask = layers.ZeroPadding2D(((0, 1), (0, 0)), name=f"{target}_mask_full")(mask)
        else:
            mask = MaskExtension(n_bins - modelled, max(1, modelled // 4), name=f"{target}_mask_full")(mask)
        outputs[target] = layers.Multiply(name=target)([mask, magnitude])
    return keras.Model(inputs, outputs, name="unet_" + "_".join(targets))


def unet_mask_model(model, targets=None):
    """The sub-network of a :func:`unet` that outputs the masks themselves instead of masked magnitudes.

    Shares the weights (no copy); used by :class:`helpers.separation.Separator`, which applies the masks to
    complex STFTs.

    Parameters
    ----------
    model : keras.Model
        From :func:`unet` (or loaded from a file it saved).
    targets : sequence of str or None
        A subset of the model's outputs; ``None`` keeps them all.

    Returns
    -------
    mask_model : keras.Model
        Input ``(batch, n_bins, n_frames, 1)`` magnitudes; outputs ``{target: (batch, n_bins, n_frames, 1)}`` in [0, 1].

    Raises
    ------
    ParameterError
        If a target is not one of the model's outputs.
    """
    available = list(model.output)
    targets = list(available if targets is None else targets)
    missing = [t for t in targets if t not in available]
    if missing:
        raise ParameterError(f"targets {missing} are not among the model's outputs ({', '.join(available)})")
    return keras.Model(model.input, {t: model.get_layer(f"{t}_mask_full").output for t in targets},
                       name=f"{model.name}_masks")





@keras.saving.register_keras_serializable(package="helpers")
class Decimate(keras.layers.Layer):
    """Keep every second time step, ``(batch, n, channels) -> (batch, n // 2, channels)``: the Wave-U-Net's
    downsampling (the convolution before it learns whatever low-pass the features need).

    Taught in: notebooks/07_time_domain.ipynb
    """

    def call(self, inputs):
        return inputs[:, ::2, :]


@keras.saving.register_keras_serializable(package="helpers")
class LinearUpsample(keras.layers.Layer):
    """Double the time steps by linear interpolation, ``(batch, n, channels) -> (batch, 2n, channels)``.

    Even outputs are the inputs, odd ones the mean of two neighbours (the last repeats). Unlike a transposed
    convolution it cannot add a checkerboard of high-frequency artefacts, the buzz Stoller et al. heard (§3.2).

    Taught in: notebooks/07_time_domain.ipynb
    """

    def call(self, inputs):
        ops = keras.ops
        following = ops.concatenate([inputs[:, 1:], inputs[:, -1:]], axis=1)
        pairs = ops.stack([inputs, (inputs + following) / 2], axis=2)  # (batch, n, 2, channels)
        return ops.reshape(pairs, (-1, 2 * inputs.shape[1], inputs.shape[2]))


def wave_unet(targets=("vocals", "drums"), segment_length: int = 16384, n_levels: int = 8, base_filters: int = 16,
              down_kernel: int = 15, up_kernel: int = 5, sample_rate: int = SAMPLE_RATE):
    """A Wave-U-Net: the waveforms of the targets straight from the mixture's waveform (Stoller et al. 2018).

    Layout ``(batch, segment_length, 1)``: one audio channel (each channel is separated on its own, as with the
    spectrogram U-Net). ``n_levels`` downsampling blocks, each a 1-D convolution (``base_filters * (level + 1)``
    filters, kernel ``down_kernel``, leaky ReLU) then :class:`Decimate`; a bottleneck convolution; ``n_levels``
    upsampling blocks, each :class:`LinearUpsample`, the skip connection from the same level (concatenated), and a
    convolution (kernel ``up_kernel``); the mixture itself is concatenated before the output heads, one ``tanh``
    1×1 convolution per target. The residual (e.g. accompaniment) is the mixture minus the targets, which is the
    paper's "difference output" in the separator's terms. Convolutions are zero-padded ("same"), so the output has
    the input's length; the separator's overlapping segments and cross-fade keep the poorly seen edges out of the
    result. :func:`receptive_field` gives the context every output sample sees.

    Defaults, and why: 22.05 kHz as in the paper; 16,384 samples (0.74 s) per segment; 8 levels of 16…144 filters
    (1.5 M parameters, a receptive field of 8,685 samples, 0.39 s) where the paper has 12 levels of 24…288 filters
    trained for days on a GPU: this one trains on a laptop CPU.

    Taught in: notebooks/07_time_domain.ipynb

    Parameters
    ----------
    targets : sequence of str
    segment_length : int > 0
        Samples per segment; divisible by ``2 ** n_levels``.
    n_levels, base_filters, down_kernel, up_kernel : int > 0
    sample_rate : int > 0
        Hz; stored in the model.

    Returns
    -------
    model : keras.Model
        Input ``(batch, segment_length, 1)``; outputs ``{target: (batch, segment_length, 1)}`` waveforms.

    Raises
    ------
    ParameterError
        If a size is not a positive integer, ``segment_length`` is not divisible by ``2 ** n_levels``, or a
        target is unknown.

    References
    ----------
    .. [1] Stoller, Ewert & Dixon, "Wave-U-Net: a multi-scale neural network for end-to-end audio source
       separation", ISMIR 2018.
    """
    from keras import layers

    targets = check_targets(targets)
    segment_length, n_levels = check_int("segment_length", segment_length), check_int("n_levels", n_levels)
    base_filters = check_int("base_filters", base_filters)
    down_kernel, up_kernel = check_int("down_kernel", down_kernel), check_int("up_kernel", up_kernel)
    check_int("sample_rate", sample_rate)
    if segment_length % 2 ** n_levels:
        raise ParameterError(f"segment_length={segment_length} must be divisible by 2 ** n_levels = {2 ** n_levels}")
    settings = {"architecture": "wave_unet", "sample_rate": int(sample_rate), "segment_length": segment_length,
                "targets": list(targets), "arguments": {"n_levels": n_levels, "base_filters": base_filters,
                                                        "down_kernel": down_kernel, "up_kernel": up_kernel}}
    inputs = keras.Input((segment_length, 1), name="mixture_waveform")
    mixture = AudioSettings(settings, name=SETTINGS_LAYER)(inputs)
    x, skips = mixture, []
    for level in range(n_levels):
        x = layers.Conv1D(base_filters * (level + 1), down_kernel, padding="same", name=f"down_{level}")(x)
        x = layers.LeakyReLU(0.2, name=f"down_{level}_act")(x)
        skips.append(x)
        x = Decimate(name=f"decimate_{level}")(x)
    x = layers.Conv1D(base_filters * (n_levels + 1), down_kernel, padding="same", name="bottleneck")(x)
    x = layers.LeakyReLU(0.2, name="bottleneck_act")(x)
    for level in reversed(range(n_levels)):
        x = LinearUpsample(name=f"upsample_{level}")(x)
        x = layers.Concatenate(name=f"skip_{level}")([x, skips[level]])
        x = layers.Conv1D(base_filters * (level + 1), up_kernel, padding="same", name=f"up_{level}")(x)
        x = layers.LeakyReLU(0.2, name=f"up_{level}_act")(x)
    x = layers.Concatenate(name="with_mixture")([x, mixture])
    outputs = {t: layers.Conv1D(1, 1, activation="tanh", name=t)(x) for t in targets}
    return keras.Model(inputs, outputs, name="wave_unet_" + "_".join(targets))


def receptive_field(model) -> int:
    """How many input samples one output sample of a :func:`wave_unet` depends on, read from its own layers.

    Walking the layers in order: a convolution of kernel ``k`` at a level where one step spans ``s`` input samples
    widens the field by ``(k - 1) * s``; :class:`Decimate` doubles ``s``; :class:`LinearUpsample` halves it after
    widening the field by one step of the coarser level (it reads a neighbour). The skip connections see less, so
    this longest path is the field.

    Taught in: notebooks/07_time_domain.ipynb

    Returns
    -------
    samples : int
    """
    field, step = 1, 1
    for layer in model.layers:
        if isinstance(layer, keras.layers.Conv1D):
            field += (layer.kernel_size[0] - 1) * layer.dilation_rate[0] * step
        elif isinstance(layer, Decimate):
            step *= 2
        elif isinstance(layer, LinearUpsample):
            field += step
            step //= 2
    return field

@keras.saving.register_keras_serializable(package="helpers")
class AudioSettings(keras.layers.Layer):
    """An identity layer whose config carries a model's audio settings, so they travel inside its ``.keras`` file.

    ``settings`` holds ``architecture`` (the builder's name in this module), ``sample_rate`` (Hz), ``targets``,
    ``arguments`` (the builder's other arguments) and, for spectrogram models, ``n_fft``, ``hop_length``
    (samples), ``window`` and ``n_frames`` (U-Net) or ``context`` (FNN); for the Wave-U-Net, ``segment_length``. :func:`settings` reads them; :func:`load` rebuilds the model
    from them.

    Taught in: notebooks/05_unet_vocals_drums.ipynb
    """

    def __init__(self, settings: dict, **kwargs):
        super().__init__(**kwargs)
        self.settings = json.loads(json.dumps(settings))  # a plain, JSON-safe copy

    def call(self, inputs):
        return inputs

    def get_config(self):
        return {**super().get_config(), "settings": self.settings}


def _check_stft(sample_rate, n_fft, hop_length) -> tuple[int, int]:
    check_int("sample_rate", sample_rate)
    return spectral.check_frame_params(n_fft, hop_length)


#: The builders :func:`load` may call, by the ``architecture`` a model's settings name, with the settings each takes.
_SPECTRAL = ("sample_rate", "n_fft", "hop_length", "window", "targets")
BUILDERS = {"unet": (_SPECTRAL + ("n_frames",), unet), "spectrogram_fnn": (_SPECTRAL + ("context",), spectrogram_fnn),
            "wave_unet": (("sample_rate", "targets", "segment_length"), wave_unet)}


def settings(model) -> dict:
    """A model's audio settings: what it needs to be trained, saved, loaded and used on audio.

    Taught in: notebooks/05_unet_vocals_drums.ipynb

    Parameters
    ----------
    model : keras.Model
        From :func:`unet` or :func:`spectrogram_fnn`, or loaded by :func:`load`.

    Returns
    -------
    settings : dict
        ``architecture``, ``sample_rate`` (Hz), ``targets``, ``arguments`` (the builder's other arguments), and
        the STFT (``n_fft``, ``hop_length``, ``window``) with ``n_frames`` (U-Net) or ``context`` (FNN), or
        ``segment_length`` (Wave-U-Net); a copy.

    Raises
    ------
    ParameterError
        If the model carries no settings (it was not built by this module).
    """
    try:
        layer = model.get_layer(SETTINGS_LAYER)
    except ValueError:
        raise ParameterError(f"model {model.name!r} carries no audio settings (no {SETTINGS_LAYER!r} layer); "
                             "build it with helpers.models.unet or helpers.models.spectrogram_fnn") from None
    return json.loads(json.dumps(layer.settings))


def build(settings: dict):
    """Build an untrained model from its settings (as :func:`settings` returns them).

    Taught in: notebooks/05_unet_vocals_drums.ipynb

    Returns
    -------
    model : keras.Model

    Raises
    ------
    ParameterError
        If the architecture is unknown, a setting is missing, or a value is out of range.
    """
    architecture = settings.get("architecture")
    if architecture not in BUILDERS:
        raise ParameterError(f"architecture={architecture!r} must be one of {sorted(BUILDERS)}")
    names, builder = BUILDERS[architecture]
    names = names + ("arguments",)
    missing = [name for name in names if name not in settings]
    if missing:
        raise ParameterError(f"the settings lack {', '.join(missing)}")
    if not isinstance(settings["arguments"], dict):
        raise ParameterError(f"arguments={settings['arguments']!r} must be a dict")
    try:
        return builder(**{name: settings[name] for name in names[:-1]}, **settings["arguments"])
    except TypeError as exc:  # an argument the builder does not take
        raise ParameterError(f"the settings do not fit {architecture}: {exc}") from None


def save(model, path) -> Path:
    """Save a model with its settings and weights, without optimizer state, atomically (temporary file, rename).

    The network is rebuilt from its settings and given the trained weights first, so the file holds no
    optimizer, loss or training state: smaller, and it loads for inference anywhere.

    Taught in: notebooks/05_unet_vocals_drums.ipynb

    Parameters
    ----------
    model : keras.Model
        From :func:`unet` or :func:`spectrogram_fnn` (trained or not).
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
    from helpers.audio import atomic_path

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
        Naming the file: if it is missing, is not a Keras model file, carries no settings, its settings are
        incomplete or out of range, or its weights do not fit the network its settings describe.
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
