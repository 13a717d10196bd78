#!/usr/bin/env python3
"""PyTorch side of bench/memory.bench.ts: RSS, stage by stage, of building one encoder shape of
../../shared/bench/torch_baseline.py in float32 with its weights initialised in place (no file is
read: the least memory PyTorch can hold a model in, a lower bound for loading a checkpoint), then of
one 1 x 32 forward pass. Prints one JSON line: {stage: {"rss_mib", "peak_rss_mib"}}.

  /usr/bin/python3 bench/memory_torch.py --shape e5-small-v2
"""
import argparse
import json
import os
import sys

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "..", "shared", "bench"))
stages = {}


def stage(name):
    # VmRSS / VmHWM: getrusage's ru_maxrss would start from the parent's peak (Linux keeps it across exec)
    with open("/proc/self/status") as f:
        kib = dict(line.split(":", 1) for line in f if line.startswith(("VmRSS", "VmHWM")))
    mib = lambda k: round(int(kib[k].split()[0]) / 1024)  # noqa: E731
    stages[name] = dict(rss_mib=mib("VmRSS"), peak_rss_mib=mib("VmHWM"))


stage("start")
import torch  # noqa: E402
from torch_baseline import SHAPES, Encoder, inputs, mean_pool  # noqa: E402

stage("imports")
ap = argparse.ArgumentParser()
ap.add_argument("--shape", choices=SHAPES, required=True)
a = ap.parse_args()
torch.set_num_threads(1)
torch.manual_seed(0)
enc = Encoder(a.shape).eval()
stage("model")
ids, mask = inputs(SHAPES[a.shape]["vocab"], 1, 32)
with torch.inference_mode():
    mean_pool(enc(ids, mask), mask)
stage("run 1x32")
print(json.dumps(dict(torch=torch.__version__, shape=a.shape, stages=stages)))
