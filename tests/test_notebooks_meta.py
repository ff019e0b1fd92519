"""The notebooks' shared conventions: one setup cell, a Colab badge, a title, no committed outputs."""

import ast
import json
import re
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


# ---- Taught-in and Used-by tags ----------------------------------------------------------------------------------
# Every public function, class and module of the package says where it is used: ``Taught in:`` names the notebooks
# (by file name) whose code uses it, ``Used by:`` the modules (``helpers.separate``) or repository files
# (``benchmarks/run.py``, ``Makefile``) that do. Both sides are read with ``ast``, so a tag is true only if the code
# uses the name: a notebook renumbered or a function moved between modules breaks the tag until it is updated.

REPO = NOTEBOOK_DIR.parent
PACKAGE = Path(helpers.__file__).resolve().parent


def _dotted(path):
    """``src/helpers/app/server.py`` -> ``helpers.app.server``; a package's ``__init__.py`` is the package."""
    parts = path.relative_to(PACKAGE.parent).with_suffix("").parts
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def _short(dotted):
    return dotted.removeprefix("helpers.")


def _absolute(module, level, here, is_package):
    """The absolute module of ``from <level dots><module> import ...`` written in module ``here``."""
    if not level:
        return module or ""
    base = here.split(".")
    base = base[: len(base) - level + (1 if is_package else 0)]
    return ".".join(base + ([module] if module else []))


def _paragraph(docstring, label):
    """The text after ``label:`` up to the next blank line, or None."""
    match = re.search(rf"^\s*{label}:(.*?)(?:\n\s*\n|\Z)", docstring or "", re.S | re.M)
    return match.group(1) if match else None


def _notebooks_named(text):
    return re.findall(r"([\w.-]+\.ipynb)\b", text or "")


def _pointers(text):
    """The modules (``helpers.x``) and repository files (``a/b.py``, ``Makefile``) a ``Used by:`` line names."""
    pointers = []
    for token in re.split(r"[\s,;()`'\"]+", text or ""):
        token = token.rstrip(".:")
        if (token.startswith("helpers") or "/" in token or token == "Makefile"
                or re.fullmatch(r"\w[\w.-]*\.(?:py|sh|cfg|toml|yml|yaml|json|txt|md|ipynb)", token)):
            pointers.append(token)
    return pointers


def _docstring_nodes(tree):
    """The docstrings' ``Constant`` nodes (prose, not uses)."""
    for node in ast.walk(tree):
        if isinstance(node, (ast.Module, ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef)):
            body = node.body
            if body and isinstance(body[0], ast.Expr) and isinstance(body[0].value, ast.Constant):
                yield body[0].value


def _package():
    """Every module of the package: its docstring, its public definitions and the names it re-exports."""
    modules = {}
    for path in sorted(PACKAGE.rglob("*.py")):
        if "__pycache__" in path.parts:
            continue
        dotted = _dotted(path)
        tree = ast.parse(path.read_text(), filename=str(path))
        defined, imported, names = {}, {}, set()
        pending = list(tree.body)  # every name bound at the top level (in ifs and trys too, not in functions)
        while pending:
            node = pending.pop()
            if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef)):
                names.add(node.name)
                continue
            if isinstance(node, ast.Name) and isinstance(node.ctx, ast.Store):
                names.add(node.id)
            elif isinstance(node, ast.alias):
                names.add((node.asname or node.name).split(".")[0])
            pending.extend(ast.iter_child_nodes(node))
        for node in tree.body:
            if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef)):
                if not node.name.startswith("_"):
                    defined[node.name] = node
            elif isinstance(node, ast.ImportFrom):
                source = _absolute(node.module, node.level, dotted, path.stem == "__init__")
                for alias in node.names:
                    imported[alias.asname or alias.name] = f"{source}.{alias.name}"
        modules[dotted] = {"path": path, "tree": tree, "doc": ast.get_docstring(tree) or "", "defined": defined,
                           "imported": imported, "names": names}
    return modules


MODULES = _package()


def _is_public(module):
    """``helpers.app.__main__`` and ``helpers._x`` are not (a pointer may still name them)."""
    return not any(part.startswith("_") for part in module.split("."))


#: ``helpers.module.name`` -> its ``def`` or ``class`` node, for every public function and class.
PUBLIC = {f"{m}.{name}": node for m, info in MODULES.items() if _is_public(m) for name, node in info["defined"].items()}


def _canonical(dotted, depth=0):
    """Follow re-exports (``helpers.models.load`` -> ``helpers.models.base.load``) to a definition or a module.

    A package's re-export shadows its submodule of the same name, as at run time: after ``from helpers.models.unet
    import unet``, ``models.unet`` is the function.
    """
    if dotted in PUBLIC or depth > 10:
        return dotted
    module, _, name = dotted.rpartition(".")
    target = MODULES.get(module, {}).get("imported", {}).get(name)
    return _canonical(target, depth + 1) if target and target != dotted else dotted


def _notebook_code(path):
    """A notebook's code cells, parsed (IPython's ``%`` and ``!`` lines dropped), and any that do not parse."""
    trees, errors = [], []
    for index, cell in enumerate(_cells(path)):
        if cell["cell_type"] != "code":
            continue
        code = "\n".join(line for line in _source(cell).splitlines() if not line.lstrip().startswith(("%", "!")))
        try:
            tree = ast.parse(code)
        except SyntaxError as error:
            errors.append(f"{path.name} cell {index}: {error}")
            continue
        for node in ast.walk(tree):
            node.cell = cell.get("id", index)  # for the messages
        trees.append(tree)
    return trees, errors


def _uses(trees, here=None, is_package=False, exclude=None, within=None, missing=None):
    """What some code uses of the package: (public functions and classes, modules), as canonical dotted names.

    ``module.name`` counts through the module's import alias (``from helpers import audio as a``, ``import
    helpers.audio``), ``name`` after ``from helpers.module import name``; in module ``here`` also its own top-level
    names. Importing a module, or naming it in a string (``python -m helpers.separate``), uses the module. Nodes
    inside ``exclude`` (a function's own definition) and docstrings are not uses; with ``within`` (a function of
    the module), only its nodes are, read with the whole module's imports. ``module.name`` where the module has
    no ``name`` is appended to ``missing``.
    """
    skipped = set()
    for tree in trees:
        skipped |= {id(node) for node in _docstring_nodes(tree)}
    if exclude is not None:
        skipped |= {id(node) for node in ast.walk(exclude)}
    nodes = [node for tree in trees for node in ast.walk(tree) if id(node) not in skipped]
    scope = {id(node) for node in ast.walk(within)} if within is not None else None
    aliases = {name: f"{here}.{name}" for name in MODULES[here]["defined"]} if here in MODULES else {}
    modules, imported = set(), set()
    for node in nodes:
        if isinstance(node, ast.Import):
            for alias in node.names:
                if alias.name.split(".")[0] == "helpers":  # import helpers.x as y; import helpers.x
                    aliases[alias.asname or "helpers"] = alias.name if alias.asname else "helpers"
                    imported.add((id(node), alias.name))
        elif isinstance(node, ast.ImportFrom):
            source = _absolute(node.module, node.level, here or "", is_package)
            if source.split(".")[0] == "helpers":
                imported.add((id(node), source))
                for alias in node.names:
                    aliases[alias.asname or alias.name] = f"{source}.{alias.name}"
                    if _canonical(f"{source}.{alias.name}") in MODULES:  # from helpers import audio
                        imported.add((id(node), f"{source}.{alias.name}"))
        elif isinstance(node, ast.Constant) and isinstance(node.value, str):
            imported.update((id(node), name) for name in re.findall(r"\bhelpers(?:\.\w+)+", node.value))
    if scope is not None:
        nodes = [node for node in nodes if id(node) in scope]
    modules.update(name for node_id, name in imported if scope is None or node_id in scope)

    def resolve(node):
        if isinstance(node, ast.Name):
            return aliases.get(node.id)
        if isinstance(node, ast.Attribute):
            base = resolve(node.value)
            return f"{base}.{node.attr}" if base else None
        return None

    used = set()
    for node in nodes:
        if isinstance(node, (ast.Name, ast.Attribute)) and isinstance(node.ctx, ast.Load):
            dotted = resolve(node)
            base = _canonical(resolve(node.value) or "") if isinstance(node, ast.Attribute) else None
            if (missing is not None and base in MODULES and node.attr not in MODULES[base]["names"]
                    and f"{base}.{node.attr}" not in MODULES):
                missing.append(f"{_short(base)}.{node.attr} (cell {getattr(node, 'cell', '?')})")
            target = _canonical(dotted) if dotted else None
            if target in PUBLIC:
                used.add(target)
                modules.add(target.rpartition(".")[0])
            elif target in MODULES:
                modules.add(target)
    for module in list(modules):  # importing helpers.app.server imports helpers and helpers.app too
        parts = _canonical(module).split(".")
        modules.update(".".join(parts[:i]) for i in range(1, len(parts) + 1))
    return used, modules & set(MODULES)


def _notebook_uses(path):
    """(public functions and classes used, modules imported, cells that do not parse, names the package lacks)."""
    trees, errors = _notebook_code(path)
    missing = []
    return (*_uses(trees, missing=missing), errors, missing)


USES = {path.name: _notebook_uses(path) for path in NOTEBOOKS}


def _documented():
    """(id, dotted name, docstring) for every public function, class and module."""
    items = [(f"{_short(m)} (module)", m, info["doc"]) for m, info in MODULES.items() if _is_public(m)]
    items += [(_short(name), name, ast.get_docstring(node) or "") for name, node in PUBLIC.items()]
    return items


DOCUMENTED = _documented()
TAUGHT = [(where, dotted, notebook) for where, dotted, doc in DOCUMENTED
          for notebook in _notebooks_named(_paragraph(doc, "Taught in"))]
USED_BY = [(where, dotted, pointer) for where, dotted, doc in DOCUMENTED
           for pointer in _pointers(_paragraph(doc, "Used by"))]
REFERENCED = sorted((notebook, name) for notebook, (used, *_) in USES.items() for name in used)


@pytest.mark.parametrize("path", NOTEBOOKS, ids=lambda p: p.name)
def test_notebook_code_parses(path):
    assert not USES[path.name][2]


@pytest.mark.parametrize("path", NOTEBOOKS, ids=lambda p: p.name)
def test_notebook_code_uses_only_names_the_package_has(path):
    """A function moved to another module, or renamed, breaks the notebook: say where, before nbval runs it."""
    assert not USES[path.name][3], f"{path.name} uses names its helpers modules lack: {USES[path.name][3]}"


@pytest.mark.parametrize("where, dotted, docstring", DOCUMENTED, ids=[w for w, _, _ in DOCUMENTED])
def test_every_public_function_and_module_says_where_it_is_used(where, dotted, docstring):
    taught, used_by = _paragraph(docstring, "Taught in"), _paragraph(docstring, "Used by")
    assert taught is not None or used_by is not None, (
        f"{where}: no 'Taught in:' (notebooks that use it) or 'Used by:' (modules or files that use it) line")
    assert taught is None or _notebooks_named(taught), f"{where}: 'Taught in:' names no notebook file: {taught!r}"
    assert used_by is None or _pointers(used_by), f"{where}: 'Used by:' names no module or file: {used_by!r}"


@pytest.mark.parametrize("where, dotted, notebook", TAUGHT, ids=[f"{w}->{n[:2]}" for w, _, n in TAUGHT])
def test_taught_in_tags_are_true(where, dotted, notebook):
    """The notebook's code uses the function (``module.name`` or ``from helpers.module import name``), or imports
    the module."""
    assert (NOTEBOOK_DIR / notebook).is_file(), f"{where}: notebooks/{notebook} does not exist"
    used, modules, *_ = USES[notebook]
    if dotted in MODULES:
        assert dotted in modules, f"{where} says it is taught in {notebook}, whose code never imports it"
    else:
        assert dotted in used, f"{where} says it is taught in {notebook}, whose code never uses {_short(dotted)}"


@pytest.mark.parametrize("notebook, dotted", REFERENCED, ids=[f"{n[:2]}:{_short(d)}" for n, d in REFERENCED])
def test_every_function_a_notebook_uses_names_that_notebook(notebook, dotted):
    taught = _notebooks_named(_paragraph(ast.get_docstring(PUBLIC[dotted]), "Taught in"))
    assert notebook in taught, f"{_short(dotted)} is used in {notebook}: add it to its 'Taught in:' line ({taught})"


@pytest.mark.parametrize("where, dotted, pointer", USED_BY, ids=[f"{w}<-{p}" for w, _, p in USED_BY])
def test_used_by_pointers_are_true(where, dotted, pointer):
    """Each module (``helpers.x``), function (``helpers.x.f``) or repository file a ``Used by:`` line names exists,
    and its code uses the function (``module.name``, an imported ``name``) or imports the module."""
    assert not pointer.startswith(("tests/", "tests.")), (
        f"{where}: tests are not users; a function only tests call is dead code or private")
    assert not pointer.endswith(".ipynb"), f"{where}: a notebook that uses it belongs on the 'Taught in:' line"
    is_module, name = dotted in MODULES, dotted.rpartition(".")[2]
    if pointer.startswith("helpers"):
        module, node = pointer, None
        if module not in MODULES:  # helpers.module.function: that function uses it
            module, _, function = pointer.rpartition(".")
            node = MODULES.get(module, {}).get("defined", {}).get(function)
            assert node is not None, f"{where}: 'Used by: {pointer}', which is not a module or function of the package"
        info = MODULES[module]
        exclude = PUBLIC.get(dotted) if dotted.rpartition(".")[0] == module else None
        used, modules = _uses([info["tree"]], module, info["path"].stem == "__init__", exclude, within=node)
    else:
        path = REPO / pointer
        assert path.is_file(), f"{where}: 'Used by: {pointer}', which does not exist"
        text = path.read_text()
        if path.suffix == ".py":
            used, modules = _uses([ast.parse(text)])
        else:  # a Makefile, a shell script: the module's name and the function's
            modules = {dotted} if re.search(rf"\b{re.escape(dotted)}\b", text) else set()
            module_name = (dotted if is_module else dotted.rpartition(".")[0]).rpartition(".")[2]
            used = {dotted} if all(re.search(rf"\b{w}\b", text) for w in (name, module_name)) else set()
    if is_module:
        assert dotted in modules, f"{where}: 'Used by: {pointer}', which never imports {dotted}"
    else:
        assert dotted in used, f"{where}: 'Used by: {pointer}', which never uses {_short(dotted)}"


def _import_graph():
    """``helpers.x`` -> the package modules it imports at the top level (imports inside functions are deferred)."""
    graph = {}
    for dotted, info in MODULES.items():
        imported = set()
        for node in info["tree"].body:
            if isinstance(node, ast.Import):
                imported |= {alias.name for alias in node.names}
            elif isinstance(node, ast.ImportFrom):
                source = _absolute(node.module, node.level, dotted, info["path"].stem == "__init__")
                imported.add(source)
                imported |= {f"{source}.{alias.name}" for alias in node.names}
        graph[dotted] = {m for m in imported if m in MODULES and m != dotted}
    return graph


def test_no_import_cycle():
    """Top-level imports form no cycle (a package importing its own submodules aside)."""
    graph = _import_graph()
    allowed = set()
    cycles = set()

    def visit(module, path):
        for imported in graph[module]:
            if imported in path:
                cycle = path[path.index(imported):]
                if frozenset(cycle) not in allowed and not all(m.startswith(imported + ".") or m == imported
                                                              for m in cycle):
                    cycles.add(" -> ".join(cycle + [imported]))
            elif len(path) < 12:
                visit(imported, path + [imported])

    for module in graph:
        visit(module, [module])
    assert not cycles, sorted(cycles)


def test_the_song_modules_import_one_way():
    """helpers.songs: each module imports only those above it (plan, production, voices, the engines, dataset)."""
    order = ["plan", "production", "voices", "numpy_engine", "soundfont_engine", "dataset"]
    graph = _import_graph()
    for i, name in enumerate(order):
        imported = {m.rpartition(".")[2] for m in graph[f"helpers.songs.{name}"] if m.startswith("helpers.songs.")}
        assert imported <= set(order[:i]), (name, sorted(imported - set(order[:i])))
