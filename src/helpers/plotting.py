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


def unet_diagram(model, ax=None):
    """Draw a U-Net built by :func:`helpers.models.unet` as a "U": encoder down the left, decoder up the right,
    skip connections across, one mask head per target at the top right. Shapes are read from the model.

    Taught in: notebooks/05_unet_vocals_drums.ipynb

    Parameters
    ----------
    model : keras.Model
    ax : matplotlib.axes.Axes or None

    Returns
    -------
    ax : matplotlib.axes.Axes
        One text box per layer block (``ax.texts``).
    """
    from matplotlib.patches import FancyArrowPatch

    names = [layer.name for layer in model.layers]
    depth = sum(1 for n in names if n.startswith("encoder_") and n[8:].isdigit())
    heads = [n[: -len("_mask")] for n in names if n.endswith("_mask")]
    if ax is None:
        _, ax = plt.subplots(figsize=(11, 0.9 * depth + 3))

    def shape(name):
        return "×".join(str(d) for d in model.get_layer(name).output.shape[1:])

    def box(x, y, text, color):
        ax.text(x, y, text, ha="center", va="center", fontsize=8,
                bbox=dict(boxstyle="round,pad=0.4", fc=color, ec="0.3"))

    def arrow(start, end, **kwargs):
        ax.add_patch(FancyArrowPatch(start, end, arrowstyle="-|>", mutation_scale=10, color="0.35", **kwargs))

    top = 1.2
    box(0, top, f"mixture magnitude\n{shape('mixture_magnitude')}\n→ crop Nyquist, log1p", "#e8e8e8")
    for level in range(depth):
        y = -level
        box(0, y, f"conv 5×5 /2, BN, LReLU\n{shape(f'encoder_{level}')}", "#cfe2f3")
        arrow((0, (top if level == 0 else y + 1) - 0.3), (0, y + 0.3))
        dropout = " + dropout" if depth - 1 - level < 3 else ""
        box(4, y + 1, f"deconv 5×5 ×2, BN, ReLU{dropout}\n{shape(f'decoder_{level}')}", "#d9ead3")
        if level < depth - 1:
            arrow((0.9, y), (3.1, y), linestyle="--")  # skip connection into the decoder block above
    arrow((0.9, -(depth - 1)), (3.1, -(depth - 2)))  # bottleneck into the first decoder block
    for level in range(depth - 1, 0, -1):
        arrow((4, level * -1 + 1 + 0.3), (4, level * -1 + 2 - 0.3))
    for i, target in enumerate(heads):
        box(6.6, top - 1.1 * i, f"{target}: conv 3×3, sigmoid\n= mask, × mixture\n{shape(target)}", "#fce5cd")
        arrow((4.9, 1), (5.6, top - 1.1 * i))
    ax.text(2, -depth + 0.4, "skip connections (dashed): encoder features join the decoder at the same resolution",
            ha="center", fontsize=8, color="0.35")
    ax.set_xlim(-1.4, 8)
    ax.set_ylim(-depth + 0.1, top + 0.8)
    ax.axis("off")
    ax.set_title(f"{model.name}: {model.count_params():,} parameters, layout (n_bins, n_frames, channels)")
    return ax
