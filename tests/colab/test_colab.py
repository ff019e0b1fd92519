"""The course in a Colab-like runtime, the way a learner meets it: `make test-colab`.

`make test-colab` builds a fresh Python 3.13 environment holding Colab's versions of the packages the course
touches (requirements.txt beside this file) and runs this file there, with Colab's own pytest. The course is *not*
installed beforehand. Each notebook is copied to a folder outside the checkout and executed headless with FAST=1,
with a stand-in ``google.colab`` module imported at kernel start (stand_in/), so its setup cell takes the Colab
path: notebook 00 clones the course (``COURSE_REPO``: this checkout's committed state unless set) and installs it
with pip into this environment, as in a fresh Colab runtime. Every notebook gets its own empty data folder, so it
must make everything it needs itself (Colab opens each notebook in a fresh runtime). Then: the shipped models
load, the widget and model tests pass under ipywidgets 7.7.1 and IPython 7.34, and no pinned package changed.

Browsers cannot test Colab's front end here: under ipywidgets 7.7.1 this is the kernel side (the widgets build,
their callbacks run and make their figures and audio); JupyterLab 4 in Chromium (`make test-browser`) covers
ipywidgets 8. `make test` skips this folder (tests/conftest.py): it needs the environment above.
"""

import os
import re
import shutil
import subprocess
import sys
import time
from pathlib import Path

import nbformat
import pytest
from nbclient import NotebookClient

HERE = Path(__file__).resolve().parent
CHECKOUT = HERE.parents[1]
NOTEBOOKS = sorted((CHECKOUT / "notebooks").glob("[0-9][0-9]_*.ipynb"))
RUNTIMES = {}  # notebook -> seconds, reported at the end


def _name(requirement):
    return re.sub(r"[-_.]+", "-", requirement).lower()


PINS = dict(line.strip().split("==") for line in (HERE / "requirements.txt").read_text().splitlines()
            if line.strip() and not line.startswith("#"))
PINS = {_name(name): version for name, version in PINS.items()}


def _freeze():
    """``{name: version}`` of this environment (editable installs as ``editable``)."""
    lines = subprocess.run([sys.executable, "-m", "pip", "freeze", "--disable-pip-version-check"],
                           capture_output=True, text=True, check=True).stdout.splitlines()
    versions = {}
    for line in lines:
        if "==" in line:
            name, version = line.split("==", 1)
            versions[_name(name)] = version
        elif " @ " in line:
            versions[_name(line.split(" @ ", 1)[0])] = "direct"
        elif line.startswith("-e "):
            versions[_name(line.rsplit("egg=", 1)[-1]) if "egg=" in line else line] = "editable"
    return versions


@pytest.fixture(scope="module")
def colab(tmp_path_factory):
    """A Colab-like runtime: where the course will be cloned, the environment of its kernels, the freeze before."""
    root = tmp_path_factory.mktemp("colab")
    course_dir = root / "content" / "course"
    env = {
        "PYTHONPATH": str(HERE / "stand_in"),
        "COURSE_DIR": str(course_dir),
        "COURSE_REPO": os.environ.get("COURSE_REPO") or CHECKOUT.as_uri(),
        "FAST": "1",
        "PYDEVD_DISABLE_FILE_VALIDATION": "1",  # ipykernel 6.17's debugger warns about Python 3.13's frozen modules
    }
    assert "helpers" not in _freeze(), "the course must not be installed before the setup cell installs it"
    return {"root": root, "course_dir": course_dir, "env": env, "before": _freeze()}


def test_environment_is_colabs():
    versions = _freeze()
    assert sys.version_info[:2] == (3, 13)
    assert {name: versions.get(name) for name in PINS} == PINS


@pytest.mark.parametrize("path", NOTEBOOKS, ids=lambda p: p.stem[:2])
def test_notebook_runs_standalone(colab, path, monkeypatch):
    for name, value in colab["env"].items():
        monkeypatch.setenv(name, value)
    monkeypatch.setenv("COURSE_DATA", str(colab["root"] / "data" / path.stem))  # empty: a fresh runtime's
    run_dir = colab["root"] / "runs" / path.stem
    run_dir.mkdir(parents=True)
    shutil.copy(path, run_dir / path.name)
    notebook = nbformat.read(run_dir / path.name, as_version=4)
    client = NotebookClient(notebook, timeout=900, kernel_name="python3",
                            resources={"metadata": {"path": str(run_dir)}})
    start = time.perf_counter()
    # The kernel's own stderr goes to a log beside the executed copy: Colab's ipykernel 6.17 prints a harmless
    # traceback at exit on Python 3.13 (absl closing ipykernel's stream), which would bury pytest's report.
    with open(run_dir / "kernel.log", "w") as kernel_log:
        try:
            client.execute(stderr=kernel_log)
        finally:
            RUNTIMES[path.stem] = time.perf_counter() - start
            nbformat.write(notebook, run_dir / path.name)  # the executed copy, to read when a cell fails
    setup = "".join(o.get("text", "") for o in notebook.cells[1].outputs if o.get("output_type") == "stream")
    assert "TensorFlow runs on:" in setup
    if path == NOTEBOOKS[0]:  # the runtime's first notebook fetched and installed the course
        assert "fetching the course" in setup and "installing it with pip" in setup
    print(f"\n{path.name}: ran standalone in {RUNTIMES[path.stem]:.0f} s")


def test_course_was_installed_by_the_setup_cell_from_the_clone(colab):
    shown = subprocess.run([sys.executable, "-m", "pip", "show", "-f", "helpers"], capture_output=True, text=True,
                           check=True).stdout
    assert str(colab["course_dir"]) in shown


def test_shipped_models_load_and_widget_and_model_tests_pass(colab):
    """Every shipped model loads on Colab's Keras, and the kernel side of the widgets works on ipywidgets 7.7.1."""
    code = ("from helpers import models\n"
            "for path in (models.PRETRAINED, models.PRETRAINED_22K, models.PRETRAINED_WAVE):\n"
            "    print(path.name, models.load(path).count_params())\n")
    loaded = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, cwd=colab["course_dir"])
    assert loaded.returncode == 0, loaded.stderr[-2000:]
    assert len(loaded.stdout.splitlines()) == 3
    tests = subprocess.run([sys.executable, "-m", "pytest", "-q", "tests/test_widgets.py", "tests/test_models.py",
                            "tests/test_compat.py"], capture_output=True, text=True, cwd=colab["course_dir"],
                           env={**os.environ, "COURSE_DATA": str(colab["root"] / "data" / "tests")})
    assert tests.returncode == 0, tests.stdout[-4000:]
    print("\n" + tests.stdout.strip().splitlines()[-1])


def test_no_colab_package_changed(colab):
    """The setup cell's install replaced none of Colab's packages; it only added the course's own."""
    after = _freeze()
    changed = {name: (colab["before"].get(name), after.get(name)) for name in PINS
               if colab["before"].get(name) != after.get(name)}
    added = sorted(f"{name}=={after[name]}" for name in after.keys() - colab["before"].keys())
    print(f"\npip freeze diff: {len(added)} added, {len(changed)} of Colab's {len(PINS)} pinned packages changed")
    print("added: " + ", ".join(added))
    print("standalone runtimes: " + ", ".join(f"{name[:2]} {seconds:.0f} s" for name, seconds in RUNTIMES.items()))
    assert not changed, f"the install changed Colab's packages (before, after): {changed}"
    assert not colab["before"].keys() - after.keys(), "the install removed packages"
