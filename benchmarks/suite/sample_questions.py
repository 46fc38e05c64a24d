"""The questions a new user asks first, with and without the judge, side by side in one run.

    python benchmarks/suite/sample_questions.py --library SEED_LIB [--week-library WEEK_LIB]
        [--variants judge,none,candidate --judge-graph RUN/judge-int8.onnx]

The 13 sample questions against the four sample articles (9 answered with the expected fact and
a citation, 4 off-topic ones declined), and, with ``--week-library`` (``qa ingest
../shared/eval/rtqa-2025-week/corpus.jsonl.gz``), the week questions the judge issue named: a
2025 figure the articles give only for 2024 must be declined or said to be missing, a "why"
answered with the reason, and a 2003 question asked of a 2025 week not answered with a 2025 fact.
Prints each answer and a verdict, then the count right per variant.
"""
from __future__ import annotations

import argparse
import re
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[2]))

from benchmarks.common import describe  # noqa: E402

ANSWERED = "answered"
DECLINED = "declined"
# (question, what a right answer holds: a regex every one of which matches, or DECLINED)
SAMPLE = [
    ("What did Russia propose in 2003?", [r"six[- ](sided|party|nation|way)"]),
    ("Who did Lavrov meet in London?", [r"Kerry"]),
    ("Which countries did Lavrov accuse of preparing for war with North Korea?",
     [r"United States|U\.?S\.?", r"South Korea", r"Japan"]),
    ("What warning did Lavrov give about North Korea in April 2013?", [r"scare|frighten", r"military maneuvers"]),
    ("Which Russian deputy foreign minister called the standoff extremely dangerous?", [r"Losyukov"]),
    ("In which city did the G8 foreign ministers meet in April 2013?", [r"London"]),
    ("Which US national security advisor visited Moscow to discuss North Korea in 2003?", [r"Rice"]),
    ("Where did Lavrov hold the news conference accusing the US of preparing for war?", [r"U\.?N\.?\b|United Nations"]),
    ("What did Lavrov say the US-led military bloc is preparing for?", [r"war"]),
    ("Who won the 2022 World Cup?", DECLINED),
    ("What is the price of Bitcoin today?", DECLINED),
    ("How much will Venice charge day-trippers in 2025?", DECLINED),
    ("Which team won the 2024 Super Bowl?", DECLINED),
]
WEEK = [
    ("How much will Venice charge day-trippers in 2025?", DECLINED),
    ("Why do U.S. lawmakers want to ban TikTok?", [r"national security|security"]),
    ("What did Russia propose in 2003?", DECLINED),
    ("The first congestion charging system in the US took effect in which city?", [r"New York"]),
]
_NOT_GIVEN = re.compile(r"don't (answer|say)|not (given|say|stated)|doesn't say|no .* given", re.I)


def verdict(answer, expected) -> bool:
    if expected == DECLINED:
        return answer.abstained or bool(_NOT_GIVEN.search(answer.text))
    return (not answer.abstained and bool(answer.citations)
            and all(re.search(p, answer.text, re.I) for p in expected))


def run(assistant, questions, label: str) -> int:
    right = 0
    for question, expected in questions:
        answer = assistant.ask(question)
        ok = verdict(answer, expected)
        right += ok
        print(f"  [{'right' if ok else 'WRONG'}] {question}\n      → {answer.text[:220]}", flush=True)
    print(f"{label}: {right}/{len(questions)} right", flush=True)
    return right


def candidate(graph: Path):
    """The judge a training run exported, read with the shipped tokenizer."""
    from qa.judge import Judge
    from qa.models import embedder_spec, model_path

    return Judge(graph, model_path(embedder_spec()).parent / "tokenizer.json", graph.name)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--library", type=Path, required=True, help="the four sample articles' library")
    ap.add_argument("--week-library", type=Path, help="a library of ../shared/eval/rtqa-2025-week")
    ap.add_argument("--variants", default="judge,none",
                    help="judge (shipped), none (before the judge), candidate (the --judge-graph judge)")
    ap.add_argument("--judge-graph", type=Path, help="a training run's judge-int8.onnx, for the candidate variant")
    a = ap.parse_args()
    if "candidate" in a.variants.split(",") and not a.judge_graph:
        ap.error("the candidate variant needs --judge-graph")
    from qa.embedder import load_encoder
    from qa.api import Assistant
    from qa.llm import load_llm

    encoder, llm = load_encoder(), load_llm(None)
    print(describe())
    judges = {"judge": {}, "none": {"judge": None}}
    if a.judge_graph:
        judges["candidate"] = {"judge": candidate(a.judge_graph)}
    for variant in a.variants.split(","):
        judge = judges[variant]
        run(Assistant(a.library, encoder=encoder, llm=llm, **judge), SAMPLE, f"{variant}: sample questions")
        if a.week_library:
            run(Assistant(a.week_library, encoder=encoder, llm=llm, **judge), WEEK, f"{variant}: week questions")


if __name__ == "__main__":
    main()
