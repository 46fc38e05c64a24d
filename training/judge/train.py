"""Fine-tune the shipped MiniLM weights into a cross-encoder: (question, sentence) → does it answer?

The loss is listwise (one positive against the group's negatives, softmax cross-entropy), which
is what ranking needs, plus a pointwise binary term so that the score also reads as a probability
for the "not in the articles" decision. Training stops at a time budget, and the learning rate
falls linearly to zero over that budget after its warm-up (the first run, at a constant rate, peaked
at 0.7 of its budget and then lost validation P@1); the checkpoint with the best validation MRR is kept.
"""
from __future__ import annotations

import math
import random
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch
from transformers import AutoModelForSequenceClassification, AutoTokenizer

from training.judge.pairs import Group

MAX_LENGTH = 96
GROUP = 8  # one positive and seven negatives per listwise item


@dataclass
class Settings:
    minutes: float = 60.0
    groups_per_step: int = 4
    lr: float = 4e-5
    warmup: int = 100
    eval_every: int = 200
    pointwise: float = 0.5
    seed: int = 13


def tokenize(tokenizer, questions: list[str], texts: list[str]) -> dict[str, torch.Tensor]:
    return tokenizer(questions, texts, truncation="longest_first", max_length=MAX_LENGTH,
                     padding=True, return_tensors="pt")


@torch.no_grad()
def score(model, tokenizer, questions: list[str], texts: list[str], batch: int = 64) -> np.ndarray:
    """Logits for each (question, text) pair."""
    model.eval()
    out = []
    for i in range(0, len(texts), batch):
        enc = tokenize(tokenizer, questions[i:i + batch], texts[i:i + batch])
        out.append(model(**enc).logits[:, 0].float().numpy())
    return np.concatenate(out) if out else np.zeros(0)


def rank_metrics(groups: list[Group], scores: list[np.ndarray]) -> dict[str, float]:
    """P@1 (the top text answers) and MRR of the first positive, over groups."""
    p1, mrr = [], []
    for g, s in zip(groups, scores):
        order = np.argsort(-s, kind="stable")
        labels = np.asarray(g.labels)[order]
        first = int(np.argmax(labels))
        p1.append(float(labels[0]))
        mrr.append(1.0 / (first + 1))
    return {"p@1": round(float(np.mean(p1)), 4), "mrr": round(float(np.mean(mrr)), 4), "groups": len(groups)}


def evaluate(model, tokenizer, groups: list[Group]) -> dict[str, float]:
    questions = [g.question for g in groups for _ in g.texts]
    texts = [t for g in groups for t in g.texts]
    flat = score(model, tokenizer, questions, texts)
    per, i = [], 0
    for g in groups:
        per.append(flat[i:i + len(g.texts)])
        i += len(g.texts)
    return rank_metrics(groups, per)


def _items(groups: list[Group], rng: random.Random) -> list[tuple[str, list[str]]]:
    """Listwise items for one epoch: each positive with GROUP - 1 negatives of its question."""
    items = []
    for g in groups:
        pos = [t for t, y in zip(g.texts, g.labels) if y]
        neg = [t for t, y in zip(g.texts, g.labels) if not y]
        for p in pos:
            picked = rng.sample(neg, min(GROUP - 1, len(neg)))
            while len(picked) < GROUP - 1:
                picked.append(rng.choice(neg))
            items.append((g.question, [p] + picked))
    rng.shuffle(items)
    return items


def train(base: Path, train_groups: list[Group], val_groups: list[Group], out: Path, settings: Settings,
          log: Callable[[str], None] = print) -> dict:
    """Train from the weights in ``base``; writes the best checkpoint to ``out``; returns a record."""
    torch.manual_seed(settings.seed)
    rng = random.Random(settings.seed)
    tokenizer = AutoTokenizer.from_pretrained(base)
    model = AutoModelForSequenceClassification.from_pretrained(base, num_labels=1)
    device = "cuda" if torch.cuda.is_available() else "cpu"
    model.to(device)
    items = _items(train_groups, rng)
    steps_per_epoch = math.ceil(len(items) / settings.groups_per_step)
    optimizer = torch.optim.AdamW(model.parameters(), lr=settings.lr, weight_decay=0.01)
    budget = settings.minutes * 60
    start = time.monotonic()
    best = evaluate(model, tokenizer, val_groups)
    log(f"step 0: val {best}")
    best["step"] = 0
    history = [dict(best)]
    step, epoch = 0, 0
    bce = torch.nn.BCEWithLogitsLoss()
    while time.monotonic() - start < budget:
        if step and step % steps_per_epoch == 0:
            epoch += 1
            items = _items(train_groups, rng)
        at = (step % steps_per_epoch) * settings.groups_per_step
        batch = items[at:at + settings.groups_per_step]
        questions = [q for q, texts in batch for _ in texts]
        texts = [t for _, ts in batch for t in ts]
        enc = {k: v.to(device) for k, v in tokenize(tokenizer, questions, texts).items()}
        model.train()
        logits = model(**enc).logits[:, 0].view(len(batch), GROUP)
        target = torch.zeros(len(batch), dtype=torch.long, device=device)
        labels = torch.zeros_like(logits)
        labels[:, 0] = 1.0
        loss = torch.nn.functional.cross_entropy(logits, target) + settings.pointwise * bce(logits, labels)
        loss.backward()
        torch.nn.utils.clip_grad_norm_(model.parameters(), 1.0)
        lr_scale = min((step + 1) / settings.warmup, max(0.0, 1 - (time.monotonic() - start) / budget))
        for group in optimizer.param_groups:
            group["lr"] = settings.lr * lr_scale
        optimizer.step()
        optimizer.zero_grad()
        step += 1
        if step % 20 == 0:
            log(f"step {step} epoch {epoch} loss {loss.item():.4f} {time.monotonic() - start:.0f}s")
        if step % settings.eval_every == 0:
            metrics = evaluate(model, tokenizer, val_groups)
            metrics["step"] = step
            history.append(metrics)
            log(f"step {step}: val {metrics}")
            if metrics["mrr"] > best["mrr"]:
                best = metrics
                model.save_pretrained(out)
                tokenizer.save_pretrained(out)
    metrics = evaluate(model, tokenizer, val_groups)
    metrics["step"] = step
    history.append(metrics)
    if metrics["mrr"] > best["mrr"] or best["step"] == 0:
        best = metrics
        model.save_pretrained(out)
        tokenizer.save_pretrained(out)
    return {"best": best, "history": history, "steps": step, "epochs": step / steps_per_epoch,
            "items_per_epoch": len(items), "seconds": round(time.monotonic() - start), "device": device}
