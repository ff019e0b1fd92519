"""Short-time Fourier transforms: NumPy (librosa) and TensorFlow twins with the same conventions.

Conventions everywhere in the course: a Hann window (periodic, as in ``scipy.signal.get_window``),
``center=True`` with zero padding of ``n_fft // 2`` on both sides, and librosa's layout
``(..., n_bins, n_frames)`` with ``n_bins = n_fft // 2 + 1``. The TensorFlow versions return the same layout,
so models and notebooks can move between them; their agreement is tested.

Taught in: notebooks/03_stft.ipynb (first used in notebooks/00_setup_check.ipynb)

References
----------
.. [1] Allen, "Short time spectral analysis, synthesis, and modification by discrete Fourier transform",
   IEEE Trans. ASSP 25(3), 1977.
.. [2] Müller, *Fundamentals of Music Processing*, 2nd ed., Springer 2021, Section 2.5.
"""

from __future__ import annotations

import numpy as np

from helpers.exceptions import ParameterError

#: Course defaults (see notebooks/03_stft.ipynb for the trade-offs).
SAMPLE_RATE = 22050
N_FFT = 1024
HOP_LENGTH = 256
WINDOW = "hann"


def _check_frame_params(n_fft, hop_length):
    if not isinstance(n_fft, (int, np.integer)) or n_fft < 2:
        raise ParameterError(f"n_fft={n_fft!r} must be an integer >= 2")
    if not isinstance(hop_length, (int, np.integer)) or hop_length <= 0:
        raise ParameterError(f"hop_length={hop_length!r} must be a positive integer")
    if hop_length > n_fft:
        raise ParameterError(f"hop_length={hop_length} must not exceed n_fft={n_fft}")


def stft(audio: np.ndarray, n_fft: int = N_FFT, hop_length: int = HOP_LENGTH, window: str = WINDOW) -> np.ndarray:
    """Compute the short-time Fourier transform of a signal (librosa, course conventions).

    Taught in: notebooks/03_stft.ipynb

    Parameters
    ----------
    audio : np.ndarray [shape=(..., n_samples)], real
    n_fft : int >= 2
        FFT size in samples (also the window length).
    hop_length : int in (0, n_fft]
        Samples between successive frames.
    window : str
        A window name understood by ``scipy.signal.get_window``.

    Returns
    -------
    stft_matrix : np.ndarray [shape=(..., n_fft // 2 + 1, n_frames), dtype=complex64]
        ``n_frames = 1 + n_samples // hop_length``.

    Raises
    ------
    ParameterError
        If ``n_fft`` or ``hop_length`` are invalid.
    """
    import librosa

    _check_frame_params(n_fft, hop_length)
    audio = np.asarray(audio, dtype=np.float32)
    return librosa.stft(audio, n_fft=n_fft, hop_length=hop_length, window=window, center=True, pad_mode="constant")


def istft(
    stft_matrix: np.ndarray,
    hop_length: int = HOP_LENGTH,
    window: str = WINDOW,
    length: int | None = None,
) -> np.ndarray:
    """Invert an STFT by weighted overlap-add (librosa, course conventions).

    Exact reconstruction needs the window to satisfy the overlap-add condition; for Hann this holds for
    ``hop_length <= n_fft / 4`` with librosa's window-sum normalisation (and ``n_fft / 2`` without it).

    Taught in: notebooks/03_stft.ipynb

    Parameters
    ----------
    stft_matrix : np.ndarray [shape=(..., n_bins, n_frames), dtype=complex]
    hop_length : int > 0
    window : str
    length : int > 0 or None
        Trim or pad the output to exactly this many samples (use the original signal's length).

    Returns
    -------
    audio : np.ndarray [shape=(..., n_samples)], float32

    Raises
    ------
    ParameterError
        If ``stft_matrix`` has fewer than two dimensions or ``hop_length`` is invalid.
    """
    import librosa

    stft_matrix = np.asarray(stft_matrix)
    if stft_matrix.ndim < 2:
        raise ParameterError(f"stft_matrix must have shape (..., n_bins, n_frames), got shape={stft_matrix.shape}")
    n_fft = 2 * (stft_matrix.shape[-2] - 1)
    _check_frame_params(n_fft, hop_length)
    audio = librosa.istft(stft_matrix, hop_length=hop_length, n_fft=n_fft, window=window, center=True, length=length)
    return audio.astype(np.float32)


def magphase(stft_matrix: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Split an STFT into magnitude and phase, so that ``stft_matrix == magnitude * phase``.

    Taught in: notebooks/03_stft.ipynb

    Parameters
    ----------
    stft_matrix : np.ndarray [shape=(..., n_bins, n_frames), dtype=complex]

    Returns
    -------
    magnitude : np.ndarray [shape=stft_matrix.shape], float, >= 0
    phase : np.ndarray [shape=stft_matrix.shape], complex, unit modulus
        ``exp(1j * angle)``; where the magnitude is 0 the phase is 1 (angle 0), as in ``librosa.magphase``.
    """
    stft_matrix = np.asarray(stft_matrix)
    magnitude = np.abs(stft_matrix)
    safe = np.where(magnitude > 0, magnitude, 1.0)
    phase = np.where(magnitude > 0, stft_matrix / safe, 1.0 + 0.0j).astype(stft_matrix.dtype)
    return magnitude, phase


def frames_to_seconds(frames, sample_rate: int = SAMPLE_RATE, hop_length: int = HOP_LENGTH):
    """Convert frame indices to the times (s) of their centres (``center=True`` STFT).

    Taught in: notebooks/03_stft.ipynb

    Parameters
    ----------
    frames : int or np.ndarray
    sample_rate : int > 0
        In Hz.
    hop_length : int > 0
        In samples.

    Returns
    -------
    seconds : float or np.ndarray
        ``frames * hop_length / sample_rate``, as ``librosa.frames_to_time``.
    """
    if sample_rate <= 0 or hop_length <= 0:
        raise ParameterError(f"sample_rate={sample_rate} and hop_length={hop_length} must be positive")
    return np.asarray(frames) * hop_length / sample_rate


def seconds_to_frames(seconds, sample_rate: int = SAMPLE_RATE, hop_length: int = HOP_LENGTH):
    """Convert times (s) to the index of the frame whose centre is at or before them.

    Taught in: notebooks/03_stft.ipynb

    Parameters
    ----------
    seconds : float or np.ndarray
    sample_rate : int > 0
        In Hz.
    hop_length : int > 0
        In samples.

    Returns
    -------
    frames : int or np.ndarray of int
        ``floor(seconds * sample_rate / hop_length)``, as ``librosa.time_to_frames``.
    """
    if sample_rate <= 0 or hop_length <= 0:
        raise ParameterError(f"sample_rate={sample_rate} and hop_length={hop_length} must be positive")
    return np.floor(np.asarray(seconds) * sample_rate / hop_length).astype(int)


def tf_stft(audio, n_fft: int = N_FFT, hop_length: int = HOP_LENGTH):
    """TensorFlow twin of :func:`stft`: Hann window, centred, zero-padded, layout ``(..., n_bins, n_frames)``.

    Used inside models and ``tf.data`` pipelines, where the STFT must run in the graph.

    Taught in: notebooks/03_stft.ipynb

    Parameters
    ----------
    audio : tf.Tensor or np.ndarray [shape=(..., n_samples)], float32
    n_fft : int >= 2
    hop_length : int in (0, n_fft]

    Returns
    -------
    stft_matrix : tf.Tensor [shape=(..., n_fft // 2 + 1, n_frames), dtype=complex64]

    Raises
    ------
    ParameterError
        If ``n_fft`` or ``hop_length`` are invalid.
    """
    import tensorflow as tf

    _check_frame_params(n_fft, hop_length)
    audio = tf.convert_to_tensor(audio, dtype=tf.float32)
    pad = n_fft // 2
    paddings = [[0, 0]] * (audio.shape.rank - 1) + [[pad, pad]]
    padded = tf.pad(audio, paddings)
    spec = tf.signal.stft(
        padded, frame_length=n_fft, frame_step=hop_length, fft_length=n_fft,
        window_fn=tf.signal.hann_window, pad_end=False,
    )  # (..., n_frames, n_bins)
    return tf.linalg.matrix_transpose(spec)


def tf_istft(stft_matrix, hop_length: int = HOP_LENGTH, length: int | None = None):
    """TensorFlow twin of :func:`istft`: windowed overlap-add divided by the summed squared window.

    The normalisation uses the actual window-square sum at every sample (as librosa does), so the edges of a
    centred STFT are reconstructed exactly too, unlike ``tf.signal.inverse_stft_window_fn`` which assumes full
    overlap.

    Taught in: notebooks/03_stft.ipynb

    Parameters
    ----------
    stft_matrix : tf.Tensor [shape=(..., n_bins, n_frames), dtype=complex64]
    hop_length : int > 0
    length : int > 0 or None
        Output length in samples; ``None`` gives ``hop_length * (n_frames - 1)``.

    Returns
    -------
    audio : tf.Tensor [shape=(..., n_samples)], float32

    Raises
    ------
    ParameterError
        If ``hop_length`` is invalid for the implied ``n_fft``.
    """
    import tensorflow as tf

    stft_matrix = tf.convert_to_tensor(stft_matrix, dtype=tf.complex64)
    n_bins, n_frames = stft_matrix.shape[-2], stft_matrix.shape[-1]
    n_fft = 2 * (n_bins - 1)
    _check_frame_params(n_fft, hop_length)
    window = tf.signal.hann_window(n_fft, periodic=True)
    frames = tf.signal.irfft(tf.linalg.matrix_transpose(stft_matrix), fft_length=[n_fft]) * window
    signal = tf.signal.overlap_and_add(frames, hop_length)
    envelope = tf.signal.overlap_and_add(tf.tile(window[None, :] ** 2, [n_frames, 1]), hop_length)
    signal = signal / tf.where(envelope > 1e-10, envelope, tf.ones_like(envelope))
    pad = n_fft // 2
    n_out = hop_length * (n_frames - 1) if length is None else int(length)
    signal = signal[..., pad : pad + n_out]
    missing = n_out - signal.shape[-1]
    if missing > 0:
        signal = tf.pad(signal, [[0, 0]] * (signal.shape.rank - 1) + [[0, missing]])
    return signal


def frame_signal(audio: np.ndarray, frame_length: int, hop_length: int) -> np.ndarray:
    """Cut a signal into overlapping frames (no padding: frames that would run past the end are dropped).

    The first step of the STFT, and how notebook 02 feeds waveforms to a network. Agrees with
    ``librosa.util.frame`` (whose layout puts frames last).

    Taught in: notebooks/02_waveform_fnn.ipynb, notebooks/03_stft.ipynb

    Parameters
    ----------
    audio : np.ndarray [shape=(n_samples,)]
    frame_length, hop_length : int > 0
        Samples.

    Returns
    -------
    frames : np.ndarray [shape=(n_frames, frame_length)]
        ``n_frames = 1 + (n_samples - frame_length) // hop_length``; a copy.

    Raises
    ------
    ParameterError
        If the parameters are not positive integers or the signal is shorter than one frame.
    """
    audio = np.asarray(audio)
    for name, value in (("frame_length", frame_length), ("hop_length", hop_length)):
        if not isinstance(value, (int, np.integer)) or value <= 0:
            raise ParameterError(f"{name}={value!r} must be a positive integer")
    if audio.ndim != 1 or audio.shape[0] < frame_length:
        raise ParameterError(f"audio of shape={audio.shape} must be 1-D and at least frame_length={frame_length} long")
    n_frames = 1 + (audio.shape[0] - frame_length) // hop_length
    index = np.arange(frame_length)[None, :] + hop_length * np.arange(n_frames)[:, None]
    return audio[index]


def overlap_add(frames: np.ndarray, hop_length: int) -> np.ndarray:
    """Sum frames back into a signal, each shifted by ``hop_length`` from the last (overlap-add).

    With a window ``w`` whose shifted copies sum to 1 (e.g. a periodic Hann at ``hop_length = frame_length / 2``),
    ``overlap_add(w * frame_signal(x))`` gives back ``x`` away from the edges.

    Taught in: notebooks/02_waveform_fnn.ipynb, notebooks/03_stft.ipynb

    Parameters
    ----------
    frames : np.ndarray [shape=(..., n_frames, frame_length)]
    hop_length : int > 0

    Returns
    -------
    audio : np.ndarray [shape=(..., (n_frames - 1) * hop_length + frame_length)]
    """
    frames = np.asarray(frames)
    if not isinstance(hop_length, (int, np.integer)) or hop_length <= 0:
        raise ParameterError(f"hop_length={hop_length!r} must be a positive integer")
    n_frames, frame_length = frames.shape[-2:]
    out = np.zeros(frames.shape[:-2] + ((n_frames - 1) * hop_length + frame_length,), dtype=frames.dtype)
    for i in range(n_frames):
        out[..., i * hop_length : i * hop_length + frame_length] += frames[..., i, :]
    return out
