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
