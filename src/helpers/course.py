"""Run the course end to end: the engine of ``make course``.

``python -m helpers.course notebooks --out build`` executes every ``NN_*.ipynb`` in order with ``FAST=1`` (unless
``FAST`` is set), writes the executed copies under ``build/notebooks/``, separates a demo song (generated test songs
one after another) with the ``separate`` command into ``build/separated/``, and prints a table of notebook, status
and seconds, then the shipped U-Net's score table on the generated test songs (as ``separate`` runs it, against MIX
and IRM1). It exits 1 if any step failed, after running all of them.

``python -m helpers.course --publish https://github.com/OWNER/NAME`` sets the address where the course is published,
once: it rewrites :data:`helpers.COURSE_REPO` and every copy of it (the notebooks' setup cells and Colab badges, the
README), so the badges open and the setup cell clones the published repository.

Used by: Makefile (``make course``)
"""

from __future__ import annotations

import argparse
import os
import re
import sys
import tempfile
import time
from pathlib import Path

import helpers
from helpers import evaluation, separate, songs
from helpers.config import DEFAULT_TARGETS
from helpers.exceptions import ParameterError


def run_notebook(path, out_dir, *, timeout: int = 1200) -> tuple[str, float, str]:
    """Execute one notebook in its own folder and save the executed copy.

    Used by: benchmarks/run.py

    Parameters
    ----------
    path : str or os.PathLike
        The ``.ipynb`` file.
    out_dir : str or os.PathLike
        Where the executed copy goes (same file name).
    timeout : int
        Seconds allowed per cell.

    Returns
    -------
    status : str
        ``"ok"`` or ``"FAILED"``.
    seconds : float
        Wall time of the execution.
    error : str
        The error's last line, or ``""``.
    """
    import nbformat
    from nbclient import NotebookClient
    from nbclient.exceptions import CellExecutionError
    from traitlets.config import Config

    path = Path(path)
    notebook = nbformat.read(path, as_version=4)
    start = time.perf_counter()
    status, error = "ok", ""
    # The kernel talks over local sockets in a folder of its own where the system has them (IPC): nothing on the
    # network, and no "running over TCP without encryption" warning; Windows has only TCP.
    with tempfile.TemporaryDirectory() as sockets:
        ipc = {"transport": "ipc", "ip": str(Path(sockets, "kernel"))} if os.name == "posix" else {}
        client = NotebookClient(notebook, timeout=timeout, kernel_name="python3", config=Config(KernelManager=ipc),
                                resources={"metadata": {"path": str(path.parent)}})
        try:
            client.execute()
        except CellExecutionError as exc:
            status, error = "FAILED", str(exc).strip().splitlines()[-1]
    seconds = time.perf_counter() - start
    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    nbformat.write(notebook, out_dir / path.name)
    return status, seconds, error


def separate_demo(out_dir, *, seconds: float = 30.0) -> int:
    """Write a demo song (generated test songs) to ``out_dir/demo_song.wav``; separate it into ``out_dir/separated``.

    Used by: helpers.course.main

    Returns
    -------
    status : int
        The ``separate`` command's exit status.
    """
    song = songs.demo_song(Path(out_dir) / "demo_song.wav", duration=seconds)
    return separate.main([str(song), "--out", str(Path(out_dir) / "separated"), "--overwrite", "--quiet"])


def score_table(*, n_tracks: int | None = None):
    """The shipped U-Net (through :func:`helpers.separation.separate`) against MIX and IRM1 on the generated test songs.

    Used by: helpers.course.main

    Returns
    -------
    table : helpers.evaluation.ResultsTable
        SDR in dB, median over tracks, at the model's rate (44.1 kHz for the shipped model).
    """
    from helpers import data, separation  # here, not at the top: both import Keras (TensorFlow)

    separator = separation.Separator(targets=DEFAULT_TARGETS)
    tracks = data.load_tracks("generated", "test")[:n_tracks]
    estimators = {"U-Net (separate)": lambda mixture: separation.separate(mixture, separator.sample_rate,
                                                                           model=separator)}
    per_track = evaluation.score_on_tracks(tracks, estimators, sample_rate=separator.sample_rate,
                                           methods=("MIX", "IRM1"))
    return evaluation.results_table(per_track)


_REPO_PATTERN = r"https://github\.com/[A-Za-z0-9_.-]+/[A-Za-z0-9_.-]+"


def publish(repo: str, checkout=None) -> list[Path]:
    """Point the course at the repository it is published in: :data:`helpers.COURSE_REPO` and all its copies.

    Rewrites ``src/helpers/__init__.py``, ``notebooks/NN_*.ipynb`` (the setup cell's clone address and the Colab
    badge) and ``README.md`` in the checkout; ``tests/test_notebooks_meta.py`` holds them to the same address.

    Used by: helpers.course.main

    Parameters
    ----------
    repo : str
        ``https://github.com/OWNER/NAME`` (Colab's badges open GitHub repositories).
    checkout : str or os.PathLike or None
        The course's checkout; ``None`` is the one this package is installed from (``pip install -e``).

    Returns
    -------
    changed : list of pathlib.Path
        The files rewritten.

    Raises
    ------
    ParameterError
        If ``repo`` is not a GitHub repository address, or ``checkout`` is not a checkout of the course.
    """
    repo = repo.rstrip("/").removesuffix(".git")
    if not re.fullmatch(_REPO_PATTERN, repo):
        raise ParameterError(f"repo={repo!r} must be a GitHub address, https://github.com/OWNER/NAME")
    checkout = Path(checkout) if checkout is not None else Path(helpers.__file__).resolve().parents[2]
    init = checkout / "src" / "helpers" / "__init__.py"
    if not (init.is_file() and (checkout / "notebooks").is_dir()):
        raise ParameterError(f"checkout={str(checkout)!r} is not a checkout of the course (no src/helpers, notebooks)")
    old = re.search(rf'^COURSE_REPO = "({_REPO_PATTERN})"$', init.read_text(), re.M).group(1)
    pairs = [(old, repo), (old.replace("https://github.com/", "colab.research.google.com/github/"),
                           repo.replace("https://github.com/", "colab.research.google.com/github/"))]
    changed = []
    for path in [init, checkout / "README.md", *sorted((checkout / "notebooks").glob("[0-9][0-9]_*.ipynb"))]:
        if not path.is_file():
            continue
        text = original = path.read_text()
        for before, after in pairs:
            text = text.replace(before, after)
        if text != original:
            path.write_text(text)
            changed.append(path)
    return changed


def main(argv=None) -> int:
    """Command-line entry point; see the module docstring.

    Used by: helpers.course (``python -m helpers.course``), Makefile (``make course``)
    """
    parser = argparse.ArgumentParser(prog="python -m helpers.course", description=__doc__.splitlines()[0])
    parser.add_argument("notebooks", type=Path, nargs="?", default=Path("notebooks"),
                        help="folder holding the NN_*.ipynb notebooks (default: notebooks)")
    parser.add_argument("--out", type=Path, default=Path("build"), help="output folder (default: build)")
    parser.add_argument("--publish", metavar="URL",
                        help="instead: set the address the course is published at (https://github.com/OWNER/NAME) "
                             "in the package, the notebooks and the README")
    args = parser.parse_args(argv)
    if args.publish:
        try:
            changed = publish(args.publish)
        except ParameterError as exc:
            print(f"course: error: {exc}", file=sys.stderr)
            return 2
        print(f"{len(changed)} files now point at {args.publish}; commit them and push to that repository")
        return 0
    os.environ.setdefault("FAST", "1")
    paths = sorted(args.notebooks.glob("[0-9][0-9]_*.ipynb"))
    if not paths:
        print(f"no notebooks found in {args.notebooks}", file=sys.stderr)
        return 2
    results = []
    for path in paths:
        print(f"running {path.name} ...", flush=True)
        results.append((path.name, *run_notebook(path, args.out / "notebooks")))
    print("separating the demo song ...", flush=True)
    start = time.perf_counter()
    status = separate_demo(args.out)
    results.append(("separate demo_song.wav", "ok" if status == 0 else "FAILED", time.perf_counter() - start,
                    "" if status == 0 else f"exit status {status}"))
    width = max(len(name) for name, *_ in results)
    print(f"\n{'step':<{width}}  status  seconds")
    for name, status, seconds, error in results:
        print(f"{name:<{width}}  {status:<6}  {seconds:7.1f}" + (f"  {error}" if error else ""))
    print(f"{'total':<{width}}          {sum(r[2] for r in results):7.1f}")
    print(f"\nstems of the demo song: {args.out / 'separated' / 'demo_song'}/")
    print("\nThe shipped U-Net on the generated test songs, as `separate` runs it:", flush=True)
    print(score_table())
    return 0 if all(r[1] == "ok" for r in results) else 1


if __name__ == "__main__":
    sys.exit(main())
