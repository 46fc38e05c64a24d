"""The judge's training pipeline end to end on a tiny made-up quiz: pairs, a few steps of
training, validation, the ONNX export checked against torch, int8, and the model card."""
from __future__ import annotations

import gzip
import json
import random
import subprocess
import sys
from pathlib import Path

import pytest

from training.judge.pairs import build_group, holds, normalize

REPO = Path(__file__).resolve().parents[1]
FILLER = ["The weather was mild for the season.", "Officials met for three hours on Tuesday.",
          "Markets closed slightly higher in late trading.", "The report was published online later."]


def _quiz(folder: Path) -> Path:
    people = ["Ana Silva", "Bo Chen", "Carl Berg", "Dina Koh", "Eli Park", "Fay Moss"]
    questions, articles = [], []
    for i, name in enumerate(people):
        aid = f"art{i}"
        text = " ".join([FILLER[i % 4], f"The mayor of Riverton named {name} as the new harbour chief.",
                         FILLER[(i + 1) % 4], "The harbour chief post had been empty since May."])
        articles.append({"id": aid, "url": "", "title": f"Harbour news {i}", "text": text})
        questions.append({"id": f"q{i}", "date": "2024-03-01" if i < 4 else "2025-11-01",
                          "question": f"Who did the mayor of Riverton name as harbour chief (week {i})?",
                          "choices": [name, people[(i + 1) % 6]], "answer_index": 0, "answer": name,
                          "evidence": "", "articles": [aid]})
    (folder / "questions.jsonl").write_text("\n".join(json.dumps(q) for q in questions))
    with gzip.open(folder / "corpus.jsonl.gz", "wt") as f:
        f.write("\n".join(json.dumps(a) for a in articles))
    return folder


def test_a_pair_group_holds_the_answering_sentence_as_its_positive(tmp_path):
    folder = _quiz(tmp_path)
    q = json.loads((folder / "questions.jsonl").read_text().splitlines()[0])
    corpus = {json.loads(line)["id"]: json.loads(line) for line in gzip.open(folder / "corpus.jsonl.gz", "rt")}
    group = build_group(q, corpus, random.Random(1))
    positives = [t for t, y in zip(group.texts, group.labels) if y]
    assert positives == ["The mayor of Riverton named Ana Silva as the new harbour chief."]
    assert all(not holds(normalize(t), normalize("Ana Silva")) for t, y in zip(group.texts, group.labels) if not y)


@pytest.mark.slow
def test_the_pipeline_trains_exports_and_writes_its_card(tmp_path):
    (tmp_path / "quiz").mkdir()
    data, out = _quiz(tmp_path / "quiz"), tmp_path / "run"
    done = subprocess.run([sys.executable, "-m", "training.judge", "--data", str(data), "--out", str(out),
                           "--minutes", "0.02", "--eval-every", "2"], cwd=REPO, capture_output=True, text=True,
                          timeout=600)
    assert done.returncode == 0, done.stderr[-2000:]
    record = json.loads((out / "record.json").read_text())
    assert record["train_groups"] == 4 and record["val_groups"] == 2
    assert record["export"]["max_abs_diff_vs_torch"] <= 1e-3
    assert (out / "judge-int8.onnx").stat().st_size < (out / "judge.onnx").stat().st_size
    assert "validation 2 questions" in (out / "MODEL_CARD.md").read_text()
