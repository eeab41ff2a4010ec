"""Invariants of the package's layout: which modules may import torch, no import cycles, no use of
the wyoming library's private parts, and no oversized modules.

Modules are discovered by walking the package directory, so new modules are checked too.
"""

from __future__ import annotations

import ast
import inspect
import json
import re
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
PACKAGE = "wyoming_qwen_tts"
PACKAGE_DIR = ROOT / PACKAGE
ENGINE_DIR = PACKAGE_DIR / "engine"
HEAVY = ("torch", "transformers", "qwen_tts")
MAX_LINES = 500


def module_name(path: Path) -> str:
    parts = list(path.relative_to(ROOT).with_suffix("").parts)
    if parts[-1] == "__init__":
        parts.pop()
    return ".".join(parts)


def package_files() -> list[Path]:
    return sorted(p for p in PACKAGE_DIR.rglob("*.py") if "__pycache__" not in p.parts)


def modules() -> dict[str, Path]:
    return {module_name(path): path for path in package_files()}


def rel(path: Path) -> str:
    return path.relative_to(ROOT).as_posix()


# 1. Importing a module outside the engine (and the engine's interface) does not import torch.


def torch_free_modules() -> list[str]:
    """Every module outside ``engine/``, plus ``engine.interface``."""
    return [
        name
        for name, path in modules().items()
        if ENGINE_DIR not in path.parents or path == ENGINE_DIR / "interface.py"
    ]


_PROBE = r"""
import json, os, sys, traceback
heavy = {heavy!r}
package_dir = {package_dir!r}


class Spy:
    # Notes, for the first import of each heavy package, the package line that caused it.
    def __init__(self):
        self.first = {{}}

    def find_spec(self, name, path=None, target=None):
        if name in heavy and name not in self.first:
            top = os.path.dirname(package_dir)
            lines = [
                f"{{os.path.relpath(frame.filename, top)}}:{{frame.lineno}}"
                for frame in traceback.extract_stack()
                if frame.filename.startswith(package_dir + os.sep)
            ]
            self.first[name] = lines[-1] if lines else "outside the package"
        return None


for name in sys.argv[1:]:
    read, write = os.pipe()
    pid = os.fork()
    if pid == 0:  # a fresh child per module: nothing of the package is imported in the parent
        os.close(read)
        spy = Spy()
        sys.meta_path.insert(0, spy)
        try:
            import importlib
            importlib.import_module(name)
            loaded = [m for m in heavy if m in sys.modules]
            result = {{"loaded": loaded, "by": {{m: spy.first.get(m, "?") for m in loaded}}}}
        except BaseException as err:
            result = {{"error": f"{{type(err).__name__}}: {{err}}"}}
        os.write(write, json.dumps(result).encode())
        os._exit(0)
    os.close(write)
    with os.fdopen(read, "rb") as pipe:
        data = pipe.read()
    os.waitpid(pid, 0)
    print(json.dumps({{name: json.loads(data) if data else {{"error": "the child died"}}}}))
"""


def probe(names: list[str], timeout: float) -> dict[str, dict]:
    """Imports each module in a fresh child of one clean interpreter (this test process has
    torch loaded already, so it cannot tell)."""
    completed = subprocess.run(
        [sys.executable, "-c", _PROBE.format(heavy=HEAVY, package_dir=str(PACKAGE_DIR)), *names],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=timeout,
    )
    assert completed.returncode == 0, completed.stderr
    results: dict[str, dict] = {}
    for line in completed.stdout.splitlines():
        if line.startswith("{"):
            results.update(json.loads(line))
    return results


@pytest.fixture(scope="module")
def imported_heavy() -> dict[str, dict]:
    return probe(torch_free_modules(), timeout=300)


def test_the_probe_sees_the_engine_import_torch(imported_heavy: dict[str, dict]) -> None:
    # The check below would pass vacuously if the probe could not see torch being imported.
    result = probe([f"{PACKAGE}.engine.sampling"], timeout=120)[f"{PACKAGE}.engine.sampling"]
    assert "torch" in result["loaded"]
    assert result["by"]["torch"].startswith(f"{PACKAGE}/engine/sampling.py:")
    assert len(imported_heavy) == len(torch_free_modules())


@pytest.mark.parametrize("name", torch_free_modules())
def test_importing_does_not_import_torch(name: str, imported_heavy: dict[str, dict]) -> None:
    if name not in modules():
        pytest.skip(f"{name} was removed while the tests ran")
    result = imported_heavy[name]
    assert "error" not in result, f"importing {name} failed: {result['error']}"
    pulled = [f"{heavy} (first imported at {result['by'][heavy]})" for heavy in result["loaded"]]
    assert pulled == [], f"importing {name} imported " + ", ".join(pulled)


# 2. No import cycles among the package's modules.


def _is_type_checking(test: ast.expr) -> bool:
    return (isinstance(test, ast.Name) and test.id == "TYPE_CHECKING") or (
        isinstance(test, ast.Attribute) and test.attr == "TYPE_CHECKING"
    )


def _module_level_imports(tree: ast.Module) -> Iterator[tuple[ast.Import | ast.ImportFrom, bool]]:
    """Imports run when the module is imported (not inside functions), each with whether it is
    under ``if TYPE_CHECKING:`` (so never run)."""

    def walk(nodes: list[ast.stmt], typing_only: bool) -> Iterator:
        for node in nodes:
            if isinstance(node, ast.Import | ast.ImportFrom):
                yield node, typing_only
            elif isinstance(node, ast.If):
                yield from walk(node.body, typing_only or _is_type_checking(node.test))
                yield from walk(node.orelse, typing_only)
            elif isinstance(node, ast.Try | ast.TryStar):
                for block in (node.body, node.orelse, node.finalbody):
                    yield from walk(block, typing_only)
                for handler in node.handlers:
                    yield from walk(handler.body, typing_only)
            elif isinstance(node, ast.With | ast.ClassDef):  # class bodies run at import too
                yield from walk(node.body, typing_only)

    yield from walk(tree.body, False)


def _resolve(
    importer: str, is_package: bool, node: ast.Import | ast.ImportFrom, known: dict[str, Path]
) -> set[str]:
    """The package modules an import statement names (``from pkg import sub`` names ``pkg.sub``
    where ``sub`` is a submodule, else ``pkg``)."""
    if isinstance(node, ast.Import):
        return {alias.name for alias in node.names if alias.name in known}
    if node.level:
        base = importer.split(".") if is_package else importer.split(".")[:-1]
        base = base[: len(base) - (node.level - 1)]
        source = ".".join(base + ([node.module] if node.module else []))
    else:
        source = node.module or ""
    if source not in known:
        return set()
    targets = set()
    for alias in node.names:
        submodule = f"{source}.{alias.name}"
        targets.add(submodule if submodule in known else source)
    return targets


def import_graph(include_type_checking: bool) -> dict[str, set[str]]:
    graph: dict[str, set[str]] = {}
    known = modules()
    for name, path in known.items():
        tree = ast.parse(path.read_text(), filename=str(path))
        edges = graph.setdefault(name, set())
        for node, typing_only in _module_level_imports(tree):
            if typing_only and not include_type_checking:
                continue
            edges |= _resolve(name, path.name == "__init__.py", node, known)
        edges.discard(name)
    return graph


def cycles(graph: dict[str, set[str]]) -> list[list[str]]:
    """The strongly connected components with more than one module (Tarjan), each sorted."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on_stack: set[str] = set()
    found: list[list[str]] = []

    def visit(node: str) -> None:
        index[node] = low[node] = len(index)
        stack.append(node)
        on_stack.add(node)
        for target in sorted(graph.get(node, ())):
            if target not in index:
                visit(target)
                low[node] = min(low[node], low[target])
            elif target in on_stack:
                low[node] = min(low[node], index[target])
        if low[node] == index[node]:
            component = []
            while True:
                member = stack.pop()
                on_stack.discard(member)
                component.append(member)
                if member == node:
                    break
            if len(component) > 1:
                found.append(sorted(component))

    for node in sorted(graph):
        if node not in index:
            visit(node)
    return found


def test_the_import_graph_is_read() -> None:
    # Guards the checks below against passing vacuously (e.g. if imports stopped resolving).
    graph = import_graph(include_type_checking=False)
    scheduler = f"{PACKAGE}.scheduling.scheduler"
    assert f"{PACKAGE}.engine.interface" in graph[scheduler]
    assert sum(len(edges) for edges in graph.values()) > len(graph)
    assert cycles({"a": {"b"}, "b": {"c"}, "c": {"a"}, "d": {"a"}}) == [["a", "b", "c"]]


def test_no_import_cycles_at_module_level() -> None:
    # Catches a cycle of any length among the imports that really run at import time: such a
    # cycle makes the result depend on which module is imported first.
    found = cycles(import_graph(include_type_checking=False))
    assert found == [], "import cycles: " + "; ".join(" <-> ".join(c) for c in found)


def test_no_two_modules_import_each_other_even_for_type_checking() -> None:
    graph = import_graph(include_type_checking=True)
    pairs = sorted(
        f"{a} <-> {b}" for a, edges in graph.items() for b in edges if a < b and a in graph[b]
    )
    assert pairs == [], "modules that import each other: " + "; ".join(pairs)


# 3. No private part of the wyoming library is used.


def _wyoming_private_names() -> set[str]:
    """Every ``_name`` (not dunder) the wyoming library defines or sets on its objects."""
    import wyoming

    names: set[str] = set()
    for path in Path(wyoming.__file__).parent.rglob("*.py"):
        for node in ast.walk(ast.parse(path.read_text())):
            name = None
            if isinstance(node, ast.Attribute):
                name = node.attr
            elif isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef | ast.ClassDef):
                name = node.name
            if name and name.startswith("_") and not name.startswith("__"):
                names.add(name)
    return names


def _own_classes_private_names(cls: type) -> set[str]:
    """The private names wyoming's classes in ``cls``'s bases define or set on ``self``."""
    names: set[str] = set()
    for base in cls.__mro__:
        if not base.__module__.startswith("wyoming."):
            continue
        for node in ast.walk(ast.parse(inspect.getsource(base))):
            name = getattr(node, "attr", None) or getattr(node, "name", None)
            if isinstance(name, str) and name.startswith("_") and not name.startswith("__"):
                names.add(name)
    return names


def _package_private_names() -> set[str]:
    """The private names the package's own classes set on ``self`` or define."""
    names: set[str] = set()
    for _, tree in _sources():
        for node in ast.walk(tree):
            if (
                isinstance(node, ast.Attribute)
                and isinstance(node.ctx, ast.Store)
                and isinstance(node.value, ast.Name)
                and node.value.id == "self"
            ) or isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef):
                name = getattr(node, "attr", None) or node.name
                if name.startswith("_") and not name.startswith("__"):
                    names.add(name)
    return names


def _sources() -> list[tuple[Path, ast.Module]]:
    return [(path, ast.parse(path.read_text(), filename=str(path))) for path in package_files()]


def test_no_private_handlers_or_server_of_wyoming_objects() -> None:
    # Catches reaching into wyoming's AsyncServer (``server._handlers``, ``server._server``);
    # the package's own listener may keep such attributes on ``self``.
    pattern = re.compile(r"(?<!\bself)(?<!\bcls)\._(handlers|server)\b")
    hits = [
        f"{rel(path)}:{number}: {line.strip()}"
        for path in package_files()
        for number, line in enumerate(path.read_text().splitlines(), 1)
        if pattern.search(line)
    ]
    assert hits == [], "\n".join(hits)


def test_no_private_attribute_of_the_wyoming_library_is_used() -> None:
    # Catches ``obj._x`` for any private name wyoming defines, on anything but ``self``/``cls``,
    # and ``self._x`` in a subclass of a wyoming class where its wyoming base defines ``_x``
    # (reading or clobbering the base's private state). Names the package's own classes define
    # too (``Listener._handlers``) are ambiguous here; the test above checks those two.
    private = _wyoming_private_names()
    assert "_handlers" in private and "_is_running" in private  # the scan of wyoming works
    private -= _package_private_names()
    hits = []
    for path, tree in _sources():
        wyoming_names = {
            alias.asname or alias.name
            for node in ast.walk(tree)
            if isinstance(node, ast.ImportFrom) and (node.module or "").split(".")[0] == "wyoming"
            for alias in node.names
        }
        for node in ast.walk(tree):
            if isinstance(node, ast.ClassDef):
                bases = [b.id for b in node.bases if isinstance(b, ast.Name)]
                for base in (b for b in bases if b in wyoming_names):
                    module = next(
                        n.module
                        for n in ast.walk(tree)
                        if isinstance(n, ast.ImportFrom)
                        and any((a.asname or a.name) == base for a in n.names)
                    )
                    base_private = _own_classes_private_names(
                        getattr(__import__(module, fromlist=[base]), base)
                    )
                    for inner in ast.walk(node):
                        if (
                            isinstance(inner, ast.Attribute)
                            and isinstance(inner.value, ast.Name)
                            and inner.value.id == "self"
                            and inner.attr in base_private
                        ):
                            hits.append(f"{rel(path)}:{inner.lineno}: self.{inner.attr} of {base}")
            if (
                isinstance(node, ast.Attribute)
                and node.attr in private
                and not (isinstance(node.value, ast.Name) and node.value.id in ("self", "cls"))
                and not (
                    isinstance(node.value, ast.Call)
                    and isinstance(node.value.func, ast.Name)
                    and node.value.func.id == "super"
                )
            ):
                hits.append(f"{rel(path)}:{node.lineno}: .{node.attr}")
    assert hits == [], "private parts of wyoming used:\n" + "\n".join(hits)


def test_the_package_does_not_use_wyomings_servers() -> None:
    # Catches going back to wyoming.server.AsyncServer and its subclasses (the package has its
    # own listener because AsyncServer keeps its handlers and asyncio server private).
    hits = []
    for path, tree in _sources():
        for node in ast.walk(tree):
            if isinstance(node, ast.ImportFrom) and node.module == "wyoming.server":
                hits += [
                    f"{rel(path)}:{node.lineno}: {alias.name}"
                    for alias in node.names
                    if alias.name.endswith("Server") or alias.name == "*"
                ]
            elif isinstance(node, ast.ImportFrom) and node.module == "wyoming":
                hits += [
                    f"{rel(path)}:{node.lineno}: wyoming.server"
                    for alias in node.names
                    if alias.name == "server"
                ]
            if (  # wyoming.server.AsyncServer after ``import wyoming.server``
                isinstance(node, ast.Attribute)
                and node.attr.endswith("Server")
                and isinstance(node.value, ast.Attribute)
                and node.value.attr == "server"
                and isinstance(node.value.value, ast.Name)
                and node.value.value.id == "wyoming"
            ):
                hits.append(f"{rel(path)}:{node.lineno}: wyoming.server.{node.attr}")
    assert hits == [], "wyoming servers used:\n" + "\n".join(hits)


# 4. No module over MAX_LINES lines.

NORMALIZE_FILE = PACKAGE_DIR / "text" / "normalize.py"
NORMALIZE_DIR = PACKAGE_DIR / "text" / "normalize"


@pytest.mark.parametrize("path", package_files(), ids=rel)
def test_no_module_is_over_500_lines(path: Path) -> None:
    if not path.exists():
        pytest.skip(f"{rel(path)} was removed while the tests ran")
    in_normalize = path == NORMALIZE_FILE or NORMALIZE_DIR in path.parents
    if in_normalize and NORMALIZE_FILE.is_file():
        pytest.skip("split in progress: text/normalize.py is still one file")
    lines = len(path.read_text().splitlines())
    assert lines <= MAX_LINES, f"{rel(path)} has {lines} lines"
