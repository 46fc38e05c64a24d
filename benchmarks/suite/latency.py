"""Answer latency, step by step: `qa ask --json` in fresh processes against one warm Assistant.

    python benchmarks/suite/latency.py [--n 20] [--model NAME] [--library LIB] [--quick]
        [--judge | --baseline-tree DIR]

Runs the first N dev questions of rtqa-2025 (split by id hash as in
``common.split``) against LIB (default: the rtqa-2025 library ``qa eval``
builds), each with ``--today`` = its date, three times, alternating:
  * cold: ``qa ask QUESTION --json`` in a new process (the installed ``qa`` next to this
    Python), which loads the encoder, the library and the LLM every time; its wall time
    is what a shell user waits. It starts from the LLM state the previous question's
    process saved (so its system prompt is not computed again, as for a user's second
    ``qa ask``);
  * cold, no saved state (the baseline): the same, with the saved state removed first,
    as for the very first ``qa ask``; this process saves the state the next question's
    cold run starts from (one that abstains without the model saves none, and the next
    cold run starts bare). The saved state is the user's cache, rebuilt by any answer;
  * warm: ``Assistant.ask`` on one object kept across questions (as the TUI and
    ``Assistant.chat()`` do), so the model is loaded and the system prompt cached.
Prints median and p90 of the answer's own timings (retrieve / first token / generate /
verify / total) and of the wall time. Questions that abstain before asking the model
count with generate = verify = 0; how many did is printed. ``--quick``: 3 questions.

``--judge``: instead, what the judge costs an answer (issue #25): warm answers with the shipped
judge and without it (``Assistant(judge=None)``: cosine and shared words alone), one LLM shared
by both, the two alternating over the same questions (which goes first alternates too), after
one untimed answer each.

``--baseline-tree DIR`` (a checkout of an older qa, e.g. ``git archive`` of the commit an issue
was measured on): instead, warm answers of this tree and of DIR, each in a process of its own
(two trees cannot share one interpreter) that loads everything, answers one question untimed,
then a block of 4 questions; the trees alternate block by block, and which goes first alternates
too. Only ``qa.api.Assistant`` and ``qa.evaluation`` are used, which every tree has.
"""
from __future__ import annotations

import argparse
import json
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from qa import evaluation
from qa.api import Assistant
from qa.evaluation import p90
from qa.paths import cache_dir

sys.path.insert(0, str(Path(__file__).resolve().parents[2]))
from benchmarks.common import dev_library  # noqa: E402
from benchmarks.suite.llm import dev_questions, machine  # noqa: E402

QA = Path(sys.executable).parent / "qa"
BLOCK = 4
# Runs inside one tree: where qa came from, then warm answers to the questions on stdin after the
# first (untimed), one JSON line each.
WORKER = """
import json, sys, time
from pathlib import Path
import qa
from qa.api import Assistant
from qa import evaluation
qs = [json.loads(line) for line in sys.stdin]
print(json.dumps({"package": qa.__file__}))
assistant = Assistant(Path(sys.argv[1]))
for q in qs:
    start = time.perf_counter()
    answer = assistant.ask(q["question"], today=evaluation.question_date(q))
    if q is not qs[0]:
        print(json.dumps({**answer.timings, "wall_s": time.perf_counter() - start, "abstained": answer.abstained}))
"""
KEYS = ["retrieve_s", "first_token_s", "generate_s", "verify_s", "total_s", "wall_s"]


def ask_process(q: dict, library: Path, model: str | None) -> dict:
    """``qa ask --json`` in a new process: the answer's timings plus the process's wall time."""
    today = evaluation.question_date(q)
    cmd = [str(QA), "ask", q["question"], "--library", str(library), "--json"]
    cmd += ["--today", today.isoformat()] if today else []
    cmd += ["--model", model] if model else []
    start = time.perf_counter()
    out = subprocess.run(cmd, capture_output=True, text=True, check=True).stdout
    wall = time.perf_counter() - start
    answer = json.loads(out)
    return {**answer["timings"], "wall_s": wall, "abstained": answer["abstained"]}


def ask_warm(assistant: Assistant, q: dict) -> dict:
    start = time.perf_counter()
    answer = assistant.ask(q["question"], today=evaluation.question_date(q))
    return {**answer.timings, "wall_s": time.perf_counter() - start, "abstained": answer.abstained}


def _table(label: str, rows: list[dict]) -> list[str]:
    abstained = sum(r["abstained"] for r in rows)
    out = [f"**{label}** ({len(rows)} questions, {abstained} abstained without the model)", "",
           "| step | median s | p90 s |", "|---|---:|---:|"]
    for key in KEYS:
        values = [r.get(key, 0.0) for r in rows]
        out.append(f"| {key.removesuffix('_s')} | {statistics.median(values):.2f} | {p90(values):.2f} |")
    return out + [""]


def run(n: int = 20, model: str | None = None, library: Path | None = None, quick: bool = False) -> str:
    """Markdown: latency per step, cold processes against one warm Assistant, same questions."""
    library = library or dev_library()
    primer, *questions = dev_questions()[:1 + (3 if quick else n)]
    assistant = Assistant(library, model)
    model_name = assistant.llm.name  # loads the model now: the warm side must not pay for it on question 1
    assistant.llm.state_dir = Path(tempfile.mkdtemp())  # the warm side keeps to its own cache
    saved = cache_dir() / "llm-state"
    shutil.rmtree(saved, ignore_errors=True)
    ask_process(primer, library, model)  # saves the state question 1's cold run starts from
    cold, bare, warm = [], [], []
    for q in questions:
        cold.append(ask_process(q, library, model))
        shutil.rmtree(saved, ignore_errors=True)
        bare.append(ask_process(q, library, model))
        warm.append(ask_warm(assistant, q))
    shutil.rmtree(assistant.llm.state_dir, ignore_errors=True)
    setup = (f"Machine: {machine()}; model {model_name}; library {library}; "
             f"dev questions 2-{len(questions) + 1} of rtqa-2025 (the first one primes the saved state), "
             "cold, cold without a saved state and warm alternating.")
    lines = ["## Answer latency", "", setup, "",
             *_table(f"cold: `{QA.name} ask --json` per process, from the state the previous one saved", cold),
             *_table(f"cold, no saved state (baseline): `{QA.name} ask --json` per process", bare),
             *_table("warm: one Assistant", warm)]
    return "\n".join(lines)


def judge_cost(n: int = 12, model: str | None = None, library: Path | None = None) -> str:
    """Markdown: warm answer latency with the judge and without it, same questions, alternating."""
    library = library or dev_library()
    primer, *questions = dev_questions()[:1 + n]
    judged = Assistant(library, model)
    judged.llm.state_dir = Path(tempfile.mkdtemp())  # loads the model now, and keeps to its own cache
    sides = {"with the judge": judged,
             "without (`judge=None`)": Assistant(library, llm=judged.llm, encoder=judged.encoder, judge=None)}
    for assistant in sides.values():
        ask_warm(assistant, primer)
    rows: dict[str, list[dict]] = {name: [] for name in sides}
    for i, q in enumerate(questions):
        for name in (list(sides) if i % 2 == 0 else list(sides)[::-1]):
            rows[name].append(ask_warm(sides[name], q))
            print(f"q{i + 1} {name}: {rows[name][-1]['wall_s']:.1f}s", flush=True)
    shutil.rmtree(judged.llm.state_dir, ignore_errors=True)
    setup = (f"Machine: {machine()}; model {judged.llm.name}; library {library.name}; dev questions 2-{n + 1} of "
             "rtqa-2025, one warm Assistant with the judge and one without sharing the LLM, alternating.")
    return "\n".join(["## The judge's cost to an answer", "", setup, "",
                      "What the model read and wrote (medians; which says whether a difference is the judge's own "
                      "time or a longer prompt or reply):", "",
                      *_side_by_side(rows, "with the judge / without")])


def against_tree(baseline: Path, n: int = 16, library: Path | None = None) -> str:
    """Markdown: warm answer latency of this tree and of ``baseline``, blocks alternating."""
    library = library or dev_library()
    primer, *questions = dev_questions()[:1 + n]
    trees = {"this tree": Path(__file__).resolve().parents[2], f"baseline ({baseline.name})": baseline.resolve()}
    rows: dict[str, list[dict]] = {name: [] for name in trees}
    for b, at in enumerate(range(0, len(questions), BLOCK)):
        block = [primer, *questions[at:at + BLOCK]]
        for name in (list(trees) if b % 2 == 0 else list(trees)[::-1]):
            # Run in the tree: ``python -c`` puts the working directory first on sys.path.
            out = subprocess.run([sys.executable, "-c", WORKER, str(library.resolve())],
                                 input="\n".join(map(json.dumps, block)), capture_output=True, text=True,
                                 check=True, cwd=trees[name], env={**os.environ, "PYTHONPATH": str(trees[name])})
            package, *answers = [json.loads(line) for line in out.stdout.splitlines()]
            if not Path(package["package"]).is_relative_to(trees[name]):
                raise SystemExit(f"{name} imported qa from {package['package']}, not from {trees[name]}")
            rows[name] += answers
            median = statistics.median(r["total_s"] for r in rows[name][-BLOCK:])
            print(f"block {b + 1} {name}: {median:.1f}s", flush=True)
    setup = (f"Machine: {machine()}; library {library.name}; dev questions 2-{n + 1} of rtqa-2025, warm answers, "
             f"each tree in its own processes, blocks of {BLOCK} alternating.")
    return "\n".join(["## Answer latency against an older tree", "", setup, "",
                      *_side_by_side(rows, "this tree / the baseline")])


def _side_by_side(rows: dict[str, list[dict]], ratio_label: str) -> list[str]:
    """Each side's step table, what its model read and wrote, and the first side's median answer
    time against the second's, as a ratio and question by question (the sides answered the same
    questions in the same order)."""
    first, second = rows.values()
    ratio = statistics.median(r["total_s"] for r in first) / statistics.median(r["total_s"] for r in second)
    added = [a["total_s"] - b["total_s"] for a, b in zip(first, second)]
    return [*[line for name, r in rows.items() for line in _table(name, r)],
            "| side | prompt tokens computed | tokens generated |", "|---|---:|---:|",
            *[f"| {name} | {statistics.median(x.get('prompt_tokens_computed', 0) for x in r):.0f} "
              f"| {statistics.median(x.get('generated_tokens', 0) for x in r):.0f} |" for name, r in rows.items()], "",
            f"Median answer time, {ratio_label}: **{ratio:.2f}**; question by question, the first takes median "
            f"{statistics.median(added):+.2f} s, p90 {p90(added):+.2f} s more.", ""]


if __name__ == "__main__":
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--n", type=int, default=20, help="questions (default 20)")
    ap.add_argument("--model", help="a models.txt name or a GGUF path (default: the default LLM)")
    ap.add_argument("--library", type=Path, default=dev_library())
    ap.add_argument("--quick", action="store_true", help="3 questions: a smoke test")
    ap.add_argument("--judge", action="store_true",
                    help="instead: warm answers with the judge and without, alternating (issue #25)")
    ap.add_argument("--baseline-tree", type=Path,
                    help="instead: warm answers of this tree against an older checkout's, alternating")
    a = ap.parse_args()
    if a.baseline_tree:
        print(against_tree(a.baseline_tree, a.n, a.library))
    else:
        print(judge_cost(a.n, a.model, a.library) if a.judge else run(a.n, a.model, a.library, a.quick))
