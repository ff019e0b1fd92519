"""The feed-forward networks of notebooks 02 and 04, and the loops that run them over a whole signal.

- :func:`waveform_fnn`: a mixture frame in, one frame per source out, all in the time domain (notebook 02);
  :func:`separate_waveform` frames a signal, predicts and overlap-adds. It carries no settings and is not
  registered: notebook 02 trains it in place.
- :func:`spectrogram_fnn`: a context of magnitude frames in, one masked magnitude frame per target out
  (notebook 04); :func:`separate_spectrogram_fnn` runs it frame by frame over a whole STFT. Registered as
  ``"spectrogram_fnn"`` so that :func:`helpers.models.save` and :func:`helpers.models.load` handle it; it declares
  no separator input, since it sees single frames, not segments.

Taught in: notebooks/02_waveform_fnn.ipynb, notebooks/04_masks_and_spectrogram_fnn.ipynb
"""

from __future__ import annotations

import keras
import numpy as np
import scipy.signal

from helpers import data, spectral
from helpers.config import DEFAULT_TARGETS, DUET_SOURCES, HOP_LENGTH, N_FFT, SAMPLE_RATE, WINDOW, check_targets
from helpers.exceptions import ParameterError, check_int
from helpers.models.base import SETTINGS_LAYER, Architecture, AudioSettings, Log1p, check_stft, register, settings


def waveform_fnn(frame_length: int = 512, sources=DUET_SOURCES, hidden=(1024, 1024)):
    """A feed-forward network from a mixture frame to one frame per source, all in the time domain.

    Each output is a linear layer of ``frame_length`` samples; the frames are put back together by
    :func:`separate_waveform` (windowed overlap-add). Notebook 02 trains it in place and never
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


def separate_waveform(model, mixture: np.ndarray, *, frame_length: int, hop_length: int) -> dict:
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
    if hop_length * 2 != frame_length:
        raise ParameterError(f"hop_length={hop_length} must be frame_length / 2 = {frame_length / 2}")
    n = mixture.shape[-1]
    n_padded = int(np.ceil((n + 2 * frame_length) / hop_length)) * hop_length
    padded = np.zeros(n_padded, dtype=np.float32)
    padded[frame_length : frame_length + n] = mixture
    x, _ = data.waveform_frames(padded, frame_length=frame_length, hop_length=hop_length)
    predictions = model.predict(x, batch_size=256, verbose=0)
    window = scipy.signal.get_window("hann", frame_length).astype(np.float32)
    return {name: spectral.overlap_add(frames * window, hop_length=hop_length)[frame_length : frame_length + n]
            for name, frames in predictions.items()}


@keras.saving.register_keras_serializable(package="helpers")
class CentreFrame(keras.layers.Layer):
    """Select the centre frame of a context window: ``(batch, 2c + 1, n_bins) -> (batch, n_bins)``.

    Used by: helpers.models.fnn.spectrogram_fnn
    """

    def __init__(self, context: int, **kwargs):
        super().__init__(**kwargs)
        self.context = int(context)

    def call(self, inputs):
        return inputs[:, self.context, :]

    def get_config(self):
        return {**super().get_config(), "context": self.context}


def spectrogram_fnn(targets=DEFAULT_TARGETS, context: int = 3, hidden=(512, 512), dropout: float = 0.2,
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
    n_fft, hop_length = check_stft(sample_rate, n_fft, hop_length)
    if not hidden or not 0 <= dropout < 1:
        raise ParameterError(f"hidden={hidden} and dropout={dropout} are out of range")
    for width in hidden:
        check_int("hidden width", width)
    stored = {"architecture": "spectrogram_fnn", "sample_rate": int(sample_rate), "n_fft": n_fft,
              "hop_length": hop_length, "window": window, "context": context, "targets": list(targets),
              "arguments": {"hidden": [int(w) for w in hidden], "dropout": float(dropout)}}
    inputs = keras.Input((2 * context + 1, n_fft // 2 + 1), name="mixture_magnitude")
    magnitude = AudioSettings(stored, name=SETTINGS_LAYER)(inputs)
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


def separate_spectrogram_fnn(model, mixture: np.ndarray) -> dict:
    """Separate a (multichannel) mixture with the spectrogram FNN: each channel's STFT, masked, with its own phase.

    Taught in: notebooks/04_masks_and_spectrogram_fnn.ipynb

    Parameters
    ----------
    model : keras.Model
        From :func:`spectrogram_fnn`; its settings give the STFT and the context.
    mixture : np.ndarray [shape=(n_channels, n_samples) or (n_samples,)]
        At the model's sample rate.

    Returns
    -------
    estimates : dict[str, np.ndarray [shape=mixture.shape]], float32
    """
    stored = settings(model)
    n_fft, hop_length, window = stored["n_fft"], stored["hop_length"], stored["window"]
    mixture_stft = spectral.stft(mixture, n_fft=n_fft, hop_length=hop_length, window=window)
    magnitude = np.abs(mixture_stft)
    windows = data.context_windows(magnitude, context=stored["context"])  # (..., n_frames, 2c+1, n_bins)
    predictions = model.predict(windows.reshape(-1, *windows.shape[-2:]), batch_size=1024, verbose=0)
    estimates = {}
    for target, estimate in predictions.items():
        estimate = np.swapaxes(estimate.reshape(windows.shape[:-2] + (windows.shape[-1],)), -1, -2)
        mask = np.where(magnitude > 0, np.minimum(estimate, magnitude) / np.maximum(magnitude, 1e-30), 0.0)
        estimates[target] = spectral.istft(mask * mixture_stft, hop_length=hop_length, window=window,
                                           length=mixture.shape[-1])  # the masked STFT: the mixture's phase
    return estimates


#: The spectrogram FNN's declaration: saved and loaded like any model, run by :func:`separate_spectrogram_fnn`
#: (frames, not segments: the separator does not run it), trained in notebook 04.
SPECTROGRAM_FNN = register(Architecture(
    name="spectrogram_fnn", builder=spectrogram_fnn,
    settings=("sample_rate", "n_fft", "hop_length", "window", "targets", "context"), input=None, output="magnitude",
    title="spectrogram FNN"))
