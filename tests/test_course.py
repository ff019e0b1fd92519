"""helpers.course: `make course` runs every notebook, reports each step's status, and fails if any step failed."""

import nbformat

from helpers import course


def write_notebook(path, *sources):
    notebook = nbformat.v4.new_notebook(cells=[nbformat.v4.new_code_cell(s) for s in sources])
    nbformat.write(notebook, path)
    return path


def test_a_failing_notebook_is_reported_and_fails_the_run(tmp_path, monkeypatch, capsys):
    folder = tmp_path / "notebooks"
    folder.mkdir()
    write_notebook(folder / "00_fine.ipynb", "x = 6 * 7", "print(x)")
    write_notebook(folder / "01_broken.ipynb", "y = 1", "raise RuntimeError('this cell is broken')", "z = 2")
    (folder / "notes.ipynb").write_text("not a course notebook: not run")
    demo, scored = [], []
    monkeypatch.setattr(course, "separate_demo", lambda out: demo.append(out) or 0)
    monkeypatch.setattr(course, "score_table", lambda: scored.append(True) or "the score table")
    status = course.main([str(folder), "--out", str(tmp_path / "build")])
    output = capsys.readouterr().out
    assert status == 1  # one notebook failed
    rows = {line.split()[0]: line.split()[1:] for line in output.splitlines() if line.endswith(tuple("0123456789"))
            or "FAILED" in line}
    assert rows["00_fine.ipynb"][0] == "ok"
    assert rows["01_broken.ipynb"][0] == "FAILED" and "this cell is broken" in output
    assert demo and scored  # every step still ran after the failure
    executed = nbformat.read(tmp_path / "build" / "notebooks" / "01_broken.ipynb", as_version=4)
    assert executed.cells[1].outputs[0]["ename"] == "RuntimeError"
    assert not (tmp_path / "build" / "notebooks" / "notes.ipynb").exists()


def test_a_clean_run_exits_0(tmp_path, monkeypatch, capsys):
    folder = tmp_path / "notebooks"
    folder.mkdir()
    write_notebook(folder / "00_fine.ipynb", "print('fine')")
    monkeypatch.setattr(course, "separate_demo", lambda out: 0)
    monkeypatch.setattr(course, "score_table", lambda: "the score table")
    assert course.main([str(folder), "--out", str(tmp_path / "build")]) == 0
    assert course.main([str(tmp_path / "empty"), "--out", str(tmp_path / "build")]) == 2


def _copy_checkout(tmp_path):
    import shutil
    from pathlib import Path

    source = Path(course.__file__).resolve().parents[2]
    checkout = tmp_path / "checkout"
    shutil.copytree(source / "notebooks", checkout / "notebooks", ignore=shutil.ignore_patterns(".ipynb_checkpoints"))
    (checkout / "src" / "helpers").mkdir(parents=True)
    shutil.copy(source / "src" / "helpers" / "__init__.py", checkout / "src" / "helpers" / "__init__.py")
    shutil.copy(source / "README.md", checkout / "README.md")
    return checkout


def test_publish_points_package_notebooks_and_badges_at_the_new_address(tmp_path):
    import helpers

    checkout = _copy_checkout(tmp_path)
    notebooks = sorted((checkout / "notebooks").glob("[0-9][0-9]_*.ipynb"))
    changed = course.publish("https://github.com/a-school/separation-course/", checkout)
    assert set(changed) >= {checkout / "src" / "helpers" / "__init__.py", *notebooks}
    init = (checkout / "src" / "helpers" / "__init__.py").read_text()
    assert 'COURSE_REPO = "https://github.com/a-school/separation-course"' in init
    for path in notebooks:
        notebook = nbformat.read(path, as_version=4)
        assert helpers.COURSE_REPO not in path.read_text()
        assert '"https://github.com/a-school/separation-course"' in notebook.cells[1].source  # the setup cell
        assert (f"colab.research.google.com/github/a-school/separation-course/blob/main/notebooks/{path.name}"
                in notebook.cells[0].source)
    assert course.publish("https://github.com/a-school/separation-course", checkout) == []  # already there


def test_publish_rejects_what_is_not_a_github_repository_and_changes_nothing(tmp_path, capsys):
    import pytest

    from helpers import ParameterError

    checkout = _copy_checkout(tmp_path)
    before = {p: p.read_bytes() for p in checkout.rglob("*") if p.is_file()}
    with pytest.raises(ParameterError, match="gitlab.com"):
        course.publish("https://gitlab.com/a/b", checkout)
    with pytest.raises(ParameterError, match="not a checkout"):
        course.publish("https://github.com/a/b", tmp_path)
    assert course.main(["--publish", "github.com/no-scheme"]) == 2
    assert "must be a GitHub address" in capsys.readouterr().err
    assert before == {p: p.read_bytes() for p in checkout.rglob("*") if p.is_file()}
