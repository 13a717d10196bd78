#!/usr/bin/env python3
"""PyTorch side of bench/translate.bench.ts: an NLLB-200-shaped M2M100ForConditionalGeneration
(random weights) translating a batch with a key/value cache, greedy and beam search, written out
in plain PyTorch because transformers is not installed beside Debian's python3-torch. The math is
transformers' (4.40) M2M100, eager attention, no dropout: scaled token embeddings plus sinusoidal
positions offset by pad + 1, pre-LayerNorm layers with ReLU FFN, final LayerNorms, LM head tied to
the shared embedding. Cross-attention keys/values are computed once per input (on the batch rows,
then repeated for the beams); the self-attention cache grows by one position per step and, in
beam search, follows its beams by index_select each step, as transformers' _reorder_cache does.

Every run generates exactly its NEW_TOKENS per row: there is no EOS id among the scores (the
benchmark gives xlir an EOS id outside the vocabulary), so no row or beam stops early. The first
new token is forced to --forced-bos (NLLB's target-language code), as generate does with
forced_bos_token_id. Greedy takes the argmax; beam search takes log_softmax, adds the beam scores,
keeps the top 2 x beams candidates of each input (transformers' candidate count) and continues
the first `beams` of them.

Runs each job of --jobs (BEAMSxNEW_TOKENS) once short to warm up, then --runs times; prints one
JSON line: per measured run the total seconds (encoder included) and every step's seconds, and the
peak RSS of the whole process.

  /usr/bin/python3 bench/translate_torch.py --batch 8 --src 32 --jobs 1x32,4x32,1x64 --threads 2
"""
import argparse
import json
import math
import os
import resource
import sys
import time

import torch
import torch.nn as nn
import torch.nn.functional as F

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "..", "shared", "bench"))
from torch_baseline import M2M100Layer  # noqa: E402

PAD, START = 1, 2


def sinusoidal(rows, d, pad):
    """fairseq's / M2M100SinusoidalPositionalEmbedding's table, the pad row zero."""
    half = d // 2
    freq = torch.exp(torch.arange(half, dtype=torch.float) * -(math.log(10000) / (half - 1)))
    ang = torch.arange(rows, dtype=torch.float)[:, None] * freq[None, :]
    t = torch.cat([torch.sin(ang), torch.cos(ang)], dim=1)
    t[pad] = 0
    return t


def positions(ids, past):
    """M2M100's create_position_ids_from_input_ids: pad tokens take the pad row."""
    real = ids.ne(PAD).long()
    return (torch.cumsum(real, 1) + past) * real + PAD


class DecoderLayer(nn.Module):
    def __init__(self, d, heads, ffn):
        super().__init__()
        self.h, self.dh = heads, d // heads
        self.ln1, self.ln2, self.ln3 = nn.LayerNorm(d), nn.LayerNorm(d), nn.LayerNorm(d)
        self.sq, self.sk, self.sv, self.so = (nn.Linear(d, d) for _ in range(4))
        self.cq, self.ck, self.cv, self.co = (nn.Linear(d, d) for _ in range(4))
        self.up, self.down = nn.Linear(d, ffn), nn.Linear(ffn, d)

    def split(self, t):
        B, T, _ = t.shape
        return t.view(B, T, self.h, self.dh).transpose(1, 2)

    def merge(self, t):
        B, _, T, _ = t.shape
        return t.transpose(1, 2).reshape(B, T, self.h * self.dh)

    def cross_kv(self, enc):
        return self.split(self.ck(enc)), self.split(self.cv(enc))

    def forward(self, x, past_k, past_v, cross_k, cross_v, cross_bias):
        # one new position per step sees every cached one: the causal mask is all zeros
        h = self.ln1(x)
        q = self.split(self.sq(h) * self.dh**-0.5)
        k = torch.cat([past_k, self.split(self.sk(h))], dim=2)
        v = torch.cat([past_v, self.split(self.sv(h))], dim=2)
        x = x + self.so(self.merge(torch.softmax(q @ k.transpose(-1, -2), dim=-1) @ v))
        h = self.ln2(x)
        q = self.split(self.cq(h) * self.dh**-0.5)
        x = x + self.co(self.merge(torch.softmax(q @ cross_k.transpose(-1, -2) + cross_bias, dim=-1) @ cross_v))
        return x + self.down(F.relu(self.up(self.ln3(x)))), k, v


class M2M100(nn.Module):
    def __init__(self, d, enc_layers, dec_layers, heads, ffn, vocab, max_positions=1024):
        super().__init__()
        self.d, self.h = d, heads
        self.shared = nn.Embedding(vocab, d)
        self.register_buffer("pos", sinusoidal(max_positions + 2, d, PAD))
        self.enc = nn.ModuleList(M2M100Layer(d, heads, ffn) for _ in range(enc_layers))
        self.enc_ln = nn.LayerNorm(d)
        self.dec = nn.ModuleList(DecoderLayer(d, heads, ffn) for _ in range(dec_layers))
        self.dec_ln = nn.LayerNorm(d)

    def embed(self, ids, past):
        return self.shared(ids) * math.sqrt(self.d) + self.pos[positions(ids, past)]

    def encode(self, ids, mask):
        bias = (1.0 - mask[:, None, None, :].float()) * torch.finfo(torch.float).min
        x = self.embed(ids, 0)
        for layer in self.enc:
            x = layer(x, bias)
        x = self.enc_ln(x)
        return [layer.cross_kv(x) for layer in self.dec], bias

    def step(self, tokens, past, cross, cross_bias):
        """tokens [rows, 1] -> logits [rows, vocab] and the grown cache."""
        x = self.embed(tokens, past[0][0].shape[2])
        grown = []
        for layer, (pk, pv), (ck, cv) in zip(self.dec, past, cross):
            x, k, v = layer(x, pk, pv, ck, cv, cross_bias)
            grown.append((k, v))
        return F.linear(self.dec_ln(x[:, -1]), self.shared.weight), grown


def forced(scores, token):
    out = torch.full_like(scores, -math.inf)
    out[:, token] = 0
    return out


def generate(model, ids, mask, beams, new, bos):
    """Returns (total seconds, seconds of each step, output ids)."""
    t0 = time.perf_counter()
    B = ids.shape[0]
    cross, cross_bias = model.encode(ids, mask)
    rows = B * beams
    if beams > 1:
        cross = [(k.repeat_interleave(beams, 0), v.repeat_interleave(beams, 0)) for k, v in cross]
        cross_bias = cross_bias.repeat_interleave(beams, 0)
    dh = model.d // model.h
    past = [(torch.zeros(rows, model.h, 0, dh), torch.zeros(rows, model.h, 0, dh)) for _ in model.dec]
    seqs = torch.full((rows, 1), START, dtype=torch.long)
    scores = torch.zeros(B, beams)
    scores[:, 1:] = -1e9  # only beam 0 is expanded at the first step
    scores = scores.view(-1)
    steps = []
    for t in range(new):
        s0 = time.perf_counter()
        logits, past = model.step(seqs[:, -1:], past, cross, cross_bias)
        V = logits.shape[-1]
        if beams == 1:
            if t == 0:
                logits = forced(logits, bos)
            seqs = torch.cat([seqs, logits.argmax(-1, keepdim=True)], dim=1)
        else:
            lp = torch.log_softmax(logits, dim=-1)
            if t == 0:
                lp = forced(lp, bos)
            cand = (lp + scores[:, None]).view(B, beams * V)
            top, idx = torch.topk(cand, 2 * beams, dim=1)
            top, idx = top[:, :beams], idx[:, :beams]
            src = (torch.arange(B)[:, None] * beams + idx // V).view(-1)
            seqs = torch.cat([seqs.index_select(0, src), (idx % V).reshape(-1, 1)], dim=1)
            past = [(k.index_select(0, src), v.index_select(0, src)) for k, v in past]
            scores = top.reshape(-1)
        steps.append(time.perf_counter() - s0)
    return time.perf_counter() - t0, steps, seqs


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--d", type=int, default=1024)
    ap.add_argument("--enc-layers", type=int, default=12)
    ap.add_argument("--dec-layers", type=int, default=12)
    ap.add_argument("--heads", type=int, default=16)
    ap.add_argument("--ffn", type=int, default=4096)
    ap.add_argument("--vocab", type=int, default=256206)
    ap.add_argument("--batch", type=int, default=8)
    ap.add_argument("--src", type=int, default=32, help="source tokens per row")
    ap.add_argument("--jobs", default="1x32,4x32,1x64", help="runs as BEAMSxNEW_TOKENS, comma-separated")
    ap.add_argument("--forced-bos", type=int, default=256047, help="eng_Latn in NLLB-200's vocabulary")
    ap.add_argument("--threads", type=int, default=os.cpu_count())
    ap.add_argument("--warmup-new", type=int, default=2, help="new tokens of each job's warm-up run")
    ap.add_argument("--runs", type=int, default=1, help="measured runs of each job")
    a = ap.parse_args()
    jobs = [tuple(int(n) for n in j.split("x")) for j in a.jobs.split(",")]
    torch.set_num_threads(a.threads)
    torch.set_num_interop_threads(1)
    torch.manual_seed(0)
    model = M2M100(a.d, a.enc_layers, a.dec_layers, a.heads, a.ffn, a.vocab).eval()
    # the layout of xlir's rows: [src_lang, tokens..., </s>], none padded
    g = torch.Generator().manual_seed(1234)
    ids = torch.randint(4, a.vocab - 300, (a.batch, a.src), generator=g)
    ids[:, 0], ids[:, -1] = a.forced_bos, 2
    mask = torch.ones_like(ids)
    out = []
    with torch.inference_mode():
        for beams, new in jobs:
            generate(model, ids, mask, beams, a.warmup_new, a.forced_bos)
            runs = []
            for _ in range(a.runs):
                total, steps, seqs = generate(model, ids, mask, beams, new, a.forced_bos)
                assert seqs.shape == (a.batch * beams, new + 1)
                runs.append(dict(total_s=total, step_s=steps))
            out.append(dict(beams=beams, new=new, runs=runs))
    print(
        json.dumps(
            dict(
                torch=torch.__version__,
                threads=torch.get_num_threads(),
                jobs=out,
                peak_rss_mib=resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024,
            )
        )
    )


if __name__ == "__main__":
    main()
