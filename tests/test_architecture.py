"""The package's layers (ARCHITECTURE.md): every import points down, and no module imports
itself back through others. Read from the source with ``ast``, so imports inside functions
and under ``TYPE_CHECKING`` count as much as those at the top."""

from __future__ import annotations

import ast
from collections.abc import Iterator
from pathlib import Path

import dynamorm_async

# Bottom to top. A module may import from its own layer and the layers below it.
LAYERS = (
    "_errors",  # the one error tree
    "_model",  # @model, ModelInfo, type introspection
    "_wire",  # attrs <-> AttributeValue
    "_expr",  # conditions, their compiler, update actions
    "_single_table",  # shared tables: entities, key templates, collections
    "_lean",  # the lean transport: SigV4, HTTP/1.1, standard retries, credentials
    "_transport",  # the clients of both transports, choosing one; botocore's plug-ins
    "_observe",  # request events, consumed capacity, tracers, units of work
    "_throughput",  # capacity budgets: token buckets that pace requests
    "_ops",  # SessionBase and the session's operations
    "_tables",  # the table manager and data migrations, on SessionBase
    "_session",  # Session: the operations, the life cycle and db.tables
    "__init__",  # the public face
    "telemetry",  # the OpenTelemetry integration (an optional extra)
    "spark",  # copies as Spark jobs (an optional extra)
    "testing",  # the public test helpers
)
ROOT = Path(dynamorm_async.__file__).parent
TOP_LEVEL_MODULES = {"__init__.py", "_errors.py", "_session.py", "telemetry.py", "spark.py"}


def module_name(package_dir: Path, path: Path) -> str:
    parts = path.relative_to(package_dir.parent).with_suffix("").parts
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def is_module(package_dir: Path, dotted: str) -> bool:
    path = package_dir.parent.joinpath(*dotted.split("."))
    return path.with_suffix(".py").is_file() or (path / "__init__.py").is_file()


def imports(package_dir: Path, path: Path) -> Iterator[tuple[str, int]]:
    """(imported module of the package, line) for every import in ``path``."""
    package = package_dir.name
    me = module_name(package_dir, path)
    here = me if path.name == "__init__.py" else me.rpartition(".")[0]
    for node in ast.walk(ast.parse(path.read_text(), str(path))):
        if isinstance(node, ast.Import):
            for alias in node.names:
                if alias.name.split(".")[0] == package:
                    yield alias.name, node.lineno
        elif isinstance(node, ast.ImportFrom):
            if node.level:
                base = here.split(".")
                base = base[: len(base) - node.level + 1]
                target = ".".join([*base, node.module] if node.module else base)
            else:
                target = node.module or ""
            if target.split(".")[0] != package:
                continue
            for alias in node.names:  # ``from .._wire import codecs``: a name may be a module
                sub = f"{target}.{alias.name}"
                yield (sub if is_module(package_dir, sub) else target), node.lineno


def layer_of(package: str, module: str) -> int:
    parts = module.split(".")
    name = parts[1] if len(parts) > 1 else "__init__"
    return LAYERS.index(name)


def check(package_dir: Path) -> tuple[list[str], dict[str, set[str]]]:
    """Every upward import as a message, and the import graph between modules."""
    package = package_dir.name
    upward: list[str] = []
    graph: dict[str, set[str]] = {}
    for path in sorted(package_dir.rglob("*.py")):
        me = module_name(package_dir, path)
        graph.setdefault(me, set())
        for target, line in imports(package_dir, path):
            graph[me].add(target)
            if layer_of(package, target) > layer_of(package, me):
                upward.append(
                    f"{path.relative_to(package_dir.parent)}:{line}: {me} "
                    f"({LAYERS[layer_of(package, me)]}) imports {target} "
                    f"({LAYERS[layer_of(package, target)]}), a layer above it"
                )
    return upward, graph


def cycles(graph: dict[str, set[str]]) -> list[list[str]]:
    """The import circles: each a path that leads back to its first module."""
    found: list[list[str]] = []
    state: dict[str, int] = {}  # 1: on the current path, 2: done
    path: list[str] = []

    def visit(node: str) -> None:
        state[node] = 1
        path.append(node)
        for nxt in sorted(graph.get(node, ())):
            if state.get(nxt) == 1:
                found.append([*path[path.index(nxt) :], nxt])
            elif nxt in graph and nxt not in state:
                visit(nxt)
        path.pop()
        state[node] = 2

    for node in sorted(graph):
        if node not in state:
            visit(node)
    return found


def test_every_import_points_down_and_there_is_no_circle() -> None:
    upward, graph = check(ROOT)
    assert upward == []
    assert cycles(graph) == []
    # The check saw the whole package, rooms included.
    assert {"dynamorm_async._ops.items", "dynamorm_async._tables.copy"} <= set(graph)


def test_only_the_public_face_and_the_rooms_stand_at_the_top() -> None:
    modules = {p.name for p in ROOT.glob("*.py")}
    assert modules == TOP_LEVEL_MODULES
    rooms = {p.name for p in ROOT.iterdir() if p.is_dir() and p.name != "__pycache__"}
    assert rooms == set(LAYERS) - {m.removesuffix(".py") for m in TOP_LEVEL_MODULES}
    for room in rooms:  # a room is a package whose docstring says what it holds
        init = ROOT / room / "__init__.py"
        assert ast.get_docstring(ast.parse(init.read_text())), room


def write_package(tmp_path: Path, files: dict[str, str]) -> Path:
    package_dir = tmp_path / "dynamorm_async"
    for name, text in files.items():
        path = package_dir / name
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text)
    return package_dir


def test_the_check_finds_an_import_from_a_higher_layer(tmp_path: Path) -> None:
    """The same check on a package in which the wire layer imports the session (inside a
    function, where a lazy import would hide it) and the ops layer imports the tables."""
    package_dir = write_package(
        tmp_path,
        {
            "__init__.py": "from ._session import Session\n",
            "_errors.py": "",
            "_session.py": "from ._ops.items import put\n",
            "_wire/__init__.py": "",
            "_wire/codecs.py": "def f():\n    from .._session import Session\n",
            "_ops/__init__.py": "",
            "_ops/items.py": "from .._wire import codecs\nimport dynamorm_async._tables.copy\n",
            "_tables/__init__.py": "",
            "_tables/copy.py": "from .._errors import X\n",
        },
    )
    upward, graph = check(package_dir)
    assert upward == [
        "dynamorm_async/_ops/items.py:2: dynamorm_async._ops.items (_ops) imports "
        "dynamorm_async._tables.copy (_tables), a layer above it",
        "dynamorm_async/_wire/codecs.py:2: dynamorm_async._wire.codecs (_wire) imports "
        "dynamorm_async._session (_session), a layer above it",
    ]
    assert graph["dynamorm_async._ops.items"] == {
        "dynamorm_async._wire.codecs",
        "dynamorm_async._tables.copy",
    }


def test_the_check_finds_an_import_circle(tmp_path: Path) -> None:
    """Two modules of one layer that import each other (one only for the type checker)."""
    package_dir = write_package(
        tmp_path,
        {
            "__init__.py": "",
            "_expr/__init__.py": "",
            "_expr/compile.py": "from .conditions import Condition\n",
            "_expr/conditions.py": (
                "from typing import TYPE_CHECKING\n"
                "if TYPE_CHECKING:\n    from .compile import ExpressionContext\n"
            ),
        },
    )
    upward, graph = check(package_dir)
    assert upward == []
    assert cycles(graph) == [
        [
            "dynamorm_async._expr.compile",
            "dynamorm_async._expr.conditions",
            "dynamorm_async._expr.compile",
        ]
    ]
