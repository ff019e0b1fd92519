"""Figures used across the notebooks (matplotlib and ``librosa.display``).

Each function draws on an ``ax`` (created when not given) and returns it, so notebooks can compose figures.

Taught in: notebooks/00_setup_check.ipynb, notebooks/01_waveforms_and_mixtures.ipynb, notebooks/03_stft.ipynb
"""

from __future__ import annotations

import matplotlib.pyplot as plt
import numpy as np

from helpers import spectral


def spectrogram(
    audio: np.ndarray,
    sample_rate: int,
    n_fft: int = spectral.N_FFT,
    hop_length: int = spectral.HOP_LENGTH,
    y_axis: str = "log",
    top_db: float = 80.0,
    ax=None,
    title: str | None = None,
):
    """Plot the dB magnitude spectrogram of a mono signal.

    Taught in: notebooks/00_setup_check.ipynb, notebooks/03_stft.ipynb

    Parameters
    ----------
    audio : np.ndarray [shape=(n_samples,) or (n_channels, n_samples)]
        Multichannel input is averaged to mono first.
    sample_rate : int > 0
        In Hz.
    n_fft, hop_length : int
        STFT parameters, in samples.
    y_axis : str
        ``"log"``, ``"linear"`` or ``"mel"``-style axes of ``librosa.display.specshow``.
    top_db : float > 0
        Dynamic range shown, in dB below the peak.
    ax : matplotlib.axes.Axes or None
    title : str or None

    Returns
    -------
    ax : matplotlib.axes.Axes
        Its first image is the spectrogram (``ax.images`` or ``ax.collections``).
    """
    import librosa
    import librosa.display

    audio = np.asarray(audio)
    if audio.ndim == 2:
        audio = audio.mean(axis=0)
    magnitude = np.abs(spectral.stft(audio, n_fft=n_fft, hop_length=hop_length))
    magnitude_db = librosa.amplitude_to_db(magnitude, ref=np.max, top_db=top_db)
    if ax is None:
        _, ax = plt.subplots(figsize=(8, 3))
    mesh = librosa.display.specshow(
        magnitude_db, sr=sample_rate, hop_length=hop_length, n_fft=n_fft, x_axis="time", y_axis=y_axis, ax=ax,
        cmap="magma", vmin=-top_db, vmax=0,
    )
    ax.figure.colorbar(mesh, ax=ax, format="%+2.0f dB")
    if title:
        ax.set_title(title)
    return ax


def waveforms(signals: dict, sample_rate: int, axes=None, max_points: int = 20000):
    """Plot one waveform per row, on a shared time axis in seconds.

    Taught in: notebooks/01_waveforms_and_mixtures.ipynb

    Parameters
    ----------
    signals : dict[str, np.ndarray [shape=(n_samples,) or (n_channels, n_samples)]]
        Name → signal; multichannel signals are averaged to mono for the plot.
    sample_rate : int > 0
        In Hz.
    axes : sequence of matplotlib.axes.Axes or None
    max_points : int
        Signals are decimated for drawing speed (the plot, not the audio).

    Returns
    -------
    axes : np.ndarray of matplotlib.axes.Axes
    """
    if axes is None:
        _, axes = plt.subplots(len(signals), 1, figsize=(9, 1.4 * len(signals) + 0.4), sharex=True, sharey=True,
                               squeeze=False)
        axes = axes[:, 0]
    for ax, (name, signal) in zip(axes, signals.items()):
        signal = np.asarray(signal)
        if signal.ndim == 2:
            signal = signal.mean(axis=0)
        step = max(1, signal.shape[-1] // max_points)
        t = np.arange(0, signal.shape[-1], step) / sample_rate
        ax.plot(t, signal[::step], lw=0.6)
        ax.set_ylabel(name, rotation=0, ha="right", va="center")
        ax.set_ylim(-1, 1)
    axes[-1].set_xlabel("time (s)")
    return np.asarray(axes)
