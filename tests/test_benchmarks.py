"""Every benchmark script answers --help, and none changes a project module while it runs.

Experiments are free to rot in their figures, not in their imports: ``--help`` imports the
whole script, so a name that moved (``benchmarks/milvus.py`` once imported ``_expr`` after it
became a method) fails here instead of on the day someone reruns it.
"""
from __future__ import annotations

import ast
import importlib.util
import os
import subprocess
import sys
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[1]
SCRIPTS = sorted(p for p in (REPO / "benchmarks").rglob("*.py")
                 if p.name not in ("common.py", "__init__.py") and "__pycache__" not in p.parts)


def _help(script: Path) -> subprocess.CompletedProcess:
    env = {**os.environ, "PYTHONPATH": str(REPO)}
    return subprocess.run([sys.executable, str(script), "--help"], capture_output=True, text=True,
                          env=env, cwd=REPO, timeout=120)


def test_the_suite_and_the_experiments_are_apart():
    suite = {p.stem for p in (REPO / "benchmarks" / "suite").glob("*.py")}
    assert {"cold_start", "ingest", "scale", "llm", "latency"} <= suite
    assert (REPO / "benchmarks" / "run.py").exists() and (REPO / "benchmarks" / "experiments").is_dir()


def test_every_benchmark_answers_help():
    assert len(SCRIPTS) >= 15
    with ThreadPoolExecutor(max_workers=4) as pool:
        done = dict(zip(SCRIPTS, pool.map(_help, SCRIPTS)))
    failed = {str(p.relative_to(REPO)): r.stderr[-800:] for p, r in done.items()
              if r.returncode != 0 or "usage:" not in r.stdout}
    assert not failed, failed


def _module_names(tree: ast.Module) -> set[str]:
    """The names a script binds to project modules (``import qa.x``, ``from qa import answering``)."""
    names = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            names |= {(a.asname or a.name).split(".")[0] for a in node.names
                      if a.name.split(".")[0] in ("qa", "embeddings", "tui")}
        elif isinstance(node, ast.ImportFrom) and (node.module or "").split(".")[0] in ("qa", "embeddings", "tui"):
            names |= {a.asname or a.name for a in node.names
                      if _is_package(node.module) and importlib.util.find_spec(f"{node.module}.{a.name}")}
    return names


def _is_package(module: str) -> bool:
    spec = importlib.util.find_spec(module)
    return spec is not None and spec.submodule_search_locations is not None


@pytest.mark.parametrize("script", SCRIPTS, ids=lambda p: str(p.relative_to(REPO / "benchmarks")))
def test_no_benchmark_changes_a_project_module(script):
    tree = ast.parse(script.read_text(), str(script))
    modules = _module_names(tree)
    for node in ast.walk(tree):
        if isinstance(node, ast.Call) and getattr(node.func, "id", None) == "setattr":
            assert not (isinstance(node.args[0], ast.Name) and node.args[0].id in modules), \
                f"{script.name}:{node.lineno} sets an attribute of a module"
        targets = node.targets if isinstance(node, ast.Assign) else [node.target] if isinstance(
            node, (ast.AugAssign, ast.AnnAssign)) else []
        for t in targets:
            base = t
            while isinstance(base, ast.Attribute):
                base = base.value
            assert not (isinstance(t, ast.Attribute) and isinstance(base, ast.Name) and base.id in modules), \
                f"{script.name}:{node.lineno} assigns to a module's attribute"
