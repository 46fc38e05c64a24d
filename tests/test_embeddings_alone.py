"""embeddings/ stands without qa/: the encoders and the index are given their model files and
cache folder (``embeddings.files.ModelFiles``) instead of finding them through qa."""
from __future__ import annotations

import ast
import os
import subprocess
import sys
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]


def test_no_embeddings_module_imports_qa_even_inside_a_function():
    found = []
    for path in sorted((REPO / "embeddings").glob("*.py")):
        for node in ast.walk(ast.parse(path.read_text(), str(path))):
            names = ([a.name for a in node.names] if isinstance(node, ast.Import) else
                     [node.module or ""] if isinstance(node, ast.ImportFrom) else [])
            found += [f"{path.name}:{node.lineno} {n}" for n in names if n == "qa" or n.startswith("qa.")]
    assert not found


def test_importing_embeddings_loads_no_qa_module():
    code = ("import sys, embeddings.encoder, embeddings.onnx, embeddings.index, embeddings.files, "
            "embeddings.ray_encoder; print(sorted(m for m in sys.modules if m == 'qa' or m.startswith('qa.')))")
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, cwd=REPO, timeout=120,
                          env={**os.environ, "PYTHONPATH": str(REPO)})
    assert done.returncode == 0, done.stderr
    assert done.stdout.strip() == "[]"
