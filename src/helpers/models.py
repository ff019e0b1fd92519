"""The course's networks, in Keras 3 (layers and ``keras.ops`` only, so they build under any backend).

Taught in: notebooks/02_waveform_fnn.ipynb, notebooks/04_masks_and_spectrogram_fnn.ipynb,
notebooks/05_unet_vocals_drums.ipynb
"""

from __future__ import annotations

import keras
import numpy as np

from helpers import spectral
from helpers.exceptions import ParameterError


def waveform_fnn(frame_length: int = 512, sources=("piano", "violin"), hidden=(1024, 1024)):
    """A feed-forward network from a mixture frame to one frame per source, all in the time domain.

    Each output is a linear layer of ``frame_length`` samples; the frames are put back together by
    :func:`separate_waveform` (windowed overlap-add).

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

    if frame_length <= 0 or not hidden or min(hidden) <= 0:
        raise ParameterError(f"frame_length={frame_length} and hidden={hidden} must be positive")
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


def separate_waveform(model, mixture: np.ndarray, frame_length: int, hop_length: int) -> dict:
    """Run the waveform FNN over a whole mono signal: frame, predict, window, overlap-add.

    The mixture is padded by one frame on both sides so every sample is covered by two Hann-weighted frames
    (``hop_length = frame_length / 2``: the periodic Hann sums to one).

    Taught in: notebooks/02_waveform_fnn.ipynb

    Parameters
    ----------
    model : keras.Model
        From :func:`waveform_fnn`.
    mixture : np.ndarray [shape=(n_samples,)]
    frame_length, hop_length : int

    Returns
    -------
    estimates : dict[str, np.ndarray [shape=(n_samples,)]], float32

    Raises
    ------
    ParameterError
        If ``hop_length`` is not ``frame_length // 2``.
    """
    import scipy.signal

    if hop_length * 2 != frame_length:
        raise ParameterError(f"hop_length={hop_length} must be frame_length / 2 = {frame_length / 2}")
    n = mixture.shape[-1]
    n_padded = int(np.ceil((n + 2 * frame_length) / hop_length)) * hop_length
    padded = np.zeros(n_padded, dtype=np.float32)
    padded[frame_length : frame_length + n] = mixture
    x, _ = waveform_frames(padded, None, frame_length, hop_length)
    predictions = model.predict(x, batch_size=256, verbose=0)
    window = scipy.signal.get_window("hann", frame_length).astype(np.float32)
    return {name: spectral.overlap_add(frames * window, hop_length)[frame_length : frame_length + n]
            for name, frames in predictions.items()}


def context_windows(magnitude: np.ndarray, context: int) -> np.ndarray:
    """Stack each frame with its ``context`` neighbours on both sides (zero-padded at the edges).

    Taught in: notebooks/04_masks_and_spectrogram_fnn.ipynb

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
    if not isinstance(context, (int, np.integer)) or context < 0:
        raise ParameterError(f"context={context!r} must be a non-negative integer")
    frames = np.swapaxes(np.asarray(magnitude), -1, -2)  # (..., n_frames, n_bins)
    pad = [(0, 0)] * (frames.ndim - 2) + [(context, context), (0, 0)]
    padded = np.pad(frames, pad)
    n_frames = frames.shape[-2]
    return np.stack([padded[..., i : i + n_frames, :] for i in range(2 * context + 1)], axis=-2)


def spectrogram_fnn(n_bins: int = spectral.N_FFT // 2 + 1, context: int = 3, targets=("vocals", "drums"),
                    hidden=(512, 512), dropout: float = 0.2):
    """A frame-wise dense network: a context of mixture magnitude frames in, one mask per target out.

    The input is compressed with ``log1p`` inside the model; each head is a sigmoid mask over the centre frame's
    bins, multiplied by the centre frame's mixture magnitude, so the model outputs masked magnitudes and is trained
    with an L1 loss against the target magnitudes. It sees ``2 * context + 1`` frames (about 80 ms at the course's
    settings) and no wider: the limit that the U-Net of notebook 05 removes.

    Taught in: notebooks/04_masks_and_spectrogram_fnn.ipynb

    Parameters
    ----------
    n_bins : int > 0
    context : int >= 0
        Frames on each side of the centre frame.
    targets : sequence of str
        One head per target.
    hidden : sequence of int
        ReLU layer widths.
    dropout : float in [0, 1)
        Dropout after each hidden layer.

    Returns
    -------
    model : keras.Model
        Input ``(batch, 2 * context + 1, n_bins)`` magnitudes; outputs ``{target: (batch, n_bins)}`` magnitudes.

    References
    ----------
    .. [1] Uhlich, Giron & Mitsufuji, "Deep neural network based instrument extraction from music", ICASSP 2015.
    """

    if n_bins <= 0 or not hidden or min(hidden) <= 0 or not 0 <= dropout < 1:
        raise ParameterError(f"n_bins={n_bins}, hidden={hidden}, dropout={dropout} are out of range")
    inputs = keras.Input((2 * context + 1, n_bins), name="mixture_magnitude")
    centre = CentreFrame(context, name="centre_frame")(inputs)
    x = Log1p(name="log1p")(inputs)
    x = keras.layers.Flatten()(x)
    for i, width in enumerate(hidden):
        x = keras.layers.Dense(width, activation="relu", name=f"hidden_{i}")(x)
        x = keras.layers.Dropout(dropout)(x)
    outputs = {}
    for target in targets:
        mask = keras.layers.Dense(n_bins, activation="sigmoid", name=f"{target}_mask")(x)
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


def separate_spectrogram_fnn(model, mixture: np.ndarray, context: int, n_fft: int = spectral.N_FFT,
                             hop_length: int = spectral.HOP_LENGTH) -> dict:
    """Separate a (multichannel) mixture with the spectrogram FNN: each channel's STFT, masked, with its own phase.

    Taught in: notebooks/04_masks_and_spectrogram_fnn.ipynb

    Parameters
    ----------
    model : keras.Model
        From :func:`spectrogram_fnn`.
    mixture : np.ndarray [shape=(n_channels, n_samples) or (n_samples,)]
    context, n_fft, hop_length : int
        As used in training.

    Returns
    -------
    estimates : dict[str, np.ndarray [shape=mixture.shape]], float32
    """
    mixture_stft = spectral.stft(mixture, n_fft=n_fft, hop_length=hop_length)
    magnitude, phase = spectral.magphase(mixture_stft)
    windows = context_windows(magnitude, context)  # (..., n_frames, 2c+1, n_bins)
    predictions = model.predict(windows.reshape(-1, *windows.shape[-2:]), batch_size=1024, verbose=0)
    estimates = {}
    for target, estimate in predictions.items():
        estimate = np.swapaxes(estimate.reshape(windows.shape[:-2] + (windows.shape[-1],)), -1, -2)
        estimate = np.minimum(estimate, magnitude)  # a mask never exceeds one
        estimates[target] = spectral.istft(estimate * phase, hop_length=hop_length, length=mixture.shape[-1])
    return estimates


@keras.saving.register_keras_serializable(package="helpers")
class Log1p(keras.layers.Layer):
    """``log(1 + x)``: compresses the dynamic range of magnitudes. A registered layer, so Keras's safe-mode loading
    accepts models that use it (a ``Lambda`` layer would be refused).

    Taught in: notebooks/05_unet_vocals_drums.ipynb
    """

    def call(self, inputs):
        return keras.ops.log1p(inputs)


@keras.saving.register_keras_serializable(package="helpers")
class CentreFrame(keras.layers.Layer):
    """Select the centre frame of a context window: ``(batch, 2c + 1, n_bins) -> (batch, n_bins)``.

    Taught in: notebooks/04_masks_and_spectrogram_fnn.ipynb
    """

    def __init__(self, context: int, **kwargs):
        super().__init__(**kwargs)
        self.context = int(context)

    def call(self, inputs):
        return inputs[:, self.context, :]

    def get_config(self):
        return {**super().get_config(), "context": self.context}


def unet(targets=("vocals", "drums"), n_bins: int = spectral.N_FFT // 2 + 1, n_frames: int = 128,
         base_filters: int = 8, depth: int = 5, kernel_size: int = 5, dropout: float = 0.5):
    """A U-Net that predicts one soft mask per target from a mixture magnitude spectrogram (Jansson et al. 2017).

    Layout ``(batch, n_bins, n_frames, 1)``: frequency rows, time columns, one channel (each audio channel is
    separated on its own). Inside: ``log1p`` compression; the top bin (Nyquist) is cropped so the frequency axis is
    a power of two; an encoder of ``depth`` strided 5×5 convolutions (``base_filters`` doubling each level,
    BatchNorm, leaky ReLU 0.2); a decoder of strided transposed convolutions (BatchNorm, ReLU, dropout in its first
    three layers) with skip connections; and, shared by all targets up to there, **one sigmoid mask head per
    target** (a 3×3 convolution). Each mask is padded back to ``n_bins`` (zero at Nyquist) and multiplies the
    mixture magnitude, so the model's outputs are magnitude estimates, trained with L1 against the targets'.

    Defaults, and why: 22.05 kHz with ``n_fft=1024``, ``hop_length=256`` (46-ms frames, 0–11 kHz: the course's STFT;
    Jansson used 8 kHz, the seed project 11.025 kHz — 22.05 kHz keeps cymbals and sibilants); 128 frames (1.5 s of
    context, against the spectrogram FNN's 80 ms); ``base_filters=8`` and ``depth=5`` (8…128 filters, about 0.8 M
    parameters, a 3-MB checkpoint that trains on a laptop CPU) instead of Jansson's 16…512 and depth 6 (about 10 M).

    Taught in: notebooks/05_unet_vocals_drums.ipynb

    Parameters
    ----------
    targets : sequence of str
        One head per target; ``("bass",)`` gives a bass separator (its residual is the "bassless" track).
    n_bins : int
        Frequency bins of the input, ``n_fft // 2 + 1``; ``n_bins - 1`` must be divisible by ``2 ** depth``.
    n_frames : int
        Frames per patch; divisible by ``2 ** depth``.
    base_filters, depth, kernel_size : int
    dropout : float in [0, 1)

    Returns
    -------
    model : keras.Model
        Input ``(batch, n_bins, n_frames, 1)`` magnitudes; outputs ``{target: (batch, n_bins, n_frames, 1)}``.

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

    from helpers.data import check_targets

    targets = check_targets(targets)
    if depth < 1 or base_filters < 1 or kernel_size < 1 or not 0 <= dropout < 1:
        raise ParameterError(f"depth={depth}, base_filters={base_filters}, kernel_size={kernel_size}, "
                             f"dropout={dropout} are out of range")
    scale = 2 ** depth
    if (n_bins - 1) % scale or n_frames % scale:
        raise ParameterError(f"n_bins - 1 = {n_bins - 1} and n_frames = {n_frames} must be divisible by "
                             f"2 ** depth = {scale}")
    inputs = keras.Input((n_bins, n_frames, 1), name="mixture_magnitude")
    x = layers.Cropping2D(((0, 1), (0, 0)), name="drop_nyquist")(inputs)
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
        mask = layers.ZeroPadding2D(((0, 1), (0, 0)), name=f"{target}_mask_full")(mask)
        outputs[target] = layers.Multiply(name=target)([mask, inputs])
    return keras.Model(inputs, outputs, name="unet_" + "_".join(targets))


def unet_mask_model(model, targets=None):
    """The sub-network of a :func:`unet` that outputs the masks themselves instead of masked magnitudes.

    Shares the weights (no copy); used by :mod:`helpers.separate`, which applies the masks to complex STFTs.

    Taught in: notebooks/06_separate_your_song.ipynb

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


def unet_masks(model, magnitude: np.ndarray, n_frames: int | None = None, batch_size: int = 8) -> dict:
    """Predict each target's mask for a whole magnitude spectrogram, patch by patch (no overlap).

    The spectrogram is cut into ``n_frames``-frame patches (the last zero-padded), each channel separately.

    Taught in: notebooks/05_unet_vocals_drums.ipynb

    Parameters
    ----------
    model : keras.Model
        From :func:`unet`.
    magnitude : np.ndarray [shape=(..., n_bins, n_total_frames)]
    n_frames : int or None
        Patch length; ``None`` reads it from the model's input.
    batch_size : int

    Returns
    -------
    masks : dict[str, np.ndarray [shape=magnitude.shape]], values in [0, 1]
    """
    n_frames = n_frames or model.input_shape[2]
    magnitude = np.asarray(magnitude, dtype=np.float32)
    lead, (n_bins, total) = magnitude.shape[:-2], magnitude.shape[-2:]
    flat = magnitude.reshape(-1, n_bins, total)
    n_patches = int(np.ceil(total / n_frames))
    padded = np.zeros((flat.shape[0], n_bins, n_patches * n_frames), dtype=np.float32)
    padded[..., :total] = flat
    patches = padded.reshape(flat.shape[0], n_bins, n_patches, n_frames).transpose(0, 2, 1, 3)
    patches = patches.reshape(-1, n_bins, n_frames, 1)
    predictions = model.predict(patches, batch_size=batch_size, verbose=0)
    masks = {}
    for target, estimate in predictions.items():
        mask = estimate[..., 0] / np.maximum(patches[..., 0], 1e-8)
        mask = np.where(patches[..., 0] > 1e-8, mask, 0.0).clip(0, 1)
        mask = mask.reshape(flat.shape[0], n_patches, n_bins, n_frames).transpose(0, 2, 1, 3)
        masks[target] = mask.reshape(flat.shape[0], n_bins, -1)[..., :total].reshape(lead + (n_bins, total))
    return masks
