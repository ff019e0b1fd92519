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


def taught_in_tags():
    """Every ``Taught in:`` tag of the package: (where, name the notebook must mention, notebook file name)."""
    import ast
    import re

    package = Path(helpers.__file__).resolve().parent
    tags = []
    for path in sorted(package.glob("*.py")):
        tree = ast.parse(path.read_text())
        documented = [(path.stem, ast.get_docstring(tree) or "")]
        documented += [(node.name, ast.get_docstring(node) or "") for node in tree.body
                       if isinstance(node, (ast.FunctionDef, ast.ClassDef)) and not node.name.startswith("_")]
        for name, docstring in documented:
            match = re.search(r"Taught in: (.*?)(?:\n\n|$)", docstring, re.S)
            for notebook in re.findall(r"notebooks/(\w+\.ipynb)", match.group(1) if match else ""):
                tags.append((f"{path.stem}.{name}" if name != path.stem else path.stem, name, notebook))
    return tags


TAGS = taught_in_tags()


def test_every_public_function_and_module_names_the_notebook_that_teaches_it():
    assert len(TAGS) > 80


@pytest.mark.parametrize("where, name, notebook", TAGS, ids=[f"{w}->{n[:2]}" for w, _, n in TAGS])
def test_taught_in_tags_are_true(where, name, notebook):
    """A tag names a notebook that uses or names the function (or imports the module)."""
    path = NOTEBOOK_DIR / notebook
    assert path.is_file(), f"{where}: {notebook} does not exist"
    text = "\n".join(_source(cell) for cell in _cells(path))
    assert name in text, f"{where} says it is taught in {notebook}, which never mentions {name}"
