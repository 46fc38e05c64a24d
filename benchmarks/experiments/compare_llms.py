"""Compare the listed LLMs on the seed questions and an eval dataset, same retrieval for all.

    python benchmarks/experiments/compare_llms.py --dataset ../shared/eval/rtqa-2025-week --library WEEKLIB

Prints, per model: the seed answers (must mention six-sided/six-party talks and cite
the 2003 article; must abstain on the World Cup), the dataset's accuracy and
abstention as score.py computes them, and median/p90 answer time.
"""
from __future__ import annotations

import argparse
import gc
import re
import sys
import tempfile
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[2]))
from qa.embedder import load_encoder  # noqa: E402
from qa import evaluation  # noqa: E402
from qa.api import SEEDS, Assistant  # noqa: E402
from qa.library import create_library  # noqa: E402
from qa.llm import load_llm  # noqa: E402
from qa.models import load_manifest  # noqa: E402

SEED_QUESTIONS = [
    ("What did Russia propose in 2003?", lambda a: bool(re.search(r"six[- ](sided|party|nation|way)", a.text, re.I))
     and any("003_c13b77ec0b5e076f" in c.article_id for c in a.citations)),
    ("What did Lavrov warn about in 2013?", lambda a: not a.abstained and bool(re.search(r"militar", a.text, re.I))),
    ("Who accused the US of preparing for war with North Korea?", lambda a: "lavrov" in a.text.lower()),
    ("Who won the 2022 World Cup?", lambda a: a.abstained),
    ("What is the capital of Australia?", lambda a: a.abstained),
]


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--dataset", type=Path, required=True)
    ap.add_argument("--library", type=Path, required=True)
    ap.add_argument("--models", nargs="*", default=[s.name for s in load_manifest() if s.role == "llm"])
    a = ap.parse_args()
    encoder = load_encoder()
    seed_dir = Path(tempfile.mkdtemp()) / "seeds"
    create_library(seed_dir, encoder).add([SEEDS], encoder)
    questions = evaluation.read_jsonl(a.dataset / "questions.jsonl")
    texts = [r["text"] for r in evaluation.read_jsonl(evaluation.corpus_path(a.dataset))]
    rows = []
    for name in a.models:
        llm = load_llm(name)
        seeds = Assistant(seed_dir, llm=llm, encoder=encoder)
        passed = 0
        for q, check in SEED_QUESTIONS:
            answer = seeds.ask(q)
            ok = check(answer)
            passed += ok
            print(f"[{name}] {'PASS' if ok else 'FAIL'} {q} -> {answer.text}")
        dataset = Assistant(a.library, llm=llm, encoder=encoder, k=10)
        preds, times = evaluation.run(dataset, questions)
        s = {**evaluation.score(questions, texts, preds), **evaluation.timing_summary(times)}
        rows.append((name, passed, s))
        print(f"[{name}] {s}")
        del llm, seeds, dataset
        gc.collect()
    print("\n| model | seed checks | accuracy | abstained | median s | p90 s |\n|---|---|---|---|---|---|")
    for name, passed, s in rows:
        print(f"| {name} | {passed}/{len(SEED_QUESTIONS)} | {s['accuracy']:.3f} | {s['abstained']:.3f} | "
              f"{s['median_s']:.1f} | {s['p90_s']:.1f} |")


if __name__ == "__main__":
    main()
