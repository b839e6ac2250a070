"""The house rules that keep the code navigable (ARCHITECTURE.md), checked on the source: who may import whom,
and how long a module may grow. Read with `ast`, so that a lazy import inside a function counts too."""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parent.parent
FRONT_ENDS = ("rag.web", "rag.slack", "rag.mcp")
ASSEMBLY = "rag.server"  # the one place that mounts every front end on the app
MAX_LINES = 300


def module_name(path: Path) -> str:
    parts = list(path.relative_to(REPO).with_suffix("").parts)
    if parts[-1] == "__init__":
        parts.pop()
    return ".".join(parts)


def imports(path: Path) -> set[str]:
    """Every module `path` imports, relative imports resolved to absolute names."""
    name = module_name(path)
    package = name if path.name == "__init__.py" else name.rpartition(".")[0]
    found: set[str] = set()
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.Import):
            found.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:
                anchor = package.split(".")[: len(package.split(".")) - (node.level - 1)]
                base = ".".join([*anchor, base] if base else anchor)
            found.add(base)
            found.update(f"{base}.{alias.name}" for alias in node.names)
    return found


def sources(*folders: str) -> list[Path]:
    return sorted(p for folder in folders for p in (REPO / folder).rglob("*.py") if "__pycache__" not in p.parts)


def within(name: str, package: str) -> bool:
    return name == package or name.startswith(package + ".")


def violations(files: list[Path], forbidden: tuple[str, ...]) -> list[str]:
    return [
        f"{module_name(path)} imports {name}"
        for path in files
        for name in sorted(imports(path))
        if any(within(name, f) for f in forbidden)
    ]


def test_the_engine_imports_neither_ingest_nor_its_users() -> None:
    assert violations(sources("rag"), ("ingest", "evaluation", "bench", "tests", "app")) == []


def test_ingest_imports_no_front_end_and_no_evaluation() -> None:
    assert violations(sources("ingest"), (*FRONT_ENDS, "evaluation", "bench", "tests", "app")) == []


def test_benchmarks_and_evaluation_import_only_the_product() -> None:
    assert violations(sources("bench", "evaluation"), ("tests",)) == []


@pytest.mark.parametrize("front_end", FRONT_ENDS)
def test_no_front_end_imports_another(front_end: str) -> None:
    files = [p for p in sources(front_end.replace(".", "/"))]
    others = tuple(f for f in FRONT_ENDS if f != front_end)
    assert violations(files, (*others, ASSEMBLY)) == []


def test_modules_stay_small() -> None:
    files = [*sources("rag", "ingest"), REPO / "app.py"]
    long = {module_name(p): n for p in files if (n := len(p.read_text(encoding="utf-8").splitlines())) > MAX_LINES}
    assert long == {}, f"split these modules (over {MAX_LINES} lines): {long}"


def test_the_checker_sees_relative_and_lazy_imports(tmp_path: Path) -> None:
    # the rule checker itself: a relative import two levels up and one inside a function both count
    found = imports(REPO / "rag" / "web" / "chat.py")
    assert "rag.assistant" in found and "gradio" in found
    assert within("rag.web.api", "rag.web") and not within("rag.webhooks", "rag.web")
