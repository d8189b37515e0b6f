"""The house rules, enforced: the layers of pyproject.toml's import-linter contract hold, no
module imports itself through others (0 import cycles), and no function is over 60 lines."""

from __future__ import annotations

import ast
import subprocess
import sys
from pathlib import Path

from elastic_atlas.paths import repo_root

PACKAGE = repo_root() / "elastic_atlas"
MAX_FUNCTION_LINES = 60


def test_the_layer_contract_is_kept():
    lint = Path(sys.executable).parent / "lint-imports"
    done = subprocess.run([str(lint), str(repo_root() / "pyproject.toml")],
                          capture_output=True, text=True, check=False, cwd=repo_root())  # fmt: skip
    assert done.returncode == 0, done.stdout[-2000:]
    assert "1 kept, 0 broken" in done.stdout


def import_cycles() -> list[list[str]]:
    """Strongly connected groups of modules (Tarjan) in grimp's graph, which counts imports
    inside functions too."""
    import grimp

    graph = grimp.build_graph("elastic_atlas")
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    found: list[list[str]] = []

    def visit(module: str) -> None:
        index[module] = low[module] = len(index)
        stack.append(module)
        for other in graph.find_modules_directly_imported_by(module):
            if other not in index:
                visit(other)
                low[module] = min(low[module], low[other])
            elif other in stack:
                low[module] = min(low[module], index[other])
        if low[module] == index[module]:
            group = []
            while True:
                member = stack.pop()
                group.append(member)
                if member == module:
                    break
            if len(group) > 1:
                found.append(sorted(group))

    sys.setrecursionlimit(max(sys.getrecursionlimit(), 10_000))
    for module in sorted(graph.modules):
        if module not in index:
            visit(module)
    return found


def test_there_is_no_import_cycle():
    assert import_cycles() == []


def test_no_function_is_over_sixty_lines():
    long = []
    for path in sorted(PACKAGE.rglob("*.py")):
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            if isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef):
                lines = node.end_lineno - node.lineno + 1
                if lines > MAX_FUNCTION_LINES:
                    long.append(f"{path.relative_to(PACKAGE)}:{node.name} {lines}")
    assert long == []


def test_a_hand_written_benchmark_table_is_found():
    """A table outside the generated blocks, above History, is reported; one in History is not."""
    sys.path.insert(0, str(repo_root() / "benchmarks"))
    try:
        from render import hand_written_tables
    finally:
        sys.path.pop(0)
    generated = "<!-- generated: folds -->\n| a |\n<!-- /generated -->\n"
    assert hand_written_tables(generated + "\n## History\n\n| old | 1 |\n") == []
    assert hand_written_tables(generated + "| typed | 2 |\n\n## History\n") == ["| typed | 2 |"]


def test_the_generated_benchmark_tables_match_their_results():
    """BENCHMARKS.md's generated tables are what benchmarks/render.py makes of the results."""
    render = repo_root() / "benchmarks" / "render.py"
    done = subprocess.run([sys.executable, str(render), "--check"], capture_output=True,
                          text=True, check=False)  # fmt: skip
    assert done.returncode == 0, done.stdout + done.stderr
