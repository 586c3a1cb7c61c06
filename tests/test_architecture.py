"""The rules the code keeps, read from its source (issue 23).

Layers. Every module under ablate/ belongs to one layer, and a layer imports only itself and the
layers before it (LAYERS, in order): util < config < data < tasks < models < engine < evaluate <
tracking < report < job < sweep < entry. A layer is the subpackage ablate/<layer>/; 'entry' is
ablate/__init__.py and ablate/__main__.py. Imports are resolved to the module they load:
`from ablate import tracking` is ablate.tracking, `from ablate.report import build` is
ablate.report.build, relative imports likewise; imports inside functions count too. Importing a
package one is inside of (`from ablate import __version__` in ablate/job/) is no dependency:
Python has run that package's __init__ before the importing module starts.

Import circles. No circle among ablate's modules, imports inside functions included; importing
ablate.a.b also runs ablate/a/__init__.py, so it counts as importing both.

Boundaries. Core code never imports a plugin (hydra_plugins); only ablate/tracking/store.py
imports mlflow, in ablate/, hydra_plugins/, tools/ and benchmarks/; ablate.job.run (the job
itself) is imported only by the entry point ablate/__main__.py.

`# fmt: skip` keeps a literal table of constants laid out by hand, nothing else. The rule, line by
line: the comment must end the last line of an assignment statement (`=` or annotated, targets
plain names) whose value is a dict, list, tuple or set display holding only constants (strings,
bytes, numbers, True/False/None, a minus sign on a number) and such displays; and that assignment
must share none of its lines with another statement (`a = 1; B = {...}  # fmt: skip` and
`if x: B = {...}  # fmt: skip` fail). Anything else - a long signature, a call, two statements on
one line - is left to the formatter; so are whole regions (`# fmt: off` / `# fmt: on`: never).

Size. Modules stay under 300 lines, functions under 60, and nothing cites STUDY.md (a file outside
the repository)."""

from __future__ import annotations

import ast
import io
import re
import tokenize
from collections import deque
from functools import cache
from itertools import pairwise
from pathlib import Path

from helpers.wheel import REPO

LAYERS = "util config data tasks models engine evaluate tracking report job sweep entry".split()
FOLDER_LAYERS = LAYERS[:-1]  # each the subpackage ablate/<layer>/; 'entry' is the two modules below
ENTRY_MODULES = {"ablate", "ablate.__main__"}
# the trees whose code ships or runs beside ablate: every rule but the layers reads all of them
TREES = ("ablate", "hydra_plugins", "tools", "benchmarks")
MLFLOW_MODULE = "ablate.tracking.store"
RUN_MODULE, ITS_ONLY_IMPORTER = "ablate.job.run", "ablate.__main__"
FMT_SKIP = re.compile(r"#.*\bfmt:\s*skip\b")
FMT_OFF = re.compile(r"#.*\bfmt:\s*(off|on)\b")  # a whole region unformatted: never


# --- reading the source -------------------------------------------------------------------------


def sources(*roots: str) -> list[Path]:
    return sorted(p for root in roots for p in (REPO / root).rglob("*.py"))


def module_name(path: Path) -> str:
    parts = path.relative_to(REPO).with_suffix("").parts
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def is_package(path: Path) -> bool:
    return path.name == "__init__.py"


@cache
def ablate_modules() -> dict[str, Path]:
    return {module_name(p): p for p in sources("ablate")}


@cache
def tree(path: Path) -> ast.Module:
    return ast.parse(path.read_text(), filename=str(path))


def relative_base(path: Path, node: ast.ImportFrom) -> str:
    """The module `from .x import y` (level dots) names, seen from the file at path."""
    package = module_name(path).split(".")
    if not is_package(path):
        package = package[:-1]  # a plain module's dots count from its package
    package = package[: len(package) - (node.level - 1)]
    return ".".join([*package, node.module] if node.module else package)


def imports(path: Path) -> list[tuple[int, str]]:
    """(line, module) for every import in the file, at its top or inside a function, resolved to
    the module it loads: `from pkg import name` loads pkg.name when that is one of ablate's modules
    (a submodule), else pkg (name is an attribute of pkg)."""
    found = []
    for node in ast.walk(tree(path)):
        if isinstance(node, ast.Import):
            found += [(node.lineno, alias.name) for alias in node.names]
        elif isinstance(node, ast.ImportFrom):
            base = relative_base(path, node) if node.level else node.module
            for alias in node.names:
                submodule = f"{base}.{alias.name}"
                found.append((node.lineno, submodule if submodule in ablate_modules() else base))
    return found


def is_within(module: str, package: str) -> bool:
    return module == package or module.startswith(package + ".")


def ancestors(module: str) -> list[str]:
    """ablate.a.b -> [ablate, ablate.a]: the packages whose __init__ runs before the module."""
    parts = module.split(".")
    return [".".join(parts[:i]) for i in range(1, len(parts))]


def dependencies(importer: str, imported: str) -> list[str]:
    """The modules of ablate an import makes importer depend on: the one it names and the packages
    above it, less the packages importer itself sits in (their __init__ has run already)."""
    loaded = [*ancestors(imported), imported]
    return [m for m in loaded if m in ablate_modules() and m not in ancestors(importer) and m != importer]


def layer_of(module: str) -> str | None:
    if module in ENTRY_MODULES:
        return "entry"
    parts = module.split(".")
    return parts[1] if len(parts) > 1 and parts[1] in FOLDER_LAYERS else None


def where(path: Path, line: int | None = None) -> str:
    return f"{path.relative_to(REPO)}" + (f":{line}" if line else "")


# --- layers ------------------------------------------------------------------------------------


def test_every_module_belongs_to_a_layer():
    strays = sorted(name for name in ablate_modules() if layer_of(name) is None)
    assert not strays, f"modules in no layer (move each into one of ablate/{{{','.join(FOLDER_LAYERS)}}}/): {strays}"


def rank(module: str) -> int:
    """The module's place in LAYERS; -1 for one in no layer (the test above names those)."""
    layer = layer_of(module)
    return LAYERS.index(layer) if layer else -1


def test_no_module_imports_a_later_layer():
    bad = []
    for name, path in ablate_modules().items():
        for line, imported in sorted(imports(path)):
            # the packages above the imported module share its layer or hold the importer: the
            # module itself is the one to check
            if imported in dependencies(name, imported) and rank(name) >= 0 and rank(imported) > rank(name):
                bad.append(f"{where(path, line)} ({layer_of(name)}) imports {imported} ({layer_of(imported)})")
    assert not bad, "imports of a later layer:\n" + "\n".join(bad)


# --- import circles ----------------------------------------------------------------------------


def import_graph() -> dict[str, dict[str, str]]:
    """module -> {module it depends on: where the first such import is}."""
    graph: dict[str, dict[str, str]] = {name: {} for name in ablate_modules()}
    for name, path in ablate_modules().items():
        for line, imported in sorted(imports(path)):
            for dep in dependencies(name, imported):
                graph[name].setdefault(dep, where(path, line))
    return graph


def strongly_connected(graph: dict[str, dict[str, str]]) -> list[list[str]]:
    """Tarjan's algorithm: the graph's strongly connected components; one with two or more modules
    is a set of modules that all import each other, directly or around a circle."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    components = []

    def visit(node: str) -> None:
        index[node] = low[node] = len(index)
        stack.append(node)
        for succ in graph[node]:
            if succ not in index:
                visit(succ)
                low[node] = min(low[node], low[succ])
            elif succ in stack:
                low[node] = min(low[node], index[succ])
        if low[node] == index[node]:  # node is its component's root: pop the component
            component = []
            while not component or component[-1] != node:
                component.append(stack.pop())
            components.append(sorted(component))

    for node in sorted(graph):
        if node not in index:
            visit(node)
    return components


def shortest_circle(graph: dict[str, dict[str, str]], component: list[str]) -> list[str]:
    """A shortest circle through the component's first module, found breadth-first inside it."""
    start, inside = component[0], set(component)
    came_from: dict[str, str] = {}
    queue = deque([start])
    while queue:
        node = queue.popleft()
        for succ in sorted(graph[node]):
            if succ == start:
                path = [node]
                while path[-1] != start:
                    path.append(came_from[path[-1]])
                return [start, *reversed(path[:-1]), start]
            if succ in inside and succ not in came_from:
                came_from[succ] = node
                queue.append(succ)
    raise AssertionError(f"no circle in {component}")  # a strongly connected component has one


def test_no_import_circle():
    graph = import_graph()
    circles = []
    for component in strongly_connected(graph):
        if len(component) > 1:
            circle = shortest_circle(graph, component)
            steps = [f"{a} -> {b} ({graph[a][b]})" for a, b in pairwise(circle)]
            circles.append(f"{len(component)} modules in a circle, e.g.:\n  " + "\n  ".join(steps))
    assert not circles, "import circles:\n" + "\n".join(circles)


# --- boundaries --------------------------------------------------------------------------------


def test_core_never_imports_a_plugin():
    bad = [where(p, line) for p in sources("ablate") for line, m in imports(p) if is_within(m, "hydra_plugins")]
    assert not bad, f"core code imports a plugin: {bad}"


def test_only_the_store_imports_mlflow():
    bad = [
        where(p, line)
        for p in sources(*TREES)
        for line, m in imports(p)
        if is_within(m, "mlflow") and module_name(p) != MLFLOW_MODULE
    ]
    assert not bad, f"only {MLFLOW_MODULE} imports mlflow; also: {bad}"


def test_the_run_module_is_imported_only_by_the_entry_point():
    bad = [
        where(p, line)
        for p in sources(*TREES)
        for line, m in imports(p)
        if is_within(m, RUN_MODULE) and module_name(p) != ITS_ONLY_IMPORTER
    ]
    assert not bad, f"{RUN_MODULE} is imported only by {ITS_ONLY_IMPORTER}; also: {bad}"


# --- `# fmt: skip` -----------------------------------------------------------------------------


def comment_lines(path: Path, pattern: re.Pattern) -> list[int]:
    # tokens, not text: a '# fmt: skip' inside a string is no comment
    tokens = tokenize.generate_tokens(io.StringIO(path.read_text()).readline)
    return [t.start[0] for t in tokens if t.type == tokenize.COMMENT and pattern.match(t.string)]


def is_constant(node: ast.expr | None) -> bool:
    """A string, bytes, number, True/False/None, or a negative number."""
    if isinstance(node, ast.UnaryOp) and isinstance(node.op, ast.USub):
        node = node.operand
    return isinstance(node, ast.Constant)


def is_constant_table(node: ast.expr | None) -> bool:
    """A dict/list/tuple/set display of constants and such displays, e.g. {"a": (1, -2.0)}."""
    if isinstance(node, ast.Dict):
        items = [*node.keys, *node.values]  # a key of None is a `**mapping`: not a constant
    elif isinstance(node, (ast.List, ast.Tuple, ast.Set)):
        items = node.elts
    else:
        return False
    return all(is_constant(item) or is_constant_table(item) for item in items)


def is_table_assignment(node: ast.stmt) -> bool:
    if isinstance(node, ast.Assign):
        targets, value = node.targets, node.value
    elif isinstance(node, ast.AnnAssign) and node.value is not None:
        targets, value = [node.target], node.value
    else:
        return False
    return all(isinstance(t, ast.Name) for t in targets) and is_constant_table(value)


def enclosing(root: ast.Module) -> dict[ast.stmt, list[ast.stmt]]:
    """statement -> the statements it sits in (def, class, if, ...)."""
    outer: dict[ast.stmt, list[ast.stmt]] = {}

    def walk(node: ast.AST, around: list[ast.stmt]) -> None:
        for child in ast.iter_child_nodes(node):
            if isinstance(child, ast.stmt):
                outer[child] = around
                walk(child, [*around, child])
            else:
                walk(child, around)

    walk(root, [])
    return outer


def skip_is_allowed(outer: dict[ast.stmt, list[ast.stmt]], line: int) -> bool:
    """The rule of the docstring for a '# fmt: skip' on this line."""
    ending = [s for s in outer if s.end_lineno == line and is_table_assignment(s)]
    if len(ending) != 1:
        return False
    table = ending[0]

    def shares_a_line(other: ast.stmt) -> bool:
        return other.lineno <= table.end_lineno and other.end_lineno >= table.lineno

    # the statements it sits in may span its lines, not start on them (`if x: B = {...}`)
    sits_in = {s for s in outer[table] if s.lineno < table.lineno}
    return not [s for s in outer if s is not table and s not in sits_in and shares_a_line(s)]


def test_fmt_skip_only_on_constant_tables():
    bad = []
    for path in sources(*TREES):
        outer = enclosing(tree(path))
        bad += [f"{where(path, n)}: # fmt: off/on" for n in comment_lines(path, FMT_OFF)]
        bad += [where(path, n) for n in comment_lines(path, FMT_SKIP) if not skip_is_allowed(outer, n)]
    assert not bad, "'# fmt: skip' on something other than a table of constants:\n" + "\n".join(bad)


# --- size --------------------------------------------------------------------------------------


def test_modules_and_functions_stay_small():
    bad = []
    for path in sources(*TREES):
        text = path.read_text()
        if len(text.splitlines()) > 300:
            bad.append(f"{where(path)}: {len(text.splitlines())} lines, over 300")
        for node in ast.walk(tree(path)):
            if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef)):
                length = node.end_lineno - node.lineno + 1
                if length > 60:
                    bad.append(f"{where(path, node.lineno)} {node.name}: {length} lines, over 60")
    assert not bad, "too large:\n" + "\n".join(bad)


def test_nothing_cites_a_file_outside_the_repository():
    docs = [REPO / "README.md", *sorted((REPO / "docs").rglob("*.md"))]
    bad = [where(p) for p in [*sources(*TREES), *docs] if "STUDY.md" in p.read_text()]
    assert not bad, f"cites STUDY.md: {bad}"


def test_the_report_knows_no_studys_factors_or_numbers():
    """A study is config (conf/claims/*.yaml): the report's code names none of the U-Net study's
    factors, nor the article's numbers, so any other study is judged by the same code."""
    pattern = re.compile(r"model\.skip|model\.bottleneck|SKIP|BOTTLENECK|0\.6998")
    bad = [f"{where(p)}: {m.group(0)}" for p in sources("ablate/report") for m in pattern.finditer(p.read_text())]
    assert not bad, "the report names a study's specifics:\n" + "\n".join(bad)
