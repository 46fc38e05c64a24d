"""qa's scorer must agree with the reference shared/eval/score.py on the same predictions."""
from __future__ import annotations

import json
import random
import subprocess
import sys

import pytest

from qa import evaluation

from conftest import EVAL

WEEK = EVAL / "rtqa-2025-week"
pytestmark = pytest.mark.skipif(not (EVAL / "score.py").is_file(), reason="shared eval data not present")


def _predictions(questions: list[dict], corpus: list[dict]) -> list[dict]:
    """A mix of right, wrong, abstained and empty predictions with varied passages."""
    rng = random.Random(7)
    texts = [a["text"] for a in corpus]
    preds = []
    for i, q in enumerate(questions):
        choice = q["choices"][rng.randrange(len(q["choices"]))] if i % 3 else q["answer"]
        passages = [texts[rng.randrange(len(texts))][:600] for _ in range(10)]
        if i % 2:
            passages.insert(rng.randrange(10), f"... {q['answer']} ...")
        preds.append({"id": q["id"], "answer": "" if i % 7 == 0 else f"It was {choice}.",
                      "abstained": i % 5 == 0, "passages": passages})
    return preds


def test_scores_agree_with_the_reference_scorer(tmp_path):
    questions = evaluation.read_jsonl(WEEK / "questions.jsonl")
    corpus = evaluation.read_jsonl(WEEK / "corpus.jsonl.gz")
    preds = _predictions(questions, corpus)
    path = tmp_path / "pred.jsonl"
    path.write_text("".join(json.dumps(p) + "\n" for p in preds))
    ref = subprocess.run([sys.executable, str(EVAL / "score.py"), str(WEEK), str(path)],
                         capture_output=True, text=True, check=True)
    expected = json.loads(ref.stdout.strip().splitlines()[-1])
    ours = evaluation.score(questions, [a["text"] for a in corpus], preds)
    assert ours == expected
    assert 0 < ours["accuracy"] < 1 and 0 < ours["recall@5"] < 1 and 0 < ours["abstained"] < 1


def test_normalisation_matches_squad():
    assert evaluation.normalize("The U.S.-led “War”, an  Iraq!") == "u s led war iraq"
    assert evaluation.contains("Officials named Marco Rubio today", "marco rubio")
    assert not evaluation.contains("Rubios", "Rubio")


def test_a_prediction_carries_the_answer_without_its_citation_marks():
    q = {"choices": ["$20,000", "$300,000", "$1 million", "$5 million"], "answer_index": 3}
    assert not evaluation.is_correct(q, "$5 million [1].")  # "1" ties it with "$1 million"
    assert evaluation.without_citations("$5 million [1].") == "$5 million."
    assert evaluation.is_correct(q, evaluation.without_citations("$5 million [1]."))
    assert evaluation.without_citations("Talks [1, 3] began in 2003 [2].") == "Talks began in 2003."


def test_run_writes_predictions_with_their_citations_and_timings(tmp_path, fake_encoder):
    from qa.api import SEEDS, Assistant

    from fakes import FakeLLM

    assistant = Assistant.create(tmp_path / "lib", encoder=fake_encoder, llm=FakeLLM(
        "Russia proposed six-sided discussions [1].", "NOT IN ARTICLES"))
    assistant.add([SEEDS])
    questions = [{"id": "a", "date": "2003-04-10", "question": "What did Russia propose for six-sided discussions with North Korea?"},
                 {"id": "b", "date": "2003-04-10", "question": "What did Russia propose in 2003 for North Korea six-sided discussions?"}]
    out = tmp_path / "pred.jsonl"
    predictions, times = evaluation.run(assistant, questions, out)
    assert [json.loads(line) for line in out.read_text().splitlines()] == predictions and len(times) == 2
    first, second = predictions
    assert first["answer"] == "Russia proposed six-sided discussions." and not first["extractive"]
    assert [c["n"] for c in first["citations"]] == [1]
    assert second["extractive"] and not second["abstained"], second["answer"]
    for pred in predictions:
        assert {"retrieve_s", "generate_s", "verify_s", "total_s"} <= set(pred["timings"])
        for c in pred["citations"]:
            assert " ".join(c["quote"].split()) in " ".join(pred["passages"][c["n"] - 1].split())


def test_p90_is_the_nearest_rank_value_for_any_number_of_runs():
    from qa.evaluation import p90, timing_summary

    assert p90([3.0]) == 3.0
    assert p90([float(i) for i in range(10, 0, -1)]) == 9.0
    assert p90([float(i) for i in range(1, 21)]) == 18.0
    assert timing_summary([2.0, 1.0, 4.0]) == {"median_s": 2.0, "p90_s": 4.0}


def test_a_window_asks_each_question_over_the_days_up_to_its_own_date(tmp_path, fake_encoder):
    from datetime import date

    from qa.api import SEEDS, Assistant
    from qa.library import Filters

    assert evaluation.question_window(None, date(2013, 4, 12), 7) == Filters(date(2013, 4, 5), date(2013, 4, 12))
    outlet = Filters(sources=("voanews.com",))
    assert evaluation.question_window(outlet, date(2013, 4, 12), 7).sources == ("voanews.com",)
    assert evaluation.question_window(outlet, None, 7) is outlet  # undated question: the filters as given
    assistant = Assistant.create(tmp_path / "lib", encoder=fake_encoder)
    assistant.add([SEEDS])
    questions = [{"id": "a", "date": "2013-04-12", "question": "What did Lavrov say about North Korea?"},
                 {"id": "b", "date": "2003-04-09", "question": "What did Lavrov say about North Korea?"}]
    week, _ = evaluation.run(assistant, questions, retrieval_only=True, window_days=7)
    assert len(week[0]["passages"]) == 1 and "Lavrov" in week[0]["passages"][0]  # the 2013-04-10 article only
    assert len(week[1]["passages"]) == 1 and "six-sided" in week[1]["passages"][0]  # 2003-04-08's
