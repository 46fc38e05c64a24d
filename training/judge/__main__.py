"""Build the judge in one command: pairs → train → validate → export → model card.

    python -m training.judge --data ../shared/train/rtqa-train --out /tmp/judge-run [--minutes 90]

Writes into ``--out``: ``pairs.jsonl`` (reused when present), ``checkpoint/`` (the best torch
weights), ``judge.onnx`` and ``judge-int8.onnx``, ``record.json`` and ``MODEL_CARD.md``. Shipping
is a separate, deliberate step: copy the chosen graph into ``qa/weights/`` and pin it in
models.txt (``--ship`` does both for the int8 graph where it held its figures).

Validation holds out every question asked on or after ``--val-from`` (2025-10-01): a week's
questions share stories, so a random split would leak. Seeds are fixed; CUDA is used when
present, two CPU cores suffice.
"""
from __future__ import annotations

import argparse
import json
import platform
import sys
import time
from pathlib import Path

import numpy as np

from training.judge import card, pairs


def lexical_baseline(groups: list[pairs.Group]) -> dict:
    """Today's shipped judgment without a model: share of the question's words a sentence holds."""
    from qa.words import overlap
    from training.judge.train import rank_metrics

    return rank_metrics(groups, [np.array([overlap(g.question, t) for t in g.texts]) for g in groups])


def earlier_run(checkpoint: Path | None) -> dict | None:
    """What a continued run started from: the earlier run's steps and minutes (no machine paths)."""
    if checkpoint is None:
        return None
    record = checkpoint.parent / "record.json"
    earlier = json.loads(record.read_text()) if record.exists() else {}
    return {"steps": earlier.get("training", {}).get("steps"), "minutes": earlier.get("minutes_total")}


def main(argv: list[str] | None = None) -> dict:
    ap = argparse.ArgumentParser(prog="python -m training.judge", description=__doc__,
                                 formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--data", type=Path, required=True, help="folder with questions.jsonl and corpus.jsonl.gz")
    ap.add_argument("--out", type=Path, required=True, help="run folder (outside the repo)")
    ap.add_argument("--minutes", type=float, default=90.0, help="training time budget (default 90)")
    ap.add_argument("--val-from", default="2025-10-01", help="questions from this date on validate")
    ap.add_argument("--limit", type=int, default=0, help="use only the first N questions (smoke runs)")
    ap.add_argument("--eval-every", type=int, default=200, help="steps between validations")
    ap.add_argument("--init", type=Path, default=None,
                    help="start from this checkpoint (a run's checkpoint/ folder) instead of the shipped MiniLM")
    ap.add_argument("--ship", action="store_true", help="copy the int8 graph into qa/weights and pin it")
    args = ap.parse_args(argv)
    if hasattr(sys.stdout, "reconfigure"):  # progress reaches a log file as it happens, not at the end
        sys.stdout.reconfigure(line_buffering=True)

    from qa.models import embedder_spec, model_path
    from training.judge.train import Settings, train

    args.out.mkdir(parents=True, exist_ok=True)
    started = time.time()
    pairs_file = args.out / "pairs.jsonl"
    if not pairs_file.exists():
        t = time.monotonic()
        n = pairs.write(pairs.build(args.data, limit=args.limit), pairs_file)
        print(f"pairs: {n} question groups in {time.monotonic() - t:.0f}s")
    groups = pairs.read(pairs_file)
    train_groups = [g for g in groups if g.date < args.val_from]
    val_groups = [g for g in groups if g.date >= args.val_from]
    if not train_groups or not val_groups:
        raise SystemExit(f"split at {args.val_from} leaves {len(train_groups)} training and "
                         f"{len(val_groups)} validation groups: both must be non-empty")
    print(f"train {len(train_groups)} groups, validation {len(val_groups)} groups")
    baseline = lexical_baseline(val_groups)
    print(f"lexical baseline on validation: {baseline}")
    base = model_path(embedder_spec()).parent
    settings = Settings(minutes=args.minutes, eval_every=args.eval_every)
    trained = train(args.init or base, train_groups, val_groups, args.out / "checkpoint", settings)
    print(f"trained: best {trained['best']} after {trained['steps']} steps in {trained['seconds']}s")
    from training.judge.export import export

    exported = export(args.out / "checkpoint", base / "tokenizer.json", val_groups, args.out)
    print(f"exported: {json.dumps(exported)}")
    record = {"data": str(args.data.name), "init": earlier_run(args.init), "val_from": args.val_from, "limit": args.limit,
              "train_groups": len(train_groups), "val_groups": len(val_groups),
              "train_weeks": [min(g.date for g in train_groups), max(g.date for g in train_groups)],
              "val_weeks": [min(g.date for g in val_groups), max(g.date for g in val_groups)],
              "pairs": sum(len(g.texts) for g in groups), "baseline": baseline, "training": trained,
              "export": exported, "settings": settings.__dict__, "minutes_total": round((time.time() - started) / 60, 1),
              "machine": f"{platform.processor() or platform.machine()}, {card.cpu_name()}, "
                         f"{card.cores()} cores, device {trained['device']}"}
    (args.out / "record.json").write_text(json.dumps(record, indent=1))
    (args.out / "MODEL_CARD.md").write_text(card.render(record))
    if args.ship:
        card.ship(args.out, record)
    return record


if __name__ == "__main__":
    main()
