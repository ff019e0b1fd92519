"""The notebooks' shared conventions: one setup cell, a Colab badge, a title, no committed outputs."""

import json
from pathlib import Path

import pytest

import helpers

NOTEBOOK_DIR = Path(__file__).resolve().parents[1] / "notebooks"
NOTEBOOKS = sorted(NOTEBOOK_DIR.glob("[0-9][0-9]_*.ipynb"))


def _cells(path):
    return json.loads(path.read_text())["cells"]


def _source(cell):
    return "".join(cell["source"])


def test_there_are_notebooks_and_they_are_listed():
    assert NOTEBOOKS
    assert [p.stem for p in NOTEBOOKS] == list(helpers.NOTEBOOKS)


@pytest.mark.parametrize("path", NOTEBOOKS, ids=lambda p: p.name)
def test_setup_cell_is_identical_and_first(path):
    reference = _source([c for c in _cells(NOTEBOOKS[0]) if c["cell_type"] == "code"][0])
    first_code = [c for c in _cells(path) if c["cell_type"] == "code"][0]
    assert _source(first_code) == reference
    assert helpers.COURSE_REPO in reference


@pytest.mark.parametrize("path", NOTEBOOKS, ids=lambda p: p.name)
def test_title_and_colab_badge(path):
    header = _source(_cells(path)[0])
    assert header.startswith(f"# {path.name[:2]} · ")
    badge = f"colab.research.google.com/github/{helpers.COURSE_REPO.split('github.com/')[1]}/blob/main/notebooks/{path.name}"
    assert badge in header


@pytest.mark.parametrize("path", NOTEBOOKS, ids=lambda p: p.name)
def test_committed_without_outputs(path):
    for cell in _cells(path):
        if cell["cell_type"] == "code" and "NBVAL_CHECK_OUTPUT" not in _source(cell):
            assert not cell["outputs"], f"{path.name}: strip outputs"
            assert cell["execution_count"] is None
