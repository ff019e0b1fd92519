"""Run the course's notebooks headless and summarise: the engine of ``make course``.

``python -m helpers.course notebooks --out build`` executes every ``NN_*.ipynb`` in order with ``FAST=1`` (unless
``FAST`` is set), writes the executed copies under ``build/notebooks/`` and prints a table of notebook, status
and seconds. It exits 1 if any notebook failed, after running all of them.
"""

from __future__ import annotations

import argparse
import os
import sys
import time
from pathlib import Path


def run_notebook(path, out_dir, timeout: int = 1200) -> tuple[str, float, str]:
    """Execute one notebook in its own folder and save the executed copy.

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

    path = Path(path)
    notebook = nbformat.read(path, as_version=4)
    client = NotebookClient(notebook, timeout=timeout, kernel_name="python3",
                            resources={"metadata": {"path": str(path.parent)}})
    start = time.perf_counter()
    status, error = "ok", ""
    try:
        client.execute()
    except CellExecutionError as exc:
        status, error = "FAILED", str(exc).strip().splitlines()[-1]
    seconds = time.perf_counter() - start
    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    nbformat.write(notebook, out_dir / path.name)
    return status, seconds, error


def main(argv=None) -> int:
    """Command-line entry point; see the module docstring."""
    parser = argparse.ArgumentParser(prog="python -m helpers.course", description=__doc__.splitlines()[0])
    parser.add_argument("notebooks", type=Path, help="folder holding the NN_*.ipynb notebooks")
    parser.add_argument("--out", type=Path, default=Path("build"), help="output folder (default: build)")
    args = parser.parse_args(argv)
    os.environ.setdefault("FAST", "1")
    paths = sorted(args.notebooks.glob("[0-9][0-9]_*.ipynb"))
    if not paths:
        print(f"no notebooks found in {args.notebooks}", file=sys.stderr)
        return 2
    results = []
    for path in paths:
        print(f"running {path.name} ...", flush=True)
        results.append((path.name, *run_notebook(path, args.out / "notebooks")))
    width = max(len(name) for name, *_ in results)
    print(f"\n{'notebook':<{width}}  status  seconds")
    for name, status, seconds, error in results:
        print(f"{name:<{width}}  {status:<6}  {seconds:7.1f}" + (f"  {error}" if error else ""))
    print(f"{'total':<{width}}          {sum(r[2] for r in results):7.1f}")
    return 0 if all(r[1] == "ok" for r in results) else 1


if __name__ == "__main__":
    sys.exit(main())
