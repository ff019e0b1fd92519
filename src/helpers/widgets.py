"""Listening and exploring in the notebook: player tables now, interactive widgets as the course grows.

The logic behind every widget is a plain function (e.g. :func:`wav_bytes`), unit-tested without a browser;
the widget only wires it to controls.

Taught in: notebooks/00_setup_check.ipynb, notebooks/01_waveforms_and_mixtures.ipynb
"""

from __future__ import annotations

import base64
import html
import io

import numpy as np
import soundfile as sf

from helpers.audio import validate_audio
from helpers.exceptions import ParameterError


def wav_bytes(audio: np.ndarray, sample_rate: int) -> bytes:
    """Encode a signal as an in-memory 16-bit WAV file, clipping to [-1, 1] without normalising.

    Players in the course never normalise, so a quiet estimate sounds quiet: loudness is part of what
    the learner compares.

    Taught in: notebooks/01_waveforms_and_mixtures.ipynb

    Parameters
    ----------
    audio : np.ndarray [shape=(n_samples,) or (n_channels, n_samples)], float
    sample_rate : int > 0
        In Hz.

    Returns
    -------
    wav : bytes
        A complete RIFF/WAVE file.

    Raises
    ------
    ParameterError
        If ``audio`` is not valid audio or ``sample_rate`` is not positive.
    """
    validate_audio(audio)
    if sample_rate <= 0:
        raise ParameterError(f"sample_rate={sample_rate!r} must be positive")
    buffer = io.BytesIO()
    sf.write(buffer, np.clip(audio, -1.0, 1.0).T, int(sample_rate), format="WAV", subtype="PCM_16")
    return buffer.getvalue()


def players(signals: dict, sample_rate: int):
    """A labelled table of audio players: one row per signal with its name, duration and channels.

    Taught in: notebooks/01_waveforms_and_mixtures.ipynb

    Parameters
    ----------
    signals : dict[str, np.ndarray [shape=(n_samples,) or (n_channels, n_samples)]]
        Name → signal, in display order.
    sample_rate : int > 0
        In Hz, shared by all signals.

    Returns
    -------
    table : IPython.display.HTML
        Displays as an HTML table with an ``<audio>`` element per row (WAV data embedded, so it plays in
        JupyterLab, Colab and exported HTML alike).

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
            data = base64.b64encode(wav_bytes(np.asarray(audio), sample_rate)).decode("ascii")
        except ParameterError as exc:
            raise ParameterError(f"signal {name!r}: {exc}") from None
        n_channels = 1 if np.ndim(audio) == 1 else np.shape(audio)[0]
        seconds = np.shape(audio)[-1] / sample_rate
        rows.append(
            f"<tr><td style='text-align:left'><b>{html.escape(str(name))}</b></td><td>{seconds:.2f} s</td>"
            f"<td>{n_channels} ch</td><td><audio controls preload='none' "
            f"src='data:audio/wav;base64,{data}'></audio></td></tr>"
        )
    header = "<tr><th>signal</th><th>duration</th><th>channels</th><th>player</th></tr>"
    return HTML(f"<table class='players'>{header}{''.join(rows)}</table>")
