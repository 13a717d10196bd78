// One InfoNCE training step of `xlir train`, side by side with PyTorch doing the same step, and the
// peak memory of a large batch with and without GradCache.
//
//   1. Step time: e5-small-v2 and e5-base-v2 shapes (random weights, the baseline's SHAPES table),
//      batch 32 pairs x 128 tokens (64 rows: 32 queries, 32 positives, in-batch negatives, k = 0),
//      trainable last:1 (the paper's setting) and full. xlir's step is what `xlir train` does per
//      optimizer step: contrastiveStepEngine (plain: one ONNX Runtime run of model + loss +
//      gradients; tokenization of the texts included, as in training), clip to norm 1, AdamW
//      (lr 3e-5, weight decay 0.01). PyTorch's is bench/train_step_torch.py: the same encoder
//      (BertModel's embeddings and layers, mean pooling), cosine x 20, cross-entropy, backward, clip,
//      AdamW, with requires_grad off outside the trained layers. The ratio is xlir ms / torch ms.
//   2. Peak RSS of one step at batch 128 pairs x 128 tokens, e5-base shape: plain vs GradCache
//      (--rss-chunk rows per chunk), and PyTorch's plain step.
//
// Like for like: every row is exactly 128 tokens on both sides ([CLS] + "query:"/"passage:" + 124
// words + [SEP] for xlir, whose random folder carries a one-token-per-word WordPiece vocabulary;
// 128 random ids for torch), masks all ones, no dropout, the same trainable tensors (their count is
// checked). Both sides run in fresh child processes (xlir: this script with --worker; torch: a new
// python3), each warmed up by one step, so each peak RSS is that of one configuration.
// OPENBLAS_CORETYPE / OPENBLAS_L2_SIZE are removed from the environment: a value left in the shell
// would tune OpenBLAS (torch's GEMM) for another CPU than the one printed here.
// A watchdog stops any child whose RSS passes --max-rss-gib (default: 80% of the memory free at
// start), so a plain full-model step at batch 128 cannot take the machine down; it is reported
// as over the limit.
//
//   npm run bench:train-step -- [--shapes e5-small-v2,e5-base-v2] [--trainable last:1,full]
//        [--steps 1] [--rounds 1] [--threads N] [--rss-batch 128] [--rss-chunk 16]
//        [--rss-trainable last:1] [--rss xlir,torch|none] [--max-rss-gib G]
//
// Set-up of the baseline (once per machine): apt-get install -y python3-torch libopenblas0-openmp
// (XLIR_BENCH_PYTHON names another interpreter than /usr/bin/python3).

import { type ChildProcess } from "node:child_process";
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { availableParallelism, freemem, loadavg, tmpdir } from "node:os";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";
import { Rng, writeRandomCheckpoint } from "../src/models/random.ts";
import { BERT_POST, BERT_SPECIALS, wordPieceJson } from "../src/text/wordpiece-json.ts";
import { adamwStep, createAdamWState } from "../src/train/adamw.ts";
import { batchTexts, contrastiveStepEngine } from "../src/train/contrastive.ts";
import { encoderHead } from "../src/train/encoder-head.ts";
import { clipGradNorm } from "../src/train/gradients.ts";
import { lossSpec } from "../src/train/losses.ts";
import { parseTrainable } from "../src/train/model-head.ts";
import type { PairExample } from "../src/train/pairs.ts";
import { baselineShapes, checkBaseline, hfConfig, runPythonJson } from "./baseline.ts";
import { fmt, median, onExit, parseOptions, printTable } from "./util.ts";
import { WorkerHandle, forkChild } from "./worker.ts";

const HERE = fileURLToPath(import.meta.url);
const TORCH_SCRIPT = join(dirname(HERE), "train_step_torch.py");

const BATCH = 32;
const SEQ = 128;
const LR = 3e-5;
const WEIGHT_DECAY = 0.01;
const MAX_GRAD_NORM = 1;
// [CLS] + the E5 prefix ("query" ":" or "passage" ":") + words + [SEP] = SEQ tokens
const WORDS = SEQ - 4;

const mib = (bytes: number) => Math.round(bytes / 2 ** 20);
const peakRssMib = () => Math.round(process.resourceUsage().maxRSS / 1024);

// ---------------------------------------------------------------------------------------------
// Worker: one configuration of xlir in a process of its own
// ---------------------------------------------------------------------------------------------

interface Job {
  dir: string;
  trainable: string;
  batch: number;
  /** Rows per GradCache chunk; 0: plain. */
  gradCache: number;
  threads: number;
  warmup: number;
  steps: number;
}

type FromWorker =
  | {
      type: "done";
      setup_s: number;
      trainable_params: number;
      tokenize_ms: number;
      step_s: number[];
      run_s: number[];
      optimizer_s: number[];
      loss: number;
      peak_rss_mib: number;
      rss_after_setup_mib: number;
    }
  | { type: "error"; message: string };

/** Pairs whose texts are WORDS vocabulary words each, so every row is exactly SEQ tokens. */
function pairs(n: number, vocabWords: number): PairExample[] {
  const rng = new Rng(1234);
  const text = () => Array.from({ length: WORDS }, () => `w${Math.floor(rng.next() * vocabWords)}`).join(" ");
  return Array.from({ length: n }, (_, i) => ({
    query: text(),
    positive: text(),
    negatives: [],
    where: `bench:${i + 1}`,
  }));
}

async function worker(job: Job): Promise<void> {
  const t0 = performance.now();
  const head = await encoderHead(job.dir, {
    trainable: parseTrainable(job.trainable),
    maxLength: SEQ,
    prompts: { query: "query: ", passage: "passage: " },
  });
  const engine = await contrastiveStepEngine(head, lossSpec("infonce"), 0, {
    gradCache: job.gradCache || null,
    threads: job.threads,
  });
  const setup_s = (performance.now() - t0) / 1000;
  const rss_after_setup_mib = mib(process.memoryUsage().rss);
  const vocabWords = JSON.parse(readFileSync(join(job.dir, "vocab_words.json"), "utf8")) as number;
  const texts = batchTexts(pairs(job.batch, vocabWords), 0);

  // the same work as torch's: 2B rows of exactly SEQ tokens, none padded
  const t1 = performance.now();
  const feeds = head.batch(texts, null);
  const tokenize_ms = performance.now() - t1;
  const mask = feeds.attention_mask;
  if (mask.dims[0] !== 2 * job.batch || mask.dims[1] !== SEQ || (mask.data as BigInt64Array).includes(0n))
    throw new Error(`rows are not all ${SEQ} tokens: attention_mask ${mask.dims.join("x")}`);

  const weights = new Float32Array(job.batch).fill(1);
  const optimizer = createAdamWState(head.params);
  let loss = NaN;
  /** `xlir train`'s optimizer step with one micro-batch: loss + gradients, clip, AdamW. */
  const step = async () => {
    const r0 = performance.now();
    const out = await engine.step(texts, job.batch, weights, null);
    const r1 = performance.now();
    if (!Number.isFinite(out.loss)) throw new Error("xlir: the loss is not finite");
    loss = out.loss;
    clipGradNorm(out.grads, MAX_GRAD_NORM);
    adamwStep(head.params, out.grads, optimizer, LR, { weightDecay: WEIGHT_DECAY });
    return { run: (r1 - r0) / 1000, opt: (performance.now() - r1) / 1000 };
  };
  for (let i = 0; i < job.warmup; i++) await step();
  const step_s: number[] = [];
  const run_s: number[] = [];
  const optimizer_s: number[] = [];
  for (let i = 0; i < job.steps; i++) {
    const s0 = performance.now();
    const { run, opt } = await step();
    step_s.push((performance.now() - s0) / 1000);
    run_s.push(run);
    optimizer_s.push(opt);
  }
  await engine.release();
  head.close();
  const done: FromWorker = {
    type: "done",
    setup_s,
    trainable_params: Object.values(head.params).reduce((s, a) => s + a.length, 0),
    tokenize_ms,
    step_s,
    run_s,
    optimizer_s,
    loss,
    peak_rss_mib: peakRssMib(),
    rss_after_setup_mib,
  };
  process.send!(done, () => process.exit(0));
}

// ---------------------------------------------------------------------------------------------
// Parent: checkpoints, children, memory watchdog
// ---------------------------------------------------------------------------------------------

/**
 * A random checkpoint of `shape` in the Hugging Face layout with a tokenizer.json whose vocabulary
 * is BERT's specials, the E5 prefix words and w0, w1, ... up to the model's vocabulary size.
 */
function writeModel(dir: string, shape: string): void {
  const s = baselineShapes().get(shape);
  if (!s || s.kind !== "bert") throw new Error(`no BERT shape "${shape}" in the baseline's SHAPES`);
  const head = [...BERT_SPECIALS, "query", "passage", ":"];
  const words = Array.from({ length: s.vocab - head.length }, (_, i) => `w${i}`);
  writeRandomCheckpoint(dir, hfConfig(s), 3);
  writeFileSync(
    join(dir, "tokenizer.json"),
    JSON.stringify(wordPieceJson(BERT_SPECIALS, [...head, ...words], "[UNK]", BERT_POST)),
  );
  writeFileSync(
    join(dir, "tokenizer_config.json"),
    JSON.stringify({ model_max_length: 512, do_lower_case: true, pad_token: "[PAD]", unk_token: "[UNK]" }),
  );
  writeFileSync(join(dir, "vocab_words.json"), JSON.stringify(words.length));
}

/** Write the checkpoints in a child process, so the generated weights are not ours to hold. */
function writeModels(root: string, shapes: string[]): Promise<void> {
  return new Promise((res, rej) => {
    const child = forkChild(HERE, ["--write", root, ...shapes]);
    child.on("error", rej);
    child.on("exit", (code, signal) =>
      code === 0
        ? res()
        : rej(new Error(`writing the random checkpoints failed (${signal ?? `exit ${code}`})`)),
    );
  });
}

/** Stop `child` if its RSS passes `capMib`; `over()` says whether it did. */
function watchRss(child: ChildProcess, capMib: number): { over: () => boolean; stop: () => void } {
  let over = false;
  const timer = setInterval(() => {
    try {
      const kb = Number(/VmRSS:\s+(\d+)/.exec(readFileSync(`/proc/${child.pid}/status`, "utf8"))?.[1] ?? 0);
      if (kb / 1024 > capMib && !over) {
        over = true;
        child.kill("SIGKILL");
      }
    } catch {
      // the child has exited between two polls
    }
  }, 200);
  return { over: () => over, stop: () => clearInterval(timer) };
}

type Outcome<T> = T | { over_mib: number };
const isOver = <T extends object>(x: Outcome<T>): x is { over_mib: number } => "over_mib" in x;

let live: ChildProcess | undefined;

async function runXlir(job: Job, capMib: number): Promise<Outcome<Extract<FromWorker, { type: "done" }>>> {
  const child = forkChild(HERE, ["--worker", JSON.stringify(job)]);
  live = child;
  const guard = watchRss(child, capMib);
  const w = new WorkerHandle<object, FromWorker>(child);
  try {
    return await w.ask("done");
  } catch (e) {
    if (guard.over()) return { over_mib: capMib };
    throw e;
  } finally {
    guard.stop();
    w.kill();
    live = undefined;
  }
}

interface TorchResult {
  times_s: number[];
  loss: number | null;
  trainable_params: number;
  peak_rss_mib: number;
  threads: number;
  torch: string;
}

async function runTorch(
  shape: string,
  o: { trainable: string; batch: number; threads: number; warmup: number; steps: number },
  capMib: number,
): Promise<Outcome<TorchResult>> {
  const args = ["--shape", shape, "--trainable", o.trainable, "--batch", `${o.batch}`, "--seq", `${SEQ}`];
  args.push("--threads", `${o.threads}`, "--warmup", `${o.warmup}`, "--steps", `${o.steps}`);
  let guard: ReturnType<typeof watchRss> | undefined;
  try {
    const r = await runPythonJson<TorchResult>(TORCH_SCRIPT, args, undefined, (c) => {
      live = c;
      guard = watchRss(c, capMib);
    });
    return r as TorchResult;
  } catch (e) {
    if (guard?.over()) return { over_mib: capMib };
    throw e;
  } finally {
    guard?.stop();
    live = undefined;
  }
}

/** The CPU's model name and the flags that decide which GEMM kernels run. */
function cpu(): { model: string; flags: string[] } {
  const info = readFileSync("/proc/cpuinfo", "utf8");
  const flags = new Set(/^flags\s*:\s*(.*)$/m.exec(info)?.[1].split(/\s+/) ?? []);
  const wanted = ["avx2", "fma", "avx512f", "avx512bw", "avx512_vnni", "avx_vnni", "avx512_bf16", "amx_tile"];
  return {
    model: /^model name\s*:\s*(.*)$/m.exec(info)?.[1] ?? "unknown CPU",
    flags: wanted.filter((f) => flags.has(f)),
  };
}

