"""Figures used across the notebooks (matplotlib and ``librosa.display``).

Each function draws on an ``ax`` (created when not given) and returns it, so notebooks can compose figures.

Taught in: notebooks/00_setup_check.ipynb, notebooks/01_waveforms_and_mixtures.ipynb, notebooks/03_stft.ipynb
"""

from __future__ import annotations

import matplotlib.pyplot as plt
import numpy as np

from helpers import spectral
from helpers.config import HOP_LENGTH, N_FFT
from helpers.segments import crossfade_weights, segment_starts


def spectrogram(
    audio: np.ndarray,
    sample_rate: int,
    *,
    n_fft: int = N_FFT,
    hop_length: int = HOP_LENGTH,
    y_axis: str = "log",
    top_db: float = 80.0,
    ax=None,
    title: str | None = None,
):
    """Plot the dB magnitude spectrogram of a mono signal.

    Taught in: notebooks/00_setup_check.ipynb, notebooks/03_stft.ipynb, notebooks/06_separate_your_song.ipynb

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


def waveforms(signals: dict, sample_rate: int, *, axes=None, max_points: int = 20000):
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


def unet_diagram(model, *, ax=None):
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


def crossfade_segments(mixture: np.ndarray, sample_rate: int, *, segment_length: int, overlap_length: int,
                       model_rate: int, seconds: float = 6.0, axes=None):
    """Draw how a song is cut into overlapping segments and cross-faded (the start of the song).

    Top: the waveform with each segment's span. Bottom: each segment's cross-fade weight and their sum (one).

    Taught in: notebooks/06_separate_your_song.ipynb

    Parameters
    ----------
    mixture : np.ndarray [shape=(n_samples,) or (n_channels, n_samples)]
    sample_rate : int > 0
        Of ``mixture``, in Hz.
    segment_length, overlap_length : int
        Segment and overlap lengths in samples at ``model_rate`` (see :class:`helpers.separation.Separator`).
    model_rate : int > 0
        The model's rate in Hz.
    seconds : float > 0
        How much of the song to draw.
    axes : pair of matplotlib.axes.Axes or None

    Returns
    -------
    axes : np.ndarray of 2 matplotlib.axes.Axes
        The bottom one has one line per segment plus the sum (``axes[1].lines``).
    """
    if axes is None:
        _, axes = plt.subplots(2, 1, figsize=(10, 4), sharex=True, gridspec_kw={"height_ratios": [1.3, 1]})
    mixture = np.asarray(mixture)
    mono = mixture.mean(axis=0) if mixture.ndim == 2 else mixture
    n_shown = min(mono.size, int(seconds * sample_rate))
    step = max(1, n_shown // 20000)
    axes[0].plot(np.arange(0, n_shown, step) / sample_rate, mono[:n_shown:step], lw=0.5, color="0.4")
    weights = crossfade_weights(segment_length, overlap_length)
    end = int(seconds * model_rate)
    starts = [s for s in segment_starts(end, segment_length=segment_length, overlap_length=overlap_length) if s < end]
    total = np.zeros(end + segment_length + overlap_length)
    for i, start in enumerate(starts):
        color = f"C{i % 10}"
        t0, t1 = start / model_rate, (start + segment_length) / model_rate
        axes[0].axvspan(max(t0, 0), t1, ymin=0.05 + 0.45 * (i % 2), ymax=0.5 + 0.45 * (i % 2), color=color,
                        alpha=0.25, lw=0)
        t = (start + np.arange(segment_length)) / model_rate
        axes[1].plot(t, weights, color=color, lw=1.2)
        total[start + overlap_length:start + overlap_length + segment_length] += weights
    axes[1].plot(np.arange(end) / model_rate, total[overlap_length:overlap_length + end], "k--", lw=1,
                 label="sum of the weights")
    axes[0].set(ylabel="mixture", title=f"segments of {segment_length / model_rate:.2f} s, "
                f"overlap {overlap_length / model_rate:.2f} s ({100 * overlap_length / segment_length:.0f} %)")
    axes[1].set(xlabel="time (s)", ylabel="cross-fade weight", ylim=(-0.05, 1.15), xlim=(0, seconds))
    axes[1].legend(loc="lower right", fontsize=8)
    return np.asarray(axes)
