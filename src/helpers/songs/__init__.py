"""The course's songs: multitrack songs in MUSDB18's layout, generated offline, and the engines that make them.

The modules run one way, each importing only those above it:

- :mod:`~helpers.songs.plan`: the musical plan (tempo, key, chords, sections, melody);
- :mod:`~helpers.songs.production`: placing, panning, per-stem effects, stem levels and mastering;
- :mod:`~helpers.songs.voices`: the source–filter singer and the singers of each style;
- :mod:`~helpers.songs.numpy_engine` and :mod:`~helpers.songs.soundfont_engine`: one module per engine;
- :mod:`~helpers.songs.dataset`: building the data set (:func:`generate`, :func:`ensure`, the command line
  ``python -m helpers.songs``, which ``make data`` runs).

Taught in: notebooks/01_waveforms_and_mixtures.ipynb
"""

from helpers.songs import dataset, numpy_engine, plan, production, soundfont_engine, voices
from helpers.songs.dataset import ENGINES, HELD_OUT, choose_engine, demo_song, ensure, generate

__all__ = ["ENGINES", "HELD_OUT", "choose_engine", "dataset", "demo_song", "ensure", "generate", "numpy_engine",
           "plan", "production", "soundfont_engine", "voices"]
