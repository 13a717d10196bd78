#!/usr/bin/env python3
"""PyTorch side of bench/train-step.bench.ts: one InfoNCE training step of a BertModel-shaped
encoder (random weights), the step `xlir train` takes: B queries and B positives embedded in one
batch of 2B full-length rows, mean pooling, cosine similarities x 20 against every positive of the
batch (in-batch negatives, no hard negatives), cross-entropy, backward, clip to norm 1, AdamW
(lr 3e-5, weight decay 0.01). `--trainable last:1` trains the last layer only (requires_grad False
elsewhere, so autograd keeps no activations of the frozen layers), `full` every weight.

The layers are ../../shared/bench/torch_baseline.py's BertLayer (Hugging Face's eager BertModel
computation, no dropout); the embeddings are BertModel's (word, position, token type, LayerNorm),
so the trainable parameters are the same tensors xlir trains. Prints one JSON line.

  /usr/bin/python3 bench/train_step_torch.py --shape e5-base-v2 --trainable last:1 --batch 32 --seq 128 --threads 2
"""
import argparse
import json
import os
import resource
import statistics
import sys
import time

import torch
import torch.nn as nn
import torch.nn.functional as F

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "..", "shared", "bench"))
from torch_baseline import SHAPES, BertLayer, mean_pool  # noqa: E402


class Bert(nn.Module):
    """BertModel without the pooler (retrievers pool the last hidden states themselves)."""

    def __init__(self, s):
        super().__init__()
        d = s["hidden"]
        self.word, self.pos, self.token_type = nn.Embedding(s["vocab"], d), nn.Embedding(512, d), nn.Embedding(2, d)
        self.ln = nn.LayerNorm(d, eps=1e-12)
        self.layers = nn.ModuleList(BertLayer(d, s["heads"], s["ffn"]) for _ in range(s["layers"]))

    def forward(self, ids, mask):
        x = self.ln(self.word(ids) + self.pos(torch.arange(ids.shape[1])) + self.token_type(torch.zeros_like(ids)))
        bias = (1.0 - mask[:, None, None, :].to(x.dtype)) * torch.finfo(x.dtype).min
        for layer in self.layers:
            x = layer(x, bias)
        return x


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--shape", choices=[k for k, v in SHAPES.items() if v["kind"] == "bert"], required=True)
    ap.add_argument("--trainable", choices=["last:1", "full"], required=True)
    ap.add_argument("--batch", type=int, default=32, help="pairs (2 x batch rows)")
    ap.add_argument("--seq", type=int, default=128)
    ap.add_argument("--threads", type=int, default=os.cpu_count())
    ap.add_argument("--warmup", type=int, default=2)
    ap.add_argument("--steps", type=int, default=1)
    a = ap.parse_args()
    if a.warmup < 0 or a.steps < 1:
        ap.error("--warmup must be >= 0 and --steps >= 1")
    torch.set_num_threads(a.threads)
    torch.set_num_interop_threads(1)
    torch.manual_seed(0)

    model = Bert(SHAPES[a.shape])
    if a.trainable == "last:1":
        for p in model.parameters():
            p.requires_grad_(False)
        for p in model.layers[-1].parameters():
            p.requires_grad_(True)
    params = [p for p in model.parameters() if p.requires_grad]
    opt = torch.optim.AdamW(params, lr=3e-5, weight_decay=0.01)
    model.train()  # no dropout modules: train() only says what the step is

    rows = 2 * a.batch
    g = torch.Generator().manual_seed(1234)
    ids = torch.randint(5, SHAPES[a.shape]["vocab"], (rows, a.seq), generator=g)
    mask = torch.ones(rows, a.seq, dtype=torch.long)
    labels = torch.arange(a.batch)

    def step():
        e = mean_pool(model(ids, mask), mask)
        q, p = F.normalize(e[: a.batch], dim=-1), F.normalize(e[a.batch :], dim=-1)
        loss = F.cross_entropy(20.0 * q @ p.T, labels)
        opt.zero_grad(set_to_none=True)
        loss.backward()
        torch.nn.utils.clip_grad_norm_(params, 1.0)
        opt.step()
        return loss.item()

    # every step timed; the peak RSS after each, since later steps hold gradients and AdamW state
    times, peaks = [], []
    for _ in range(a.warmup + a.steps):
        t0 = time.perf_counter()
        loss = step()
        times.append(time.perf_counter() - t0)
        peaks.append(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024)
    measured = times[a.warmup:]
    print(json.dumps(dict(
        engine="pytorch-eager", torch=torch.__version__, threads=torch.get_num_threads(), shape=a.shape,
        trainable=a.trainable, batch=a.batch, seq=a.seq, warmup_s=times[: a.warmup], times_s=measured,
        median_ms=statistics.median(measured) * 1e3 if measured else None, loss=loss,
        trainable_params=sum(p.numel() for p in params), peak_rss_after_step_mib=peaks, peak_rss_mib=peaks[-1],
    )))


if __name__ == "__main__":
    main()
