"""Cold start of ``qa ask`` in a new process: the passages against the import floor, the first
source line and the full answer on a terminal, and the very first ask after an install.

    python benchmarks/suite/cold_start.py [--library LIB] [--dataset ../shared/eval/rtqa-2025] [--n 5]
        [--seed-asks 10] [--baseline-tree DIR] [--first-run]

LIB is a library of the dataset's corpus (default: the one ``qa eval DATASET`` builds).

* Passages: each round runs, one after the other (so machine load hits all alike), the floor
  (issue #25's: a bare Python importing what retrieval cannot do without,
  ``import onnxruntime, tokenizers, faiss, numpy, sqlite3, bm25s``, and opening its ONNX
  sessions, the embedder's export and the judge's), those imports alone (the floor before the
  judge shipped), the floor with the garbage collector as ``qa ask`` runs it (off, frozen at
  exit), and ``qa ask --no-llm --json`` on a dev question, start to exit (with
  ``--baseline-tree``, that tree's too, with ``--baseline-cache`` as its QA_CACHE). The trees
  are byte-compiled first, as an install is.
* ``--seed-asks N``: N cold ``qa ask QUESTION`` (text, on a pseudo-terminal, as a user sees it)
  on the sample-article library: seconds to the first source line and to the end. With
  ``--baseline-tree DIR`` (a checkout of an older qa) each question also runs there, alternating.
* ``--first-run``: ``qa ask`` with an empty data and cache dir, as after ``pip install``: what
  the terminal shows, and when.
"""
from __future__ import annotations

import argparse
import json
import os
import re
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[2]))
from benchmarks.common import DATASET, REPO, describe, dev_library, on_a_terminal  # noqa: E402

QA = [sys.executable, "-c", "import sys; from qa.cli import main; sys.exit(main())"]
IMPORTS = "import onnxruntime, tokenizers, faiss, numpy, sqlite3, bm25s"
# The floor opens each session as plainly as ONNX Runtime allows (default options, one after the
# other): whatever qa does better (sessions in threads, overlapped with the imports) is its own.
SESSIONS = "[onnxruntime.InferenceSession(g, providers=['CPUExecutionProvider']) for g in sys.argv[1:]]"
FLOOR = f"import sys; {IMPORTS}; {SESSIONS}"
# The same with the collector as a question runs (qa/cli/commands.py: off, frozen at exit), to
# tell how much of qa's lead over the floor is that, not work left out.
FLOOR_GC = f"import gc, sys; gc.disable(); {IMPORTS}; {SESSIONS}; gc.freeze()"
SEED_QUESTIONS = (
    "What did Russia propose in 2003?",
    "What did Lavrov warn against in April 2013?",
    "Who did Lavrov meet in London?",
    "Which countries would take part in the six-sided discussions?",
    "What did Russia's deputy foreign minister call the standoff over North Korea's nuclear program?",
    "Whom did Russia accuse of preparing for war with North Korea?",
    "What did Lavrov say about Russia's relationship with the DPRK?",
    "Where were the G8 foreign ministers meeting?",
    "What did the UN Security Council plan to debate?",
    "What military activity did Lavrov criticise?",
)


def _compiled(tree: Path) -> None:
    """Byte-compile a tree's modules, as ``pip install`` does: where PYTHONDONTWRITEBYTECODE is set
    (this dev setup), every process would otherwise compile ~40 of them again (~0.1 s)."""
    subprocess.run([sys.executable, "-m", "compileall", "-q", str(tree / "qa"), str(tree / "embeddings")],
                   check=True, capture_output=True)


def _env(tree: Path = REPO, **extra: str) -> dict[str, str]:
    # qa turns ONNX Runtime's telemetry off before importing it (embeddings/onnx.py); so does the floor.
    return {**os.environ, "PYTHONPATH": str(tree), "TOKENIZERS_PARALLELISM": "false", "ORT_DISABLE_TELEMETRY": "1",
            **extra}


def _graphs() -> list[str]:
    """The ONNX graphs a question opens: the embedder's verified export and the judge's."""
    from embeddings.onnx import onnx_path
    from qa.embedder import embedder_files
    from qa.judge import judge_spec
    from qa.models import model_path

    graphs = [onnx_path(embedder_files())]
    spec = judge_spec()
    return [str(g) for g in graphs + ([model_path(spec)] if spec else [])]


def _timed(cmd: list[str], tree: Path = REPO, **env: str) -> tuple[float, str]:
    start = time.perf_counter()
    done = subprocess.run(cmd, capture_output=True, text=True, cwd=tree, env=_env(tree, **env))
    wall = time.perf_counter() - start
    if done.returncode != 0:
        raise RuntimeError(f"{' '.join(cmd[-6:])} failed: {done.stderr[-2000:]}")
    return wall, done.stdout


def _questions(dataset: Path, n: int) -> list[tuple[str, str]]:
    from qa import evaluation

    rows = evaluation.read_jsonl(dataset / "questions.jsonl")
    step = max(1, len(rows) // n)
    return [(r["question"], evaluation.question_date(r).isoformat()) for r in rows[::step][:n]]


def passages(library: Path, dataset: Path = DATASET, n: int = 5, baseline: Path | None = None,
             baseline_cache: Path | None = None) -> list[str]:
    """Rows: the floor, ``qa ask --no-llm --json`` (and the baseline tree's, with its own cache
    dir: an older qa keeps its files its own way), and retrieval inside the process."""
    trees = {"this tree": (REPO, {}),
             **({f"baseline ({baseline.name})": (baseline, {"QA_CACHE": str(baseline_cache)} if baseline_cache
                                                 else {})} if baseline else {})}
    for tree, _ in trees.values():
        _compiled(tree)
    graphs = _graphs()
    floor: list[float] = []
    imports: list[float] = []
    floor_gc: list[float] = []
    wall: dict[str, list[float]] = {name: [] for name in trees}
    inside: dict[str, list[float]] = {name: [] for name in trees}
    for i, (question, day) in enumerate(_questions(dataset, n)):
        floor.append(_timed([sys.executable, "-c", FLOOR, *graphs])[0])
        imports.append(_timed([sys.executable, "-c", IMPORTS])[0])
        floor_gc.append(_timed([sys.executable, "-c", FLOOR_GC, *graphs])[0])
        for name, (tree, env) in trees.items():
            t, out = _timed(QA + ["ask", "--no-llm", "--json", "--library", str(library), "--today", day, question],
                            tree, **env)
            wall[name].append(t)
            inside[name].append(json.loads(out)["timings"]["retrieve_s"])
        print(f"round {i + 1}: floor {floor[-1]:.2f}s, " + ", ".join(f"{name} {w[-1]:.2f}s" for name, w in wall.items()),
              flush=True)
    med = statistics.median
    rows = [f"`python benchmarks/suite/cold_start.py --library {library.name} --n {n}"
            f"{' --baseline-tree ' + baseline.name if baseline else ''}` on {library.name} "
            f"({_chunks(library)} chunks), alternating:", "",
            "| what | median s | max s | vs floor |", "|---|---|---|---|",
            f"| floor: `python -c \"{IMPORTS}\"`, then an `InferenceSession` for each of "
            f"{' and '.join(Path(g).name for g in graphs)} | {med(floor):.2f} | {max(floor):.2f} | 1.00 |",
            f"| the imports alone (the floor before #25) | {med(imports):.2f} | {max(imports):.2f} "
            f"| {med(imports) / med(floor):.2f} |",
            f"| the floor with the collector off and frozen at exit, as a question runs | {med(floor_gc):.2f} "
            f"| {max(floor_gc):.2f} | {med(floor_gc) / med(floor):.2f} |"]
    for name in trees:
        rows += [f"| `qa ask --no-llm --json` (start to exit), {name} | {med(wall[name]):.2f} | {max(wall[name]):.2f} "
                 f"| {med(wall[name]) / med(floor):.2f} |",
                 f"| … of which retrieval inside the process | {med(inside[name]):.2f} | {max(inside[name]):.2f} | |"]
    return rows + [""]


def _ask_on_terminal(tree: Path, question: str, home: Path) -> tuple[float, float]:
    """Seconds to the first source line ("[1] …" under "Passages", or a citation) and to the end."""
    start = time.perf_counter()
    lines = on_a_terminal(QA + ["ask", question], env=_env(tree, QA_HOME=str(home)), cwd=tree)
    end = time.perf_counter() - start
    first = next((t for t, text in lines if re.match(r"\[\d+\]\s", text)), end)
    return first, end


def seed_asks(n: int, baseline: Path | None) -> list[str]:
    """Rows: first source line and full answer, cold, this tree (and the baseline tree), median and p90."""
    from qa.evaluation import p90

    trees = {"this tree": REPO, **({f"baseline ({baseline.name})": baseline} if baseline else {})}
    homes = {name: Path(tempfile.mkdtemp(prefix="qa-cold-")) for name in trees}
    for name, tree in trees.items():  # index the sample articles once per tree, untimed
        _compiled(tree)
        subprocess.run(QA + ["ask", "--no-llm", "x"], env=_env(tree, QA_HOME=str(homes[name])), cwd=tree,
                       capture_output=True, check=True)
    times: dict[str, list[tuple[float, float]]] = {name: [] for name in trees}
    for i, question in enumerate(SEED_QUESTIONS[:n]):
        for name, tree in trees.items():
            times[name].append(_ask_on_terminal(tree, question, homes[name]))
            print(f"q{i + 1} {name}: first source {times[name][-1][0]:.1f}s, answer {times[name][-1][1]:.1f}s",
                  flush=True)
    rows = [f"Cold `qa ask QUESTION` on the sample-article library, on a pseudo-terminal, {n} questions "
            f"(`--seed-asks {n}`{' --baseline-tree ' + baseline.name if baseline else ''}), trees alternating:", "",
            "| tree | first source line: median s | p90 s | full answer: median s | p90 s |", "|---|---|---|---|---|"]
    for name, pairs in times.items():
        first, end = [p[0] for p in pairs], [p[1] for p in pairs]
        rows.append(f"| {name} | {statistics.median(first):.1f} | {p90(first):.1f} | "
                    f"{statistics.median(end):.1f} | {p90(end):.1f} |")
    return rows + [""]


def _same_line(before: str, now: str) -> bool:
    """``now`` is ``before`` grown (streamed words) or redrawn (a bar's figures)."""
    bare = re.compile(r"[\d.]+|[━╸╺─]")
    return now.startswith(before) or ("━" in before and bare.sub("", before) == bare.sub("", now))


def first_run(question: str = SEED_QUESTIONS[0]) -> list[str]:
    """``qa ask`` with empty QA_HOME and QA_CACHE: each distinct thing the terminal showed, and when."""
    fresh = Path(tempfile.mkdtemp(prefix="qa-first-"))
    env = _env(QA_HOME=str(fresh / "home"), QA_CACHE=str(fresh / "cache"))
    start = time.perf_counter()
    lines = on_a_terminal(QA + ["ask", question], env=env, cwd=REPO)
    total = time.perf_counter() - start
    shown: list[tuple[float, float, str]] = []  # one row per line: when it appeared, when it was complete
    for t, text in lines:
        if shown and _same_line(shown[-1][2], text):
            shown[-1] = (shown[-1][0], t, text)
        else:
            shown.append((t, t, text))
    rows = [f"`qa ask \"{question}\"` after a fresh install (empty QA_HOME and QA_CACHE; `--first-run`): "
            f"**{total:.0f} s** in all. What the terminal showed:", "", "| from s | to s | line (last state) |",
            "|---|---|---|"]
    rows += [f"| {a:.1f} | {b:.1f} | {text[:110].replace('|', '/')} |" for a, b, text in shown]
    return rows + [""]


def run(library: Path, dataset: Path = DATASET, n: int = 5, seed_n: int = 0, baseline: Path | None = None,
        fresh: bool = False, baseline_cache: Path | None = None) -> str:
    """Markdown section with the figures; also printed as it goes."""
    lines = ["## Cold start: `qa ask` in a new process", "", f"Machine: {describe()}.", ""]
    lines += passages(library, dataset, n, baseline, baseline_cache)
    if seed_n:
        lines += seed_asks(seed_n, baseline)
    if fresh:
        lines += first_run()
    return "\n".join(lines) + "\n"


def _chunks(library: Path) -> int:
    return json.loads((library / "manifest.json").read_text())["counts"]["chunks"]


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--library", type=Path, default=dev_library(), help="A library built from the dataset's corpus.")
    ap.add_argument("--dataset", type=Path, default=DATASET)
    ap.add_argument("--n", type=int, default=5, help="Rounds of the passages comparison.")
    ap.add_argument("--seed-asks", type=int, default=0, help="Cold answers on the sample articles (at most 10).")
    ap.add_argument("--baseline-tree", type=Path, help="An older checkout to time against.")
    ap.add_argument("--baseline-cache", type=Path, help="QA_CACHE for the baseline tree's --no-llm runs.")
    ap.add_argument("--first-run", action="store_true", help="Also time qa ask after a fresh install.")
    args = ap.parse_args()
    print(run(args.library, args.dataset, args.n, args.seed_asks, args.baseline_tree, args.first_run,
              args.baseline_cache))


if __name__ == "__main__":
    main()
