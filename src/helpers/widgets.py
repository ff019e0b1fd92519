"""Listening and exploring in the notebook: player tables now, interactive widgets as the course grows.

The logic behind every widget is a plain function (e.g. :func:`mix_stems`, :func:`stft_view`), unit-tested without
a browser; the widget only wires it to controls. Players' audio is encoded by :func:`helpers.audio.ogg_bytes` and
:func:`helpers.audio.wav_bytes`.

Taught in: notebooks/00_setup_check.ipynb, notebooks/01_waveforms_and_mixtures.ipynb
"""

from __future__ import annotations

import base64
import html
import io

import numpy as np

from helpers import evaluation, masks, spectral
from helpers.audio import ogg_bytes, validate_audio, wav_bytes
from helpers.config import HOP_LENGTH, N_FFT, SAMPLE_RATE, STEMS
from helpers.exceptions import ParameterError


def players(signals: dict, sample_rate: int):
    """A labelled table of audio players: one row per signal with its name, duration and channels.

    Taught in: notebooks/00_setup_check.ipynb, notebooks/01_waveforms_and_mixtures.ipynb,
    notebooks/02_waveform_fnn.ipynb, notebooks/03_stft.ipynb, notebooks/04_masks_and_spectrogram_fnn.ipynb,
    notebooks/05_unet_vocals_drums.ipynb, notebooks/06_separate_your_song.ipynb, notebooks/07_time_domain.ipynb

    Parameters
    ----------
    signals : dict[str, np.ndarray [shape=(n_samples,) or (n_channels, n_samples)]]
        Name → signal, in display order.
    sample_rate : int > 0
        In Hz, shared by all signals.

    Returns
    -------
    table : IPython.display.HTML
        Displays as an HTML table with an ``<audio>`` element per row. The audio is embedded as Ogg Vorbis
        (:func:`ogg_bytes`), so it plays in JupyterLab, Colab and exported HTML alike, and an executed notebook stays
        a tenth of the size WAV would make it.

    Raises
    ------
    ParameterError
        If ``signals`` is empty or any signal is invalid (the message names it).
    """
    from IPython.display import HTML

    if not signals:
        raise ParameterError("signals is empty; pass a dict of name -> audio")
    rows = []
    for name, audio in signals.items():
        try:
            data = base64.b64encode(ogg_bytes(np.asarray(audio), sample_rate)).decode("ascii")
        except ParameterError as exc:
            raise ParameterError(f"signal {name!r}: {exc}") from None
        n_channels = 1 if np.ndim(audio) == 1 else np.shape(audio)[0]
        seconds = np.shape(audio)[-1] / sample_rate
        rows.append(
            f"<tr><td style='text-align:left'><b>{html.escape(str(name))}</b></td><td>{seconds:.2f} s</td>"
            f"<td>{n_channels} ch</td><td><audio controls preload='none' "
            f"src='data:audio/ogg;base64,{data}'></audio></td></tr>"
        )
    header = "<tr><th>signal</th><th>duration</th><th>channels</th><th>player</th></tr>"
    return HTML(f"<table class='players'>{header}{''.join(rows)}</table>")


def mix_stems(stems: dict, *, gains_db: dict | None = None, muted=(), soloed=()) -> np.ndarray:
    """Sum stems with per-stem gains, mutes and solos: the mixer widget's audio.

    With no gains, mutes or solos the result is the plain sum, i.e. the mixture.

    Used by: helpers.widgets.mixer

    Parameters
    ----------
    stems : dict[str, np.ndarray [shape=(n_channels, n_samples) or (n_samples,)]]
        All the same shape.
    gains_db : dict[str, float] or None
        Gain per stem in dB (missing stems: 0 dB).
    muted, soloed : collections of str
        Muted stems are left out; if any stem is soloed, only soloed stems are kept (solo wins over mute).

    Returns
    -------
    mix : np.ndarray [shape=stems' shape], float32

    Raises
    ------
    ParameterError
        If ``stems`` is empty, shapes differ, or a name in ``gains_db``, ``muted`` or ``soloed`` is not a stem.
    """
    if not stems:
        raise ParameterError("stems is empty")
    shapes = {name: np.shape(s) for name, s in stems.items()}
    if len(set(shapes.values())) != 1:
        raise ParameterError(f"stems must share one shape, got {shapes}")
    gains_db = dict(gains_db or {})
    for name in list(gains_db) + list(muted) + list(soloed):
        if name not in stems:
            raise ParameterError(f"{name!r} is not a stem; stems are {list(stems)}")
    active = [n for n in stems if n in soloed] if soloed else [n for n in stems if n not in muted]
    mix = np.zeros(next(iter(shapes.values())), dtype=np.float32)
    for name in active:
        mix += stems[name] * np.float32(10 ** (gains_db.get(name, 0.0) / 20))
    return mix


def mixer(stems: dict, sample_rate: int):
    """A multitrack mixer: a gain slider (dB) and mute/solo per stem; the sum is re-rendered and played.

    Taught in: notebooks/01_waveforms_and_mixtures.ipynb, notebooks/06_separate_your_song.ipynb

    Parameters
    ----------
    stems : dict[str, np.ndarray [shape=(n_channels, n_samples) or (n_samples,)]]
    sample_rate : int > 0
        In Hz.

    Returns
    -------
    widget : ipywidgets.VBox
        Its ``.update()`` attribute re-renders the mix (called on every control change); ``.audio`` is the
        player widget whose ``value`` holds the current mix as WAV bytes.
    """
    import ipywidgets as w

    rows, gains, mutes, solos = [], {}, {}, {}
    for name in stems:
        gains[name] = w.FloatSlider(value=0.0, min=-30.0, max=12.0, step=1.0, description=name,
                                    continuous_update=False, readout_format=".0f")
        mutes[name] = w.ToggleButton(description="mute", layout=w.Layout(width="70px"))
        solos[name] = w.ToggleButton(description="solo", layout=w.Layout(width="70px"))
        rows.append(w.HBox([gains[name], mutes[name], solos[name], w.Label("dB")]))
    player = w.Audio(format="wav", autoplay=False, loop=False)
    status = w.Label()

    def update(_=None):
        mix = mix_stems(stems, gains_db={n: s.value for n, s in gains.items()},
                        muted=[n for n, b in mutes.items() if b.value], soloed=[n for n, b in solos.items() if b.value])
        peak = float(np.max(np.abs(mix)))
        status.value = f"peak {20 * np.log10(max(peak, 1e-9)):+.1f} dBFS" + ("  (clipping!)" if peak > 1 else "")
        player.value = wav_bytes(mix, sample_rate)

    for control in (*gains.values(), *mutes.values(), *solos.values()):
        control.observe(update, names="value")
    update()
    box = w.VBox(rows + [status, player])
    box.update, box.audio = update, player
    return box


def stft_view(audio: np.ndarray, sample_rate: int, *, n_fft: int, hop_length: int, window: str = "hann",
              top_db: float = 80.0) -> dict:
    """Everything the STFT explorer shows for one setting: dB spectrogram, resolutions, reconstruction and its SNR.

    Used by: helpers.widgets.stft_explorer

    Parameters
    ----------
    audio : np.ndarray [shape=(n_samples,)]
        Mono signal.
    sample_rate : int > 0
        In Hz.
    n_fft, hop_length : int
        Samples.
    window : str
        ``scipy.signal.get_window`` name: ``hann``, ``hamming``, ``blackman``, ``boxcar``...
    top_db : float > 0
        Dynamic range shown.

    Returns
    -------
    view : dict
        ``magnitude_db`` (n_bins, n_frames) in dB re. the peak, clipped at ``-top_db``; ``frame_ms`` (window
        length), ``hop_ms``, ``bin_hz`` (bin spacing); ``reconstruction`` (ISTFT, same length);
        ``snr_db`` (reconstruction SNR, dB; far below ~60 dB means the window/hop pair breaks NOLA, or, at hops
        above ``n_fft / 2``, that the signal's last samples are covered by too few frames).
    """
    validate_audio(audio)
    if audio.ndim != 1:
        raise ParameterError(f"audio must be mono (n_samples,), got shape={audio.shape}")
    stft_matrix = spectral.stft(audio, n_fft=n_fft, hop_length=hop_length, window=window)
    magnitude = np.abs(stft_matrix)
    magnitude_db = 20 * np.log10(np.maximum(magnitude, 1e-10) / max(magnitude.max(), 1e-10))
    reconstruction = spectral.istft(stft_matrix, hop_length=hop_length, window=window, length=audio.shape[-1])
    error = np.sum((audio - reconstruction) ** 2)
    snr = np.inf if error == 0 else 10 * np.log10(np.sum(audio ** 2) / error)
    return {"magnitude_db": np.maximum(magnitude_db, -top_db), "frame_ms": 1000 * n_fft / sample_rate,
            "hop_ms": 1000 * hop_length / sample_rate, "bin_hz": sample_rate / n_fft,
            "reconstruction": reconstruction, "snr_db": float(snr)}


def stft_explorer(excerpts: dict, sample_rate: int):
    """The STFT explorer: pick an excerpt, ``n_fft``, hop, window and dB range; see, measure and hear the result.

    Taught in: notebooks/03_stft.ipynb

    Parameters
    ----------
    excerpts : dict[str, np.ndarray [shape=(n_samples,)]]
        Mono excerpts to choose from (e.g. the mixture and each stem of a track).
    sample_rate : int > 0
        In Hz.

    Returns
    -------
    widget : ipywidgets.VBox
        ``.update()`` redraws (called on every change) and returns the :func:`stft_view` dict; ``.figure`` is the
        matplotlib figure, shown as a PNG in ``.picture`` (an ``ipywidgets.Image``, which every front end renders);
        ``.audio`` the player of the reconstruction.
    """
    import ipywidgets as w
    from matplotlib.figure import Figure

    names = list(excerpts)
    excerpt = w.Dropdown(options=names, description="excerpt")
    n_fft = w.Dropdown(options=[128, 256, 512, 1024, 2048, 4096], value=N_FFT, description="n_fft")
    hop_fraction = w.Dropdown(options=[("n_fft/8", 8), ("n_fft/4", 4), ("n_fft/2", 2), ("3n_fft/4", 4 / 3),
                                       ("n_fft", 1)], value=4, description="hop_length")
    window = w.Dropdown(options=["hann", "hamming", "blackman", "boxcar"], value="hann", description="window")
    top_db = w.IntSlider(value=80, min=20, max=120, step=10, description="dB range", continuous_update=False)
    info = w.HTML()
    player = w.Audio(format="wav", autoplay=False)
    picture = w.Image(format="png")
    figure = Figure(figsize=(9, 3.2))  # not registered with pyplot: it never shows up in another cell's output
    ax = figure.subplots()
    image = None

    def update(_=None):
        nonlocal image
        audio = excerpts[excerpt.value]
        hop = max(1, int(round(n_fft.value / hop_fraction.value)))
        view = stft_view(audio, sample_rate, n_fft=n_fft.value, hop_length=hop, window=window.value,
                         top_db=top_db.value)
        extent = [0, audio.shape[-1] / sample_rate, 0, sample_rate / 2]
        if image is None:
            image = ax.imshow(view["magnitude_db"], origin="lower", aspect="auto", cmap="magma", extent=extent)
            figure.colorbar(image, ax=ax, label="dB")
            ax.set_xlabel("time (s)")
            ax.set_ylabel("frequency (Hz)")
        else:
            image.set_data(view["magnitude_db"])
            image.set_extent(extent)
        image.set_clim(-top_db.value, 0)
        ax.set_title(f"{excerpt.value}: n_fft={n_fft.value}, hop_length={hop}, {window.value}")
        info.value = (f"frame {view['frame_ms']:.1f} ms · hop {view['hop_ms']:.1f} ms · bin spacing "
                      f"{view['bin_hz']:.1f} Hz · reconstruction SNR <b>{view['snr_db']:.1f} dB</b>")
        player.value = wav_bytes(view["reconstruction"], sample_rate)
        picture.value = _png(figure)
        return view

    for control in (excerpt, n_fft, hop_fraction, window, top_db):
        control.observe(update, names="value")
    box = w.VBox([w.HBox([excerpt, n_fft, hop_fraction]), w.HBox([window, top_db]), picture, info, player])
    box.update, box.figure, box.picture, box.audio = update, figure, picture, player
    update()
    return box


def _png(figure) -> bytes:
    """A matplotlib figure as PNG bytes, for an ``ipywidgets.Image`` (which every front end renders)."""
    buffer = io.BytesIO()
    figure.savefig(buffer, format="png", dpi=80, bbox_inches="tight")
    return buffer.getvalue()


def track_picker(tracks, *, stems=STEMS):
    """A track menu over a player table of the chosen track's mixture and stems.

    Taught in: notebooks/01_waveforms_and_mixtures.ipynb

    Parameters
    ----------
    tracks : sequence of musdb.MultiTrack
    stems : sequence of str
        Stems to list under the mixture.

    Returns
    -------
    widget : ipywidgets.VBox
        ``.menu`` is the ``Dropdown`` (value: track index); ``.table`` the ``HTML`` widget holding the players,
        refreshed on every change.

    Raises
    ------
    ParameterError
        If ``tracks`` is empty.
    """
    import ipywidgets as w

    tracks = list(tracks)
    if not tracks:
        raise ParameterError("tracks is empty")
    menu = w.Dropdown(options=[(t.name, i) for i, t in enumerate(tracks)], value=0, description="track")
    table = w.HTML()

    def show(_=None):
        track = tracks[menu.value]
        signals = {"mixture": track.audio.T.astype(np.float32)}
        signals.update({n: track.sources[n].audio.T.astype(np.float32) for n in stems})
        table.value = players(signals, track.rate).data

    menu.observe(show, names="value")
    show()
    box = w.VBox([menu, table])
    box.menu, box.table = menu, table
    return box


MASK_TYPES = ("IBM", "IRM1", "IRM2")


def mask_lab_view(sources_stft: dict, mixture_stft: np.ndarray, references: dict, *, target: str,
                  mask_type: str = "IRM1", exponent: float = 1.0, threshold: float = 0.0,
                  sample_rate: int = SAMPLE_RATE, hop_length: int = HOP_LENGTH, with_sdr: bool = True) -> dict:
    """Everything the mask lab shows for one setting: the mask, the estimate and its scores.

    The ideal mask of the chosen type is raised to ``exponent`` and, when ``threshold > 0``, binarised at it.

    Used by: helpers.widgets.mask_lab

    Parameters
    ----------
    sources_stft : dict[str, np.ndarray [shape=(n_bins, n_frames)]]
        STFTs of all four stems (mono).
    mixture_stft : np.ndarray [shape=(n_bins, n_frames)]
    references : dict[str, np.ndarray [shape=(n_samples,)]]
        Time-domain stems, for scoring; also holds ``"mixture"``.
    target : str
    mask_type : {"IBM", "IRM1", "IRM2"}
    exponent : float > 0
    threshold : float in [0, 1]
        0 keeps the soft mask.
    sample_rate, hop_length : int
    with_sdr : bool
        Also compute museval's SDR (about half a second for 10 s); SI-SDR is always computed.

    Returns
    -------
    view : dict
        ``mask`` (n_bins, n_frames), ``estimate`` (n_samples,), ``si_sdr`` and ``sdr`` (dB; ``sdr`` is None
        without ``with_sdr``).

    Raises
    ------
    ParameterError
        If ``target`` or ``mask_type`` is unknown, or ``exponent``/``threshold`` are out of range.
    """
    if target not in sources_stft:
        raise ParameterError(f"target={target!r} is not one of {list(sources_stft)}")
    if mask_type not in MASK_TYPES:
        raise ParameterError(f"mask_type={mask_type!r} must be one of {MASK_TYPES}")
    ideal = masks.binary_masks(sources_stft) if mask_type == "IBM" else masks.ratio_masks(
        sources_stft, power=1 if mask_type == "IRM1" else 2)
    mask = masks.soft_mask(ideal[target], np.ones_like(ideal[target]), exponent=exponent,
                           threshold=threshold if threshold > 0 else None)
    n = references["mixture"].shape[-1]
    estimate = masks.apply_mask(mask, mixture_stft, hop_length=hop_length, length=n)
    view = {"mask": mask, "estimate": estimate, "si_sdr": evaluation.si_sdr(references[target], estimate),
            "sdr": None}
    if with_sdr:
        if np.any(estimate):
            view["sdr"] = evaluation.bss_eval_target(references[target], estimate, references["mixture"],
                                                     sample_rate)["SDR"]
        else:
            view["sdr"] = float("nan")
    return view


def mask_lab(references: dict, sample_rate: int, *, n_fft: int = N_FFT, hop_length: int = HOP_LENGTH):
    """The mask lab: choose target, mask type, exponent and threshold; hear the estimate and see its scores.

    Taught in: notebooks/04_masks_and_spectrogram_fnn.ipynb

    Parameters
    ----------
    references : dict[str, np.ndarray [shape=(n_samples,)]]
        Mono ``mixture`` and the four stems.
    sample_rate : int
    n_fft, hop_length : int

    Returns
    -------
    widget : ipywidgets.VBox
        ``.update()`` recomputes and returns the :func:`mask_lab_view` dict; ``.audio`` plays the estimate;
        ``.picture`` shows the mask (PNG); ``.scores`` is the HTML read-out.
    """
    import ipywidgets as w
    from matplotlib.figure import Figure

    stems = [k for k in references if k != "mixture"]
    sources_stft = {k: spectral.stft(references[k], n_fft=n_fft, hop_length=hop_length) for k in stems}
    mixture_stft = spectral.stft(references["mixture"], n_fft=n_fft, hop_length=hop_length)
    target = w.Dropdown(options=stems, value=stems[0], description="target")
    mask_type = w.ToggleButtons(options=list(MASK_TYPES), value="IRM1", description="mask")
    exponent = w.FloatLogSlider(value=1.0, base=2, min=-2, max=3, step=0.25, description="exponent",
                                continuous_update=False)
    threshold = w.FloatSlider(value=0.0, min=0.0, max=0.95, step=0.05, description="threshold",
                              continuous_update=False)
    scores = w.HTML()
    player = w.Audio(format="wav", autoplay=False)
    picture = w.Image(format="png")
    figure = Figure(figsize=(8, 2.6))  # not registered with pyplot: it never shows up in another cell's output
    ax = figure.subplots()
    image = ax.imshow(np.zeros((2, 2)), origin="lower", aspect="auto", cmap="gray", vmin=0, vmax=1,
                      extent=[0, references["mixture"].shape[-1] / sample_rate, 0, sample_rate / 2])
    ax.set(xlabel="time (s)", ylabel="frequency (Hz)")
    figure.colorbar(image, ax=ax, label="mask (white = keep)")

    def update(_=None):
        view = mask_lab_view(sources_stft, mixture_stft, references, target=target.value, mask_type=mask_type.value,
                             exponent=exponent.value, threshold=threshold.value, sample_rate=sample_rate,
                             hop_length=hop_length)
        image.set_data(view["mask"])
        ax.set_title(f"{mask_type.value} for {target.value}, exponent {exponent.value:.2f}"
                     + (f", threshold {threshold.value:.2f}" if threshold.value > 0 else ""))
        picture.value = _png(figure)
        scores.value = f"SDR <b>{view['sdr']:.2f} dB</b> · SI-SDR {view['si_sdr']:.2f} dB"
        player.value = wav_bytes(view["estimate"], sample_rate)
        return view

    for control in (target, mask_type, exponent, threshold):
        control.observe(update, names="value")
    update()
    box = w.VBox([w.HBox([target, mask_type]), w.HBox([exponent, threshold]), picture, scores, player])
    box.update, box.audio, box.picture, box.scores = update, player, picture, scores
    return box
