"""Answer latency, step by step: `qa ask --json` in fresh processes against one warm Assistant.

    python benchmarks/suite/latency.py [--n 20] [--model NAME] [--library LIB] [--quick]

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
"""
from __future__ import annotations

import argparse
import json
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


if __name__ == "__main__":
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--n", type=int, default=20, help="questions (default 20)")
    ap.add_argument("--model", help="a models.txt name or a GGUF path (default: the default LLM)")
    ap.add_argument("--library", type=Path, default=dev_library())
    ap.add_argument("--quick", action="store_true", help="3 questions: a smoke test")
    a = ap.parse_args()
    print(run(a.n, a.model, a.library, a.quick))
