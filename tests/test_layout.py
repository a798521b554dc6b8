"""The package's shape, as a new engineer meets it: a short top level, one owner for the issue
folder's file names, no import cycle, and a front door that costs nothing to open."""

from __future__ import annotations

import ast
import subprocess
import sys
from pathlib import Path

import digest
from digest import issue_folder

PACKAGE = Path(digest.__file__).parent
FOLDER_NAMES = {
    issue_folder.HTML,
    issue_folder.TEXT,
    issue_folder.MESSAGE,
    issue_folder.MANIFEST,
    issue_folder.PERSONAL_HTML,
    issue_folder.PERSONAL_TEXT,
}


def modules() -> dict[str, Path]:
    """Every module of the package by its dotted name."""
    found = {}
    for path in sorted(PACKAGE.rglob("*.py")):
        parts = path.relative_to(PACKAGE.parent).with_suffix("").parts
        name = ".".join(parts[:-1] if parts[-1] == "__init__" else parts)
        found[name] = path
    return found


def test_the_top_level_holds_at_most_15_modules() -> None:
    top = sorted(p.name for p in PACKAGE.glob("*.py"))
    assert len(top) <= 15, top


def test_only_issue_folder_spells_the_issue_folders_file_names() -> None:
    spelled = []
    for name, path in modules().items():
        if path == Path(issue_folder.__file__):
            continue
        for node in ast.walk(ast.parse(path.read_text())):
            if isinstance(node, ast.Constant) and node.value in FOLDER_NAMES:
                spelled.append(f"{name}:{node.lineno}: {node.value}")
    assert spelled == []


def every_import(name: str, path: Path, known: set[str]) -> set[str]:
    """The package modules `name` imports anywhere: at load, inside functions (where an import
    hides a cycle) and for type checking alike; `from digest import x` counts as digest.x."""
    targets: set[str] = set()
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.Import):
            targets.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module and not node.level:
            for alias in node.names:
                submodule = f"{node.module}.{alias.name}"
                targets.add(submodule if submodule in known else node.module)
    return {t for t in targets if t in known and not name.startswith(t + ".") and t != name}


def _cycles(graph: dict[str, set[str]]) -> list[list[str]]:
    cycles: list[list[str]] = []
    state: dict[str, str] = {}

    def visit(node: str, trail: list[str]) -> None:
        state[node] = "open"
        for target in sorted(graph[node]):
            if state.get(target) == "open":
                cycles.append([*trail[trail.index(target) :], target])
            elif target not in state:
                visit(target, [*trail, target])
        state[node] = "done"

    for name in sorted(graph):
        if name not in state:
            visit(name, [name])
    return cycles


def test_there_is_no_import_cycle_even_inside_functions_or_for_types() -> None:
    """The layer contract: imports go one way. Counted everywhere an import can stand, since a
    function-level import is how a cycle hides."""
    found = modules()
    graph = {name: every_import(name, path, set(found)) for name, path in found.items()}
    assert graph["digest.build"] >= {"digest.feeds", "digest.render", "digest.selection"}  # it sees
    assert "digest.files" in graph["digest.render.labels"]  # imports inside functions too
    assert _cycles(graph) == []


def test_no_module_imports_the_package_root() -> None:
    """`digest` is the front door for library users; digest's own modules import what they use
    from where it lives, so the root can stay lazy and nothing leans on it."""
    found = modules()
    offenders = [name for name, path in found.items() if "digest" in every_import(name, path, set(found))]
    assert offenders == []


def test_the_front_door_names_resolve_and_import_lazily() -> None:
    for name in digest.__all__:
        assert getattr(digest, name) is not None, name
    assert isinstance(digest.DigestError("x"), Exception)
    loaded = subprocess.run(
        [
            sys.executable,
            "-c",
            "import sys, digest; print(sorted(m for m in sys.modules if m.startswith('digest')))",
        ],
        capture_output=True,
        text=True,
        check=True,
    )
    # nothing else until a name is used, but the small module that makes the names lazy
    assert loaded.stdout.strip() == "['digest', 'digest._lazy']"


def test_the_package_says_it_is_typed() -> None:
    assert (PACKAGE / "py.typed").is_file()


STAGES = ("feeds", "selection", "render", "send", "web", "feedback")


def _stage(module: str) -> str | None:
    parts = module.split(".")
    return parts[1] if len(parts) > 1 and parts[1] in STAGES else None


def _annotation_names(tree: ast.Module) -> set[int]:
    """The ids of the Name nodes that stand in annotations (arguments, returns, variables)."""
    found: set[int] = set()
    for node in ast.walk(tree):
        annotations = []
        if isinstance(node, ast.arg | ast.AnnAssign) and node.annotation is not None:
            annotations.append(node.annotation)
        if isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef) and node.returns is not None:
            annotations.append(node.returns)
        found.update(id(n) for a in annotations for n in ast.walk(a) if isinstance(n, ast.Name))
    return found


def test_no_stage_imports_another_stage_only_for_a_type() -> None:
    """A type two stages share belongs in models; a stage that needs another's type alone says
    that the type lives in the wrong place."""
    offenders = []
    for name, path in modules().items():
        stage = _stage(name)
        if stage is None or name == f"digest.{stage}":  # the core, and a stage's own front door
            continue
        tree = ast.parse(path.read_text())
        imported = {
            alias.asname or alias.name: node.module
            for node in tree.body
            if isinstance(node, ast.ImportFrom) and node.module and _stage(node.module) not in (None, stage)
            for alias in node.names
        }
        in_annotations = _annotation_names(tree)
        used = {n.id for n in ast.walk(tree) if isinstance(n, ast.Name) and id(n) not in in_annotations}
        offenders += [f"{name} imports {imported[n]}.{n}" for n in sorted(set(imported) - used)]
    assert offenders == []
