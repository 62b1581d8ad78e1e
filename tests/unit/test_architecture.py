"""The tiers of the build system and what each may import, checked over the real import graph
(every import statement, at module level or not, TYPE_CHECKING ones included): no circle, no
import against the tiers' direction, the standard library only where a bare python3 runs it."""

from __future__ import annotations

import ast
import sys
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from pathlib import Path

import pytest

from bake.paths import REPO_ROOT

RUNTIME = REPO_ROOT / "common" / "runtime"
FOUNDATION = ("bake.errors", "bake.paths", "bake.progress", "bake.options")
# What a bare python3 runs (a runner with no virtual environment, a guest VM, the SBOM generator's image).
STDLIB_ONLY = ("bake.core", "bake.release.plan", "bake.engine.sbom_scan", "devtools.polling",
               "devtools.server_probes", "devtools.hosttest.guest_limits")  # fmt: skip


@dataclass(frozen=True)
class Tier:
    """Modules under `prefix` may import these of the project (by prefix) and these distributions."""

    prefix: str
    project: tuple[str, ...]
    third_party: tuple[str, ...] = ()


# Longest prefix wins. The standard library is always allowed.
TIERS = (
    *(Tier(name, FOUNDATION) for name in FOUNDATION),
    Tier("bake.core", (*FOUNDATION, "bake.core")),
    Tier("bake.engine", (*FOUNDATION, "bake.core", "bake.engine"), ("python_on_whales", "jinja2")),
    Tier("bake.engine.sbom_scan", ("bake.engine.sbom_scan",)),
    Tier("bake.release", (*FOUNDATION, "bake.core", "bake.engine", "bake.release"), ("python_on_whales", "requests")),
    Tier("bake.release.plan", (*FOUNDATION, "bake.core")),
    Tier("bake", ("bake",), ("python_on_whales", "requests")),  # the command line: everything of bake
    Tier("devtools", ("bake", "devtools"), ("python_on_whales", "requests", "testcontainers", "matplotlib")),
    Tier("devtools.polling", ()),
    Tier("devtools.server_probes", ("bake.errors",)),
    Tier("devtools.hosttest.guest_limits", ("devtools.polling", "devtools.server_probes")),
)


def tier_of(module: str, tiers: Iterable[Tier] = TIERS) -> Tier:
    matching = [tier for tier in tiers if module == tier.prefix or module.startswith(f"{tier.prefix}.")]
    return max(matching, key=lambda tier: len(tier.prefix))


def _is_under(module: str, prefixes: Iterable[str]) -> bool:
    return any(module == prefix or module.startswith(f"{prefix}.") for prefix in prefixes)


# Applications the bench runs inside the image: the image's tier, not the tools'.
NOT_SCANNED = ("devtools/bench/app",)
# Copied into a guest beside its runner, so imported there by their bare names.
COPIED_BESIDE = {"polling": "devtools.polling", "server_probes": "devtools.server_probes"}


def module_names(root: Path, packages: Iterable[str]) -> dict[str, Path]:
    found = {}
    for package in packages:
        for path in sorted((root / package).rglob("*.py")):
            if any(path.relative_to(root).as_posix().startswith(skipped) for skipped in NOT_SCANNED):
                continue
            parts = path.relative_to(root).with_suffix("").parts
            found[".".join(parts[:-1] if parts[-1] == "__init__" else parts)] = path
    return found


def imports_of(module: str, source: str, known: Iterable[str]) -> set[str]:
    """Every module `source` imports: the project's by their full name (a name imported from a
    package resolves to its module), others by their top-level name. A script directory's
    sibling imported by its bare name (sbom_scan, the guest's runner) resolves to the sibling."""
    known = set(known)
    package = module.rsplit(".", 1)[0]
    found: set[str] = set()

    def add(name: str) -> None:
        sibling = f"{package}.{name}"
        if sibling in known and name.split(".")[0] not in ("bake", "devtools"):
            found.add(sibling)
        else:
            found.add(COPIED_BESIDE.get(name, name) if module == "devtools.hosttest.guest_limits" else name)

    for node in ast.walk(ast.parse(source)):
        if isinstance(node, ast.Import):
            for alias in node.names:
                add(alias.name)
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            for alias in node.names:
                full = f"{node.module}.{alias.name}"
                add(full if full in known else node.module)
    return found


def violations(graph: Mapping[str, set[str]], tiers: Iterable[Tier] = TIERS) -> list[str]:
    tiers = tuple(tiers)
    problems = []
    for module, imported in sorted(graph.items()):
        tier = tier_of(module, tiers)
        for name in sorted(imported):
            top = name.split(".")[0]
            if name in graph:
                allowed = _is_under(name, tier.project)
            else:
                allowed = top in sys.stdlib_module_names or top == "__future__" or top in tier.third_party
            if not allowed:
                problems.append(f"{module} imports {name}, which tier {tier.prefix} may not")
    return problems


def circles(graph: Mapping[str, set[str]]) -> list[list[str]]:
    """The import circles among the project's modules (Tarjan's strongly connected components)."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    found: list[list[str]] = []

    def visit(module: str) -> None:
        index[module] = low[module] = len(index)
        stack.append(module)
        for name in graph[module]:
            if name not in graph:
                continue
            if name not in index:
                visit(name)
                low[module] = min(low[module], low[name])
            elif name in stack:
                low[module] = min(low[module], index[name])
        if low[module] == index[module]:
            component = []
            while True:
                member = stack.pop()
                component.append(member)
                if member == module:
                    break
            if len(component) > 1 or module in graph[module]:
                found.append(sorted(component))

    for module in sorted(graph):
        if module not in index:
            visit(module)
    return found


def _graph(modules: Mapping[str, Path]) -> dict[str, set[str]]:
    return {name: imports_of(name, path.read_text(), modules) - {name} for name, path in modules.items()}


PROJECT = module_names(REPO_ROOT, ("bake", "devtools"))
RUNTIME_MODULES = module_names(RUNTIME, ("uvicorn_gunicorn_runtime",))


def test_the_scan_sees_the_project() -> None:
    assert {"bake.core.matrix", "bake.engine.build", "bake.release.plan", "devtools.bench.report"} <= set(PROJECT)
    assert "bake.core.reference" in _graph(PROJECT)["bake.core.naming"]


def test_no_import_goes_against_the_tiers() -> None:
    assert violations(_graph(PROJECT)) == []


def test_no_import_circle_in_the_build_system_its_tools_or_the_runtime() -> None:
    assert circles(_graph(PROJECT)) == []
    assert circles(_graph(RUNTIME_MODULES)) == []


@pytest.mark.parametrize("module", sorted(name for name in PROJECT if _is_under(name, STDLIB_ONLY)))
def test_what_a_bare_python3_runs_needs_the_standard_library_only(module: str) -> None:
    graph = _graph(PROJECT)
    seen, todo = set(), [module]
    while todo:
        current = todo.pop()
        seen.add(current)
        todo += [name for name in graph[current] if name in graph and name not in seen]
    outside = sorted(
        name.split(".")[0]
        for current in seen
        for name in graph[current]
        if name not in graph and name.split(".")[0] not in sys.stdlib_module_names and name != "__future__"
    )
    assert outside == [], f"{module} needs, through {sorted(seen)}: {outside}"


def test_the_top_of_bake_holds_at_most_ten_modules_and_every_package_says_its_tier() -> None:
    top = sorted(path.name for path in (REPO_ROOT / "bake").glob("*.py"))
    assert len(top) <= 10, top
    for package in ("bake.core", "bake.engine", "bake.release", "devtools"):
        docstring = ast.get_docstring(ast.parse(PROJECT[package].read_text()))
        assert docstring and "import" in docstring, package


@pytest.mark.parametrize(
    ("module", "source", "expected"),
    [
        ("bake.core.matrix", "import python_on_whales\n", "bake.core.matrix imports python_on_whales"),
        ("bake.core.matrix", "from bake.engine.build import build\n", "bake.core.matrix imports bake.engine.build"),
        ("bake.engine.build", "from bake.release.publish import publish\n", "imports bake.release.publish"),
        ("bake.release.plan", "from bake.engine.bases import base_of\n", "imports bake.engine.bases"),
        ("bake.engine.build", "from devtools.polling import poll\n", "imports devtools.polling"),
        ("bake.errors", "from bake.core.matrix import Image\n", "imports bake.core.matrix"),
    ],
)
def test_a_wrong_import_is_found(module: str, source: str, expected: str) -> None:
    graph = _graph(PROJECT)
    graph[module] = imports_of(module, source, PROJECT)
    assert any(expected in problem for problem in violations(graph)), violations(graph)


def test_a_circle_is_found() -> None:
    graph = _graph(PROJECT)
    graph["bake.core.reference"] = graph["bake.core.reference"] | imports_of(
        "bake.core.reference", "from bake.core.matrix import Image\n", PROJECT
    )
    assert ["bake.core.matrix", "bake.core.reference"] in circles(graph)
