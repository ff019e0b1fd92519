"""The spectrogram U-Net (Jansson et al. 2017): one soft mask per target from a mixture magnitude spectrogram, its
full-band mask extension, and the loop that runs it over a whole spectrogram in notebook 05.

Registered as ``"unet"``: the separator feeds it magnitude segments and applies the masks of
:func:`unet_mask_model` to the complex STFT; it trains on :class:`helpers.data.SpectrogramSegments` with L1 on the
masked magnitudes.

Taught in: notebooks/05_unet_vocals_drums.ipynb
"""

from __future__ import annotations

import keras
import numpy as np
from keras import layers

from helpers import data
from helpers.config import DEFAULT_TARGETS, HOP_LENGTH, N_FFT, N_FRAMES, SAMPLE_RATE, WINDOW, check_targets
from helpers.exceptions import ParameterError, check_int
from helpers.models.base import SETTINGS_LAYER, Architecture, AudioSettings, Log1p, check_stft, register, settings


@keras.saving.register_keras_serializable(package="helpers")
class MaskExtension(keras.layers.Layer):
    """Extend a mask over the frequency bins the network does not model (Spleeter's "average" extension).

    Above the modelled band, each frame's mask is the mean of its mask over the top ``source_bins`` modelled bins,
    repeated over the ``n_rows`` missing bins. With ``source_bins`` a quarter of the band (8–11 kHz for a 0–11 kHz
    band), cymbals and sibilants, which dominate the top of the band, carry their share into the bins above it.

    Input ``(batch, modelled_bins, n_frames, 1)``; output ``(batch, modelled_bins + n_rows, n_frames, 1)``.

    Used by: helpers.models.unet.unet

    References
    ----------
    .. [1] Hennequin, Khlif, Voituret & Moussallam, "Spleeter: a fast and efficient music source separation tool
       with pre-trained models", JOSS 5(50), 2020 (the mask extension above the modelled band).
    """

    def __init__(self, n_rows: int, source_bins: int, **kwargs):
        super().__init__(**kwargs)
        self.n_rows, self.source_bins = int(n_rows), int(source_bins)

    def call(self, mask):
        ops = keras.ops
        top = ops.mean(mask[:, -self.source_bins:], axis=1, keepdims=True)
        return ops.concatenate([mask, ops.repeat(top, self.n_rows, axis=1)], axis=1)

    def get_config(self):
        return {**super().get_config(), "n_rows": self.n_rows, "source_bins": self.source_bins}


def unet(targets=DEFAULT_TARGETS, n_frames: int = N_FRAMES, base_filters: int = 8, depth: int = 5,
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
    targets = check_targets(targets)
    depth, base_filters = check_int("depth", depth), check_int("base_filters", base_filters)
    kernel_size, n_frames = check_int("kernel_size", kernel_size), check_int("n_frames", n_frames)
    if not 0 <= dropout < 1:
        raise ParameterError(f"dropout={dropout!r} must be in [0, 1)")
    n_fft, hop_length = check_stft(sample_rate, n_fft, hop_length)
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
    stored = {"architecture": "unet", "sample_rate": int(sample_rate), "n_fft": n_fft, "hop_length": hop_length,
              "window": window, "n_frames": n_frames, "targets": list(targets), "arguments": arguments}
    inputs = keras.Input((n_bins, n_frames, 1), name="mixture_magnitude")
    magnitude = AudioSettings(stored, name=SETTINGS_LAYER)(inputs)
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

    Shares the weights (no copy): the U-Net's ``separation_network``, whose masks
    :class:`helpers.separation.Separator` applies to complex STFTs.

    Taught in: notebooks/05_unet_vocals_drums.ipynb

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


def unet_masks(model, magnitude: np.ndarray, *, batch_size: int = 8) -> dict:
    """Predict each target's mask for a whole magnitude spectrogram, segment by segment (back to back).

    The spectrogram is cut into segments of the model's ``n_frames`` frames (the last zero-padded), each channel
    separately: notebook 05's loop, with no overlap and no cross-fade (the streaming separator adds them).

    Taught in: notebooks/05_unet_vocals_drums.ipynb

    Parameters
    ----------
    model : keras.Model
        From :func:`unet`.
    magnitude : np.ndarray [shape=(..., n_bins, n_total_frames)]
    batch_size : int > 0

    Returns
    -------
    masks : dict[str, np.ndarray [shape=magnitude.shape]], values in [0, 1]
    """
    n_frames = settings(model)["n_frames"]
    magnitude = np.asarray(magnitude, dtype=np.float32)
    lead, (n_bins, total) = magnitude.shape[:-2], magnitude.shape[-2:]
    flat = magnitude.reshape(-1, n_bins, total)
    n_segments = int(np.ceil(total / n_frames))
    padded = np.zeros((flat.shape[0], n_bins, n_segments * n_frames), dtype=np.float32)
    padded[..., :total] = flat
    segments = padded.reshape(flat.shape[0], n_bins, n_segments, n_frames).transpose(0, 2, 1, 3)
    segments = segments.reshape(-1, n_bins, n_frames, 1)
    predictions = model.predict(segments, batch_size=check_int("batch_size", batch_size), verbose=0)
    masks = {}
    for target, estimate in predictions.items():
        mask = estimate[..., 0] / np.maximum(segments[..., 0], 1e-8)
        mask = np.where(segments[..., 0] > 1e-8, mask, 0.0).clip(0, 1)
        mask = mask.reshape(flat.shape[0], n_segments, n_bins, n_frames).transpose(0, 2, 1, 3)
        masks[target] = mask.reshape(flat.shape[0], n_bins, -1)[..., :total].reshape(lead + (n_bins, total))
    return masks


#: The U-Net's declaration: magnitude segments in, masks out (from :func:`unet_mask_model`), trained on remixed
#: spectrogram segments with L1 on the masked magnitudes.
UNET = register(Architecture(
    name="unet", builder=unet, settings=("sample_rate", "n_fft", "hop_length", "window", "targets", "n_frames"),
    input="magnitude", output="mask", segments=data.SpectrogramSegments, losses={"l1": "mae"},
    separation_network=unet_mask_model, title="U-Net"))
