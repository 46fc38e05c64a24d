"""The trained judge as an ONNX graph for onnxruntime, checked against torch, optionally int8.

The export is kept only where its logits match torch's on the validation pairs (max abs
difference ≤ MAX_DIFF); the int8 graph (onnxruntime dynamic quantisation) only where its
validation P@1 and MRR stay within QUANT_TOLERANCE of the float graph's.
"""
from __future__ import annotations

from pathlib import Path

import numpy as np
import onnxruntime as ort
import torch
from tokenizers import Tokenizer
from transformers import AutoModelForSequenceClassification

from training.judge.pairs import Group
from training.judge.train import MAX_LENGTH, rank_metrics

MAX_DIFF = 1e-3
QUANT_TOLERANCE = 0.01
INPUTS = ("input_ids", "attention_mask", "token_type_ids")


class _Logit(torch.nn.Module):
    def __init__(self, model) -> None:
        super().__init__()
        self.model = model

    def forward(self, input_ids, attention_mask, token_type_ids):
        return self.model(input_ids=input_ids, attention_mask=attention_mask,
                          token_type_ids=token_type_ids).logits[:, 0]


def pair_tokenizer(path: Path) -> Tokenizer:
    tok = Tokenizer.from_file(str(path))
    tok.enable_truncation(MAX_LENGTH, strategy="longest_first")
    tok.enable_padding()
    return tok


def onnx_scores(session: ort.InferenceSession, tok: Tokenizer, questions: list[str], texts: list[str],
                batch: int = 64) -> np.ndarray:
    out = []
    for i in range(0, len(texts), batch):
        enc = tok.encode_batch(list(zip(questions[i:i + batch], texts[i:i + batch])))
        feed = {"input_ids": np.array([e.ids for e in enc], dtype=np.int64),
                "attention_mask": np.array([e.attention_mask for e in enc], dtype=np.int64),
                "token_type_ids": np.array([e.type_ids for e in enc], dtype=np.int64)}
        out.append(session.run(None, feed)[0])
    return np.concatenate(out) if out else np.zeros(0)


def group_metrics(session: ort.InferenceSession, tok: Tokenizer, groups: list[Group]) -> tuple[dict, np.ndarray]:
    flat = onnx_scores(session, tok, [g.question for g in groups for _ in g.texts],
                       [t for g in groups for t in g.texts])
    per, i = [], 0
    for g in groups:
        per.append(flat[i:i + len(g.texts)])
        i += len(g.texts)
    return rank_metrics(groups, per), flat


def export(checkpoint: Path, tokenizer_json: Path, val: list[Group], out_dir: Path) -> dict:
    """Write ``judge.onnx`` (float) and, where it holds, ``judge-int8.onnx`` into ``out_dir``."""
    from onnxruntime.quantization import QuantType, quantize_dynamic

    model = AutoModelForSequenceClassification.from_pretrained(checkpoint).eval()
    out_dir.mkdir(parents=True, exist_ok=True)
    tok = pair_tokenizer(tokenizer_json)
    sample = val[:60]
    questions = [g.question for g in sample for _ in g.texts]
    texts = [t for g in sample for t in g.texts]
    with torch.no_grad():
        enc = tok.encode_batch(list(zip(questions, texts)))
        ids = torch.tensor([e.ids for e in enc])
        ref = _Logit(model)(ids, torch.tensor([e.attention_mask for e in enc]),
                            torch.tensor([e.type_ids for e in enc])).numpy()
    # The reference comes first: tracing leaves the model in a state whose logits drift (~3e-2).
    fp32 = out_dir / "judge.onnx"
    dummy = torch.ones(2, 16, dtype=torch.long)
    torch.onnx.export(_Logit(model), (dummy, torch.ones_like(dummy), torch.zeros_like(dummy)), str(fp32),
                      input_names=list(INPUTS), output_names=["logit"], opset_version=17,
                      dynamic_axes={**{n: {0: "batch", 1: "tokens"} for n in INPUTS}, "logit": {0: "batch"}},
                      dynamo=False)
    options = ort.SessionOptions()
    session = ort.InferenceSession(str(fp32), options, providers=["CPUExecutionProvider"])
    diff = float(np.abs(onnx_scores(session, tok, questions, texts) - ref).max())
    if diff > MAX_DIFF:
        raise RuntimeError(f"ONNX export differs from torch by {diff:.2e} (> {MAX_DIFF})")
    float_metrics, _ = group_metrics(session, tok, val)
    int8 = out_dir / "judge-int8.onnx"
    quantize_dynamic(str(fp32), str(int8), weight_type=QuantType.QInt8, per_channel=True)
    int8_metrics, _ = group_metrics(ort.InferenceSession(str(int8), providers=["CPUExecutionProvider"]), tok, val)
    holds = all(float_metrics[k] - int8_metrics[k] <= QUANT_TOLERANCE for k in ("p@1", "mrr"))
    return {"max_abs_diff_vs_torch": diff, "float": float_metrics, "int8": int8_metrics, "int8_holds": holds,
            "float_bytes": fp32.stat().st_size, "int8_bytes": int8.stat().st_size}
