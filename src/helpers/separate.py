"""The ``separate`` command: separate songs into stem files with any model the course saved (``separate --help``).

A thin layer over :mod:`helpers.separation`: it parses the command line, checks every input, the model and every
output path before anything is written, runs :func:`helpers.separation.separate_file` per song, and turns bad input
into one line ``separate: error: ...`` and exit status 2. Also runs as ``python -m helpers.separate``.

Taught in: notebooks/06_separate_your_song.ipynb
"""

from __future__ import annotations

import argparse
import os
import sys
from pathlib import Path

from helpers import audio as audio_io
from helpers import compat
from helpers.config import DEFAULT_OVERLAP, DEFAULT_TARGETS, check_targets, residual_name
from helpers.exceptions import ParameterError


def parse_args(argv=None):
    """Parse the ``separate`` command line (see ``separate --help``).

    Used by: helpers.separate.main
    """
    parser = argparse.ArgumentParser(
        prog="separate",
        description="Separate songs into stems with the course's U-Net (or any model the course saved). Writes "
                    "DIR/<song>/<target>.wav at the song's sample rate and channel count, plus the residual (the "
                    "song minus the targets), so the files add up to the song.",
        epilog="Exit status: 0 on success, 2 on bad input (nothing written). Each channel is separated on its "
               "own (stereo in, stereo out; 5.1 in, 5.1 out); the stems hold what the model's rate carries (the "
               "shipped model runs at 44.1 kHz and writes full-band stems) and the rest stays in the residual.")
    parser.add_argument("songs", nargs="+", type=Path, metavar="SONG", help="audio files (WAV, FLAC, OGG, ...)")
    parser.add_argument("--targets", nargs="+", default=None, metavar="TARGET",
                        help="stems to separate (default: vocals drums with the shipped model, which also "
                             "separates bass: --targets bass writes bass.wav and bassless.wav; all of --model's)")
    parser.add_argument("--out", type=Path, default=Path("separated"), metavar="DIR",
                        help="output folder (default: %(default)s)")
    parser.add_argument("--model", type=Path, default=None, metavar="PATH",
                        help="a .keras model saved by the course (`python -m helpers.train`, helpers.models.save): "
                             "a U-Net, a Wave-U-Net, or an architecture of your own registered by a module that "
                             "$HELPERS_ARCHITECTURES names; its settings travel inside it (default: the shipped U-Net)")
    parser.add_argument("--residual", default=None, metavar="NAME",
                        help="the residual's file name (default: accompaniment; bassless for --targets bass, "
                             "drumless for --targets drums)")
    parser.add_argument("--wiener", action="store_true", help="refine with a multichannel Wiener filter (norbert)")
    parser.add_argument("--overlap", type=float, default=DEFAULT_OVERLAP,
                        help="share of each segment (1.5 s for the shipped model) that overlaps the next, 0 to 0.5 "
                             "(default: %(default)s)")
    parser.add_argument("--overwrite", action="store_true", help="replace existing outputs")
    parser.add_argument("--quiet", action="store_true", help="no progress bars or summary lines")
    return parser.parse_args(argv)


def main(argv=None) -> int:
    """The ``separate`` command: every input, the model and every output path are checked before anything is written.

    Bad input — a missing, empty, truncated or non-audio file, a folder, NaN/Inf samples, an unknown target, a
    missing or corrupt model, an unwritable output folder, an output that is an input or exists already (without
    ``--overwrite``) — prints one line ``separate: error: ...`` on stderr and exits with 2, writing nothing.

    Taught in: notebooks/06_separate_your_song.ipynb

    Returns
    -------
    status : int
        0 on success, 2 on bad input.
    """
    args = parse_args(argv)
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
    try:
        return _run(args)
    except ParameterError as exc:
        print(f"separate: error: {exc}", file=sys.stderr)
        return 2


def _run(args) -> int:
    if args.targets is None:
        targets = DEFAULT_TARGETS if args.model is None else None
    else:
        targets = check_targets(args.targets)
    for song in args.songs:
        audio_io.check_file(song)
    with compat.native_stderr_silenced():  # importing TensorFlow and loading the model (errors are printed after)
        from helpers import separation

        separator = separation.Separator(args.model, targets, overlap=args.overlap, wiener=args.wiener)
    residual = args.residual or residual_name(separator.targets)
    outputs = separation.check_outputs(args.songs, args.out, targets=separator.targets, residual=residual,
                                       overwrite=args.overwrite)
    for song, paths in outputs.items():
        report = separation.separate_file(song, paths, separator, progress=not args.quiet)
        if report["silent"]:
            print(f"separate: warning: {song} is silent; its stems are silent", file=sys.stderr)
        if not args.quiet:
            print(f"{song} -> {paths[residual].parent}/ ({', '.join(paths)}; "
                  f"max |stems + residual - song| = {report['sum_error']:.1e})")
    return 0


if __name__ == "__main__":
    sys.exit(main())
