"""The layout stays true: which package may import which, and no import circles inside ``bridge``.

Read from the source with ``ast`` (every import, also those inside functions; those under
``if TYPE_CHECKING:`` are left out, since they never run). A failure names the importing module,
the line and the rule it breaks.
"""

from __future__ import annotations

import ast
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
PACKAGE = ROOT / "bridge"

# package prefix -> prefixes it must never import (inside ``bridge``), and why
FORBIDDEN: dict[str, tuple[tuple[str, ...], str]] = {
    "bridge.formatting": (
        ("bridge.core", "bridge.store", "bridge.mirror", "bridge.adapters", "bridge.emulators", "bridge.app"),
        "formatting is a pure leaf",
    ),
    "bridge.store": (
        ("bridge.core", "bridge.mirror", "bridge.adapters", "bridge.emulators", "bridge.formatting"),
        "the store sits below the core",
    ),
    "bridge.core": (
        ("bridge.mirror", "bridge.adapters", "bridge.emulators", "bridge.app", "bridge.cli", "bridge.runtime"),
        "the core knows no platform and no delivery",
    ),
    "bridge.mirror": (
        ("bridge.adapters", "bridge.emulators", "bridge.formatting", "bridge.cli"),
        "delivery reaches platforms only through the Destination port and holds no text rules",
    ),
    "bridge.adapters": (
        ("bridge.emulators", "bridge.mirror", "bridge.cli"),
        "adapters talk to platforms, not to emulators",
    ),
    "bridge.emulators": (
        ("bridge.core", "bridge.store", "bridge.mirror", "bridge.adapters", "bridge.formatting", "bridge.app"),
        "an emulator is the platform: it knows nothing of the bridge",
    ),
}
# third-party packages a pure module may not import
IMPURE = ("redis", "discord", "slack_sdk", "slack_bolt", "aiohttp", "asyncio", "socket", "prometheus_client")


@dataclass(frozen=True)
class Import:
    module: str
    target: str
    line: int


def module_name(path: Path) -> str:
    parts = list(path.relative_to(ROOT).with_suffix("").parts)
    if parts[-1] == "__init__":
        parts.pop()
    return ".".join(parts)


def _is_type_checking(node: ast.If) -> bool:
    test = node.test
    return (isinstance(test, ast.Name) and test.id == "TYPE_CHECKING") or (
        isinstance(test, ast.Attribute) and test.attr == "TYPE_CHECKING"
    )


def _walk(node: ast.AST) -> Iterator[ast.AST]:
    for child in ast.iter_child_nodes(node):
        if isinstance(child, ast.If) and _is_type_checking(child):
            for other in child.orelse:
                yield other
                yield from _walk(other)
            continue
        yield child
        yield from _walk(child)


def imports_of(path: Path) -> list[Import]:
    name = module_name(path)
    package = name if path.name == "__init__.py" else name.rpartition(".")[0]
    found: list[Import] = []
    for node in _walk(ast.parse(path.read_text(), str(path))):
        if isinstance(node, ast.Import):
            found += [Import(name, alias.name, node.lineno) for alias in node.names]
        elif isinstance(node, ast.ImportFrom):
            if node.level:
                base = package.split(".")
                base = base[: len(base) - (node.level - 1)]
                target = ".".join([*base, node.module] if node.module else base)
            else:
                target = node.module or ""
            found.append(Import(name, target, node.lineno))
            # ``from bridge.x import y`` may name the module bridge.x.y
            found += [Import(name, f"{target}.{alias.name}", node.lineno) for alias in node.names]
    return found


def all_imports() -> list[Import]:
    return [imp for path in sorted(PACKAGE.rglob("*.py")) for imp in imports_of(path)]


MODULES = {module_name(p) for p in PACKAGE.rglob("*.py")}


def _within(name: str, prefix: str) -> bool:
    return name == prefix or name.startswith(prefix + ".")


def test_layer_rules() -> None:
    broken = []
    for imp in all_imports():
        for layer, (banned, why) in FORBIDDEN.items():
            if _within(imp.module, layer) and any(_within(imp.target, b) for b in banned):
                broken.append(f"{imp.module}:{imp.line} imports {imp.target} ({why})")
    assert not broken, "\n".join(broken)


def test_formatting_is_pure() -> None:
    broken = [
        f"{imp.module}:{imp.line} imports {imp.target}"
        for imp in all_imports()
        if _within(imp.module, "bridge.formatting")
        and (
            imp.target.split(".")[0] in IMPURE
            or (_within(imp.target, "bridge") and not _within(imp.target, "bridge.formatting"))
        )
    ]
    assert not broken, "formatting must stay pure (no I/O, no SDK):\n" + "\n".join(broken)


def _graph() -> dict[str, set[str]]:
    graph: dict[str, set[str]] = {m: set() for m in MODULES}
    for imp in all_imports():
        if imp.target in MODULES and imp.target != imp.module:
            # importing a package's submodule also runs the package's __init__, which is not a cycle by
            # itself; only edges to real modules count
            graph[imp.module].add(imp.target)
    return graph


def find_cycle(graph: dict[str, set[str]]) -> list[str] | None:
    state: dict[str, int] = {}
    stack: list[str] = []

    def visit(node: str) -> list[str] | None:
        state[node] = 1
        stack.append(node)
        for nxt in sorted(graph[node]):
            if state.get(nxt) == 1:
                return [*stack[stack.index(nxt) :], nxt]
            if nxt not in state and (cycle := visit(nxt)):
                return cycle
        stack.pop()
        state[node] = 2
        return None

    for node in sorted(graph):
        if node not in state and (cycle := visit(node)):
            return cycle
    return None


def test_no_import_cycles() -> None:
    graph = _graph()
    # a package __init__ that re-exports its own submodules is the package's face, not a cycle
    for mod in MODULES:
        graph[mod] = {
            t
            for t in graph[mod]
            if not (_within(mod, t) and (PACKAGE.parent / t.replace(".", "/") / "__init__.py").exists())
        }
    cycle = find_cycle(graph)
    assert cycle is None, "import circle: " + " -> ".join(cycle or [])


@pytest.mark.parametrize("bad", [("bridge.core.x", "bridge.mirror.worker"), ("bridge.formatting.tree", "redis")])
def test_the_rules_can_fail(bad: tuple[str, str]) -> None:
    module, target = bad
    hit_layer = any(
        _within(module, layer) and any(_within(target, b) for b in banned) for layer, (banned, _) in FORBIDDEN.items()
    )
    assert hit_layer or target.split(".")[0] in IMPURE


def test_a_cycle_is_found() -> None:
    assert find_cycle({"a": {"b"}, "b": {"c"}, "c": {"a"}}) == ["a", "b", "c", "a"]


# names that mean the same job wherever they appear: the typed settings, or the errors, of the package
SAME_JOB = {
    "__init__.py": "package",
    "__main__.py": "entry point",
    "config.py": "the package's typed settings",
    "errors.py": "the package's errors",
}


def test_no_two_modules_share_a_name_for_different_jobs() -> None:
    """A file name repeats only as a per-platform pair (``adapters/discord/x`` beside ``adapters/slack/x``)."""
    seen: dict[str, list[Path]] = {}
    for path in PACKAGE.rglob("*.py"):
        seen.setdefault(path.name, []).append(path)
    clashes = {
        name: sorted(str(p.relative_to(ROOT)) for p in paths)
        for name, paths in seen.items()
        if len(paths) > 1
        and name not in SAME_JOB
        and not (
            all(p.parent.name in ("discord", "slack") for p in paths) and len({p.parent.parent for p in paths}) == 1
        )
    }
    assert not clashes, clashes
