"""The Wave-U-Net (Stoller et al. 2018): the targets' waveforms straight from the mixture's waveform, with its
decimation and linear-upsampling layers and its receptive field.

Registered as ``"wave_unet"``: the separator feeds it waveform segments and takes its outputs as the estimates; it
trains on :class:`helpers.data.WaveformSegments` with one of :data:`helpers.losses.LOSSES`.

Taught in: notebooks/07_time_domain.ipynb
"""

from __future__ import annotations

import keras
from keras import layers

from helpers import data, losses
from helpers.config import DEFAULT_TARGETS, SAMPLE_RATE, check_targets
from helpers.exceptions import ParameterError, check_int
from helpers.models.base import SETTINGS_LAYER, Architecture, AudioSettings, register


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
    convolution it cannot add a checkerboard of high-frequency artefacts, the buzz Stoller et al. heard (§3.2);
    as an imperfect low-pass filter it leaves weak images above the old Nyquist frequency instead (Pons et al.,
    "Upsampling artifacts in neural audio synthesis", ICASSP 2021).

    Taught in: notebooks/07_time_domain.ipynb
    """

    def call(self, inputs):
        ops = keras.ops
        following = ops.concatenate([inputs[:, 1:], inputs[:, -1:]], axis=1)
        pairs = ops.stack([inputs, (inputs + following) / 2], axis=2)  # (batch, n, 2, channels)
        return ops.reshape(pairs, (-1, 2 * inputs.shape[1], inputs.shape[2]))


def wave_unet(targets=DEFAULT_TARGETS, segment_length: int = 16384, n_levels: int = 8, base_filters: int = 16,
              down_kernel: int = 15, up_kernel: int = 5, sample_rate: int = SAMPLE_RATE):
    """A Wave-U-Net: the waveforms of the targets straight from the mixture's waveform (Stoller et al. 2018).

    Layout ``(batch, segment_length, 1)``: one audio channel (each channel is separated on its own, as with the
    spectrogram U-Net). ``n_levels`` downsampling blocks, each a 1-D convolution (``base_filters * (level + 1)``
    filters, kernel ``down_kernel``, leaky ReLU) then :class:`Decimate`; a bottleneck convolution; ``n_levels``
    upsampling blocks, each :class:`LinearUpsample`, the skip connection from the same level (concatenated), and a
    convolution (kernel ``up_kernel``); the mixture itself is concatenated before the output heads, one ``tanh``
    1×1 convolution per target. The residual (e.g. accompaniment) is the mixture minus the targets, which is the
    paper's "difference output" in the separator's terms. Convolutions are zero-padded ("same"), so the output has
    the input's length; the separator's overlapping segments and cross-fade keep most of the poorly seen edges out
    of the result (not all: with the defaults the overlap is a little shorter than half the field, notebook 07
    prints by how much). :func:`receptive_field` gives the context every output sample sees.

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
    targets = check_targets(targets)
    segment_length, n_levels = check_int("segment_length", segment_length), check_int("n_levels", n_levels)
    base_filters = check_int("base_filters", base_filters)
    down_kernel, up_kernel = check_int("down_kernel", down_kernel), check_int("up_kernel", up_kernel)
    check_int("sample_rate", sample_rate)
    if segment_length % 2 ** n_levels:
        raise ParameterError(f"segment_length={segment_length} must be divisible by 2 ** n_levels = {2 ** n_levels}")
    stored = {"architecture": "wave_unet", "sample_rate": int(sample_rate), "segment_length": segment_length,
              "targets": list(targets), "arguments": {"n_levels": n_levels, "base_filters": base_filters,
                                                      "down_kernel": down_kernel, "up_kernel": up_kernel}}
    inputs = keras.Input((segment_length, 1), name="mixture_waveform")
    mixture = AudioSettings(stored, name=SETTINGS_LAYER)(inputs)
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


#: The Wave-U-Net's declaration: waveform segments in, waveforms out, trained on remixed waveform segments; the
#: losses are :func:`helpers.losses.waveform_loss`'s, the first the default.
WAVE_UNET = register(Architecture(
    name="wave_unet", builder=wave_unet, settings=("sample_rate", "targets", "segment_length"),
    input="waveform", output="waveform", segments=data.WaveformSegments,
    losses={name: losses.waveform_loss(name) for name in ("l1+stft", "l1", "stft")}, title="Wave-U-Net"))
