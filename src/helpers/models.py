"""The course's networks, in Keras 3 (layers and ``keras.ops`` only, so they build under any backend).

Taught in: notebooks/02_waveform_fnn.ipynb
"""

from __future__ import annotations

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
    import keras

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
    import keras

    if n_bins <= 0 or not hidden or min(hidden) <= 0 or not 0 <= dropout < 1:
        raise ParameterError(f"n_bins={n_bins}, hidden={hidden}, dropout={dropout} are out of range")
    inputs = keras.Input((2 * context + 1, n_bins), name="mixture_magnitude")
    centre = keras.layers.Lambda(lambda m: m[:, context, :], name="centre_frame")(inputs)
    x = keras.layers.Lambda(lambda m: keras.ops.log1p(m), name="log1p")(inputs)
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
