"""Cold start of ``qa ask`` in a new process, against bare ``import sentence_transformers``.

    python benchmarks/cold_start.py [--library LIB] [--dataset ../shared/eval/rtqa-2025] [--n 5] [--answers 2]

LIB is a library of the dataset's corpus (default: the one ``qa eval DATASET`` builds).

Each round runs, one after the other (so machine load hits both alike):
the baseline ``python -c "import sentence_transformers"``, then
``qa ask --no-llm --json`` on a dev question (start to passages known). With
``--answers N``, the first N rounds also run a full ``qa ask --json`` with the
default LLM and report time to the first answer token and to the full answer.
"""
from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from common import DATASET, describe, dev_library  # noqa: E402

REPO = Path(__file__).resolve().parents[1]
QA = [sys.executable, "-c", "import sys; from qa.cli import main; sys.exit(main())"]


def _timed(cmd: list[str]) -> tuple[float, str]:
    start = time.perf_counter()
    done = subprocess.run(cmd, capture_output=True, text=True, cwd=REPO, env={**os.environ, "TOKENIZERS_PARALLELISM": "false"})
    wall = time.perf_counter() - start
    if done.returncode != 0:
        raise RuntimeError(f"{' '.join(cmd[-6:])} failed: {done.stderr[-2000:]}")
    return wall, done.stdout


def _questions(dataset: Path, n: int) -> list[tuple[str, str]]:
    from qa import evaluation

    rows = evaluation.read_jsonl(dataset / "questions.jsonl")
    step = max(1, len(rows) // n)
    return [(r["question"], evaluation.question_date(r).isoformat()) for r in rows[::step][:n]]


def run(library: Path, dataset: Path = DATASET, n: int = 5, answers: int = 2) -> str:
    """Markdown section with the figures; also printed as it goes."""
    bare, passages, in_process, first_token, full = [], [], [], [], []
    for i, (question, day) in enumerate(_questions(dataset, n)):
        bare.append(_timed([sys.executable, "-c", "import sentence_transformers"])[0])
        wall, out = _timed(QA + ["ask", "--no-llm", "--json", "--library", str(library), "--today", day, question])
        passages.append(wall)
        in_process.append(json.loads(out)["timings"]["retrieve_s"])
        print(f"round {i + 1}: bare import {bare[-1]:.2f}s, qa ask --no-llm {wall:.2f}s", flush=True)
        if i < answers:
            wall, out = _timed(QA + ["ask", "--json", "--library", str(library), "--today", day, question])
            t = json.loads(out)["timings"]
            full.append(wall)
            first_token.append(wall - t["total_s"] + t["retrieve_s"] + t.get("first_token_s", t["generate_s"]))
            print(f"         qa ask (default LLM): first token {first_token[-1]:.1f}s, answer {wall:.1f}s", flush=True)

    med = statistics.median
    lines = [
        "## Cold start: `qa ask` in a new process",
        "",
        f"`python benchmarks/cold_start.py --library {library.name} --n {n} --answers {answers}` "
        f"on {library.name} ({_chunks(library)} chunks); {describe()}.",
        "",
        "| what | median s | max s | vs bare import |",
        "|---|---|---|---|",
        f"| baseline: `python -c \"import sentence_transformers\"` | {med(bare):.2f} | {max(bare):.2f} | 1.00 |",
        f"| `qa ask --no-llm --json` (start to passages printed) | {med(passages):.2f} | {max(passages):.2f} "
        f"| {med(passages) / med(bare):.2f} |",
        f"| … of which retrieval inside the process | {med(in_process):.2f} | {max(in_process):.2f} | |",
    ]
    if full:
        lines += [f"| `qa ask --json`, default LLM: first answer token | {med(first_token):.1f} | "
                  f"{max(first_token):.1f} | |",
                  f"| `qa ask --json`, default LLM: full answer | {med(full):.1f} | {max(full):.1f} | |"]
    lines += ["", "Target: passages ≤ 1.5 s cold. The question is encoded by the ONNX export of the "
              "embedder (ONNX Runtime + tokenizers); torch and sentence-transformers are never imported."]
    return "\n".join(lines) + "\n"


def _chunks(library: Path) -> int:
    return json.loads((library / "manifest.json").read_text())["counts"]["chunks"]


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--library", type=Path, default=dev_library(), help="A library built from the dataset's corpus.")
    ap.add_argument("--dataset", type=Path, default=DATASET)
    ap.add_argument("--n", type=int, default=5, help="Rounds (questions).")
    ap.add_argument("--answers", type=int, default=2, help="Rounds that also generate a full answer.")
    args = ap.parse_args()
    print(run(args.library, args.dataset, args.n, args.answers))


if __name__ == "__main__":
    main()
