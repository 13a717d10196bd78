// One InfoNCE training step of `xlir train`, side by side with PyTorch doing the same step, and the
// peak memory of a large batch with and without GradCache.
//
//   1. Step time: e5-small-v2 and e5-base-v2 shapes (random weights, the baseline's SHAPES table),
//      batch 32 pairs x 128 tokens (64 rows: 32 queries, 32 positives, in-batch negatives, k = 0),
//      trainable last:1 (the paper's setting) and full. xlir's step is what `xlir train` does per
//      optimizer step: contrastiveStepEngine (plain: one ONNX Runtime run of model + loss +
//      gradients, tokenization of the texts included), clip to norm 1, AdamW (lr 3e-5, weight
//      decay 0.01). PyTorch's is bench/train_step_torch.py: the same encoder (BertModel's embeddings
//      and layers, mean pooling), cosine x 20, cross-entropy, backward, clip, AdamW, requires_grad
//      off outside the trained layers. Printed as a ratio, xlir ms / torch ms.
//   2. Peak RSS at batch 128 pairs x 128 tokens, e5-base shape: xlir plain vs GradCache
//      (--rss-chunk rows per chunk), and PyTorch's plain step (--rss xlir,torch).
//
// Like for like: every row is exactly 128 tokens on both sides ([CLS] + "query"/"passage" ":" + 124
// words + [SEP] for xlir, whose random folder has a one-token-per-word WordPiece vocabulary; 128
// random ids for torch), masks all ones, no dropout, the same trainable tensors (count checked).
// Each configuration runs in fresh child processes (xlir: this script with --worker; torch: a new
// python3), so each peak RSS is that of one configuration. Two warm-up steps, not one: ONNX
// Runtime lays out its memory pattern on the second run of a shape, which is then the slowest.
// Peak RSS is taken over all steps, warm-up included, since a training run repeats them.
// OPENBLAS_CORETYPE / OPENBLAS_L2_SIZE are removed from the environment: a value left in the shell
// would tune OpenBLAS (torch's GEMM) for another CPU than the one printed here.
// A watchdog stops any child whose RSS passes --max-rss-gib (default: 80% of the memory free at
// start), so a step too large for the machine is reported as such instead of taking it down.
//
//   npm run bench:train-step -- [--shapes e5-small-v2,e5-base-v2] [--trainable last:1,full]
//        [--warmup 2] [--steps 1] [--rounds 1] [--threads N] [--rss xlir|xlir,torch|none]
//        [--rss-batch 128] [--rss-chunk 16] [--rss-trainable last:1] [--rss-steps 2] [--max-rss-gib G]
//
// The default run takes about 7 minutes on a 2-core machine (e5-base full and the batch-128 steps
// take most); `--shapes e5-small-v2 --rss none` about 1.5. `--shapes none --rss torch` gives
// PyTorch's peak at batch 128 alone.
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
import { cpu, fmt, median, onExit, parseOptions, printTable } from "./util.ts";
import { WorkerHandle, forkChild } from "./worker.ts";

const HERE = fileURLToPath(import.meta.url);
const TORCH_SCRIPT = join(dirname(HERE), "train_step_torch.py");

const BATCH = 32;
const SEQ = 128;
const RSS_SHAPE = "e5-base-v2";
const LR = 3e-5;
const WEIGHT_DECAY = 0.01;
const MAX_GRAD_NORM = 1;
// [CLS] + the E5 prefix ("query" ":" or "passage" ":") + words + [SEP] = SEQ tokens
const WORDS = SEQ - 4;

const mib = (bytes: number) => Math.round(bytes / 2 ** 20);

/** What one configuration does, on either side. */
interface Run {
  shape: string;
  trainable: string;
  /** Pairs: 2 x batch rows. */
  batch: number;
  /** xlir only: rows per GradCache chunk; 0: plain. */
  gradCache: number;
  threads: number;
  warmup: number;
  steps: number;
}

/** What both sides report: every step's time (warm-up first) and the peak RSS after each. */
interface Measured {
  step_s: number[];
  peak_after_step_mib: number[];
  trainable_params: number;
  loss: number;
}

interface XlirMeasured extends Measured {
  /** The part of each step in contrastiveStepEngine (tokenize + ONNX Runtime); the rest is clip + AdamW. */
  run_s: number[];
  setup_s: number;
  rss_after_setup_mib: number;
  tokenize_ms: number;
}

type FromWorker = ({ type: "done" } & XlirMeasured) | { type: "error"; message: string };

// ---------------------------------------------------------------------------------------------
// Worker: one configuration of xlir in a process of its own
// ---------------------------------------------------------------------------------------------

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

async function worker(dir: string, job: Run): Promise<void> {
  const t0 = performance.now();
  const head = await encoderHead(dir, {
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
  const vocabWords = JSON.parse(readFileSync(join(dir, "vocab_words.json"), "utf8")) as number;
  const texts = batchTexts(pairs(job.batch, vocabWords), 0);

  // the same work as torch's: 2B rows of exactly SEQ tokens, none padded
  const t1 = performance.now();
  const mask = head.batch(texts, null).attention_mask;
  const tokenize_ms = performance.now() - t1;
  if (mask.dims[0] !== 2 * job.batch || mask.dims[1] !== SEQ || (mask.data as BigInt64Array).includes(0n))
    throw new Error(`rows are not all ${SEQ} tokens: attention_mask ${mask.dims.join("x")}`);

  const weights = new Float32Array(job.batch).fill(1);
  const optimizer = createAdamWState(head.params);
  const m: XlirMeasured = {
    step_s: [],
    peak_after_step_mib: [],
    trainable_params: Object.values(head.params).reduce((s, a) => s + a.length, 0),
    loss: NaN,
    run_s: [],
    setup_s,
    rss_after_setup_mib,
    tokenize_ms,
  };
  // `xlir train`'s optimizer step with one micro-batch: loss + gradients, clip, AdamW
  for (let i = 0; i < job.warmup + job.steps; i++) {
    const s0 = performance.now();
    const out = await engine.step(texts, job.batch, weights, null);
    const s1 = performance.now();
    if (!Number.isFinite(out.loss)) throw new Error("xlir: the loss is not finite");
    clipGradNorm(out.grads, MAX_GRAD_NORM);
    adamwStep(head.params, out.grads, optimizer, LR, { weightDecay: WEIGHT_DECAY });
    m.step_s.push((performance.now() - s0) / 1000);
    m.run_s.push((s1 - s0) / 1000);
    m.peak_after_step_mib.push(Math.round(process.resourceUsage().maxRSS / 1024));
    m.loss = out.loss;
  }
  await engine.release();
  head.close();
  process.send!({ type: "done", ...m } satisfies FromWorker, () => process.exit(0));
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
  const tokenizer = wordPieceJson(BERT_SPECIALS, [...head, ...words], "[UNK]", BERT_POST);
  writeFileSync(join(dir, "tokenizer.json"), JSON.stringify(tokenizer));
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

/** Kills `child` once its RSS passes `capMib`; `over()` says whether it did. */
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
      // the child exited between two polls
    }
  }, 200);
  return { over: () => over, stop: () => clearInterval(timer) };
}

/** A measurement, or "over" when the watchdog stopped it. */
type Outcome<T> = T | "over";

/** The child running now, stopped if we are interrupted. */
let live: ChildProcess | undefined;

async function guarded<T>(child: ChildProcess, capMib: number, result: Promise<T>): Promise<Outcome<T>> {
  live = child;
  const guard = watchRss(child, capMib);
  try {
    return await result;
  } catch (e) {
    if (guard.over()) return "over";
    throw e;
  } finally {
    guard.stop();
    live = undefined;
  }
}

async function runXlir(root: string, job: Run, capMib: number): Promise<Outcome<XlirMeasured>> {
  const child = forkChild(HERE, ["--worker", join(root, job.shape), JSON.stringify(job)]);
  const w = new WorkerHandle<object, FromWorker>(child);
  try {
    return await guarded(child, capMib, w.ask("done"));
  } finally {
    w.kill();
  }
}

async function runTorch(job: Run, capMib: number): Promise<Outcome<Measured>> {
  const args = ["--shape", job.shape, "--trainable", job.trainable, "--batch", `${job.batch}`];
  args.push("--seq", `${SEQ}`, "--threads", `${job.threads}`);
  args.push("--warmup", `${job.warmup}`, "--steps", `${job.steps}`);
  type Out = { warmup_s: number[]; times_s: number[]; peak_rss_after_step_mib: number[] } & Measured;
  let child: ChildProcess | undefined;
  const result = runPythonJson<Out>(TORCH_SCRIPT, args, undefined, (c) => (child = c));
  const out = await guarded(child!, capMib, result);
  if (out === "over") return out;
  const o = out as Out;
  return {
    step_s: [...o.warmup_s, ...o.times_s],
    peak_after_step_mib: o.peak_rss_after_step_mib.map(Math.round),
    trainable_params: o.trainable_params,
    loss: o.loss,
  };
}

// ---------------------------------------------------------------------------------------------
// The run
// ---------------------------------------------------------------------------------------------

function parseArgs(argv: string[]) {
  const { opts, int } = parseOptions(argv, [
    "shapes",
    "trainable",
    "warmup",
    "steps",
    "rounds",
    "threads",
    "rss",
    "rss-batch",
    "rss-chunk",
    "rss-trainable",
    "rss-steps",
    "max-rss-gib",
  ]);
  // "none" empties a list (--shapes none: only the RSS part; --rss none: only the step times)
  const list = (k: string, d: string) => (opts[k] ?? d).split(",").filter((x) => x && x !== "none");
  const trainable = list("trainable", "last:1,full");
  const rssTrainable = opts["rss-trainable"] ?? "last:1";
  for (const t of [...trainable, rssTrainable])
    if (t !== "full" && t !== "last:1") throw new Error(`trainable "${t}" is not last:1 or full`);
  const rss = list("rss", "xlir");
  for (const e of rss)
    if (e !== "xlir" && e !== "torch") throw new Error(`--rss: "${e}" is not xlir or torch`);
  const maxRssGib = Number(opts["max-rss-gib"] ?? (0.8 * freemem()) / 2 ** 30);
  if (!(maxRssGib > 0))
    throw new Error(`--max-rss-gib must be a positive number, got "${opts["max-rss-gib"]}"`);
  const warmup = opts.warmup === "0" ? 0 : int("warmup", 2);
  return {
    shapes: list("shapes", "e5-small-v2,e5-base-v2"),
    trainable,
    warmup,
    steps: int("steps", 1),
    rounds: int("rounds", 1),
    threads: int("threads", availableParallelism()),
    rss,
    rssBatch: int("rss-batch", 128),
    rssChunk: int("rss-chunk", 16),
    rssTrainable,
    rssSteps: int("rss-steps", 2),
    maxRssMib: Math.round(maxRssGib * 1024),
  };
}

const peak = (m: Measured) => Math.max(...m.peak_after_step_mib);

async function main(): Promise<void> {
  const args = parseArgs(process.argv.slice(2));
  const log = (msg: string) => console.error(`[bench:train-step] ${msg}`);
  for (const v of ["OPENBLAS_CORETYPE", "OPENBLAS_L2_SIZE"]) delete process.env[v];
  const { torch: torchVersion, gemm_gflops } = checkBaseline();
  const c = cpu();
  const cores = availableParallelism();
  log(
    `torch ${torchVersion}, GEMM 2048: ${gemm_gflops} GFLOP/s; ${args.threads} threads; RSS cap ${args.maxRssMib} MiB`,
  );

  const shapes = [...new Set([...args.shapes, ...(args.rss.length ? [RSS_SHAPE] : [])])];
  const root = mkdtempSync(join(tmpdir(), "xlir-bench-train-"));
  onExit(() => {
    live?.kill("SIGKILL");
    rmSync(root, { recursive: true, force: true });
  });
  const w0 = performance.now();
  await writeModels(root, shapes);
  log(`random ${shapes.join(", ")} checkpoints written in ${fmt((performance.now() - w0) / 1000)} s`);
  const over = `> ${args.maxRssMib} (stopped)`;

  // 1. step time, xlir and torch taking turns round by round (each side warmed up every round)
  const table: string[][] = [
    [
      "shape",
      "trainable",
      "params",
      "xlir ms",
      "torch ms",
      "xlir / torch",
      "xlir run + AdamW ms",
      "peak RSS MiB xlir / torch",
    ],
  ];
  const steps: Record<string, unknown>[] = [];
  const load: number[] = [];
  for (const shape of args.shapes)
    for (const trainable of args.trainable) {
      const job: Run = {
        shape,
        trainable,
        batch: BATCH,
        gradCache: 0,
        threads: args.threads,
        warmup: args.warmup,
        steps: args.steps,
      };
      const x: Outcome<XlirMeasured>[] = [];
      const t: Outcome<Measured>[] = [];
      for (let r = 0; r < args.rounds; r++)
        for (const e of r % 2 ? ["torch", "xlir"] : ["xlir", "torch"]) {
          load.push(+loadavg()[0].toFixed(2));
          if (e === "xlir") x.push(await runXlir(root, job, args.maxRssMib));
          else t.push(await runTorch(job, args.maxRssMib));
        }
      const xs = x.filter((m) => m !== "over");
      const ts = t.filter((m) => m !== "over");
      const measured = (m: Measured[]) => m.flatMap((r) => r.step_s.slice(args.warmup));
      const xm = xs.length === x.length ? median(measured(xs)) * 1e3 : NaN;
      const tm = ts.length === t.length ? median(measured(ts)) * 1e3 : NaN;
      const xRun = median(xs.flatMap((r) => r.run_s.slice(args.warmup))) * 1e3;
      const params = xs[0]?.trainable_params ?? ts[0]?.trainable_params ?? NaN;
      if (xs.length && ts.length && xs[0].trainable_params !== ts[0].trainable_params)
        log(
          `warning: trainable parameters differ: xlir ${xs[0].trainable_params}, torch ${ts[0].trainable_params}`,
        );
      log(
        `${shape} ${trainable}: xlir ${fmt(xm, 0)} ms, torch ${fmt(tm, 0)} ms; all steps (warm-up first) xlir ${xs.map((r) => r.step_s.map((s) => s.toFixed(1)).join("/")).join(", ")} s, torch ${ts.map((r) => r.step_s.map((s) => s.toFixed(1)).join("/")).join(", ")} s`,
      );
      table.push([
        shape,
        trainable,
        `${(params / 1e6).toFixed(1)}M`,
        fmt(xm, 0),
        fmt(tm, 0),
        fmt(xm / tm, 2),
        Number.isFinite(xm) ? `${fmt(xRun, 0)} + ${fmt(xm - xRun, 0)}` : "-",
        `${xs.length === x.length ? Math.max(...xs.map(peak)) : over} / ${ts.length === t.length ? Math.max(...ts.map(peak)) : over}`,
      ]);
      steps.push({
        shape,
        trainable,
        trainable_params: params,
        xlir: x,
        torch: t,
        xlir_median_ms: xm,
        torch_median_ms: tm,
      });
    }

  // 2. peak RSS at a large batch, a few steps each (ONNX Runtime's second step takes the most)
  const rssTable: string[][] = [
    ["engine", "step", "peak RSS MiB", "after each step MiB", "after setup MiB", "step s"],
  ];
  const rss: Record<string, unknown>[] = [];
  const job = {
    shape: RSS_SHAPE,
    trainable: args.rssTrainable,
    batch: args.rssBatch,
    threads: args.threads,
    warmup: 0,
    steps: args.rssSteps,
  };
  const runs = [
    ...(args.rss.includes("xlir") ? [0, args.rssChunk].map((g) => ["xlir", g] as const) : []),
    ...(args.rss.includes("torch") ? [["torch", 0] as const] : []),
  ];
  for (const [engine, gradCache] of runs) {
    const what = gradCache ? `GradCache, ${gradCache} rows/chunk` : "plain";
    const out =
      engine === "xlir"
        ? await runXlir(root, { ...job, gradCache }, args.maxRssMib)
        : await runTorch({ ...job, gradCache }, args.maxRssMib);
    log(`${engine} ${what}: ${out === "over" ? over : `${peak(out)} MiB`}`);
    rssTable.push(
      out === "over"
        ? [engine, what, over, "-", "-", "-"]
        : [
            engine,
            what,
            `${peak(out)}`,
            out.peak_after_step_mib.join(", "),
            "rss_after_setup_mib" in out ? `${(out as XlirMeasured).rss_after_setup_mib}` : "-",
            out.step_s.map((s) => s.toFixed(1)).join(", "),
          ],
    );
    rss.push({ engine, gradCache: gradCache || null, result: out });
  }

  console.log(`CPU: ${c.model}, ${cores} cores; flags: ${c.flags.join(" ") || "none of avx2/avx512/amx"}`);
  console.log(
    `torch ${torchVersion} (GEMM 2048: ${gemm_gflops} GFLOP/s); ${args.threads} threads on both sides`,
  );
  if (table.length > 1) {
    console.log(
      `\nInfoNCE training step, batch ${BATCH} pairs x ${SEQ} tokens (${2 * BATCH} rows, in-batch negatives), cos x 20, clip 1, AdamW; median of ${args.rounds} x ${args.steps} step(s) after ${args.warmup} warm-up step(s)`,
    );
    printTable(table);
    console.log(
      "xlir / torch < 1 favours xlir. xlir run = tokenize + ONNX Runtime forward and backward; the rest is clip + AdamW in TypeScript.",
    );
  }
  if (runs.length) {
    console.log(
      `\nPeak RSS, ${RSS_SHAPE} shape, ${args.rssTrainable}, batch ${args.rssBatch} pairs x ${SEQ} tokens, ${args.rssSteps} steps`,
    );
    printTable(rssTable);
  }
  const maxLoad = Math.max(...load);
  if (maxLoad > cores)
    console.log(
      `note: the machine was busy (1-minute load average up to ${maxLoad} on ${cores} cores): times are noisy.`,
    );
  console.log(
    JSON.stringify({
      bench: "train-step",
      cpu: c,
      torch_version: torchVersion,
      gemm_gflops,
      threads: args.threads,
      batch: BATCH,
      seq: SEQ,
      warmup: args.warmup,
      steps: args.steps,
      rounds: args.rounds,
      rss_cap_mib: args.maxRssMib,
      load_average: load,
      step_results: steps,
      rss: { shape: RSS_SHAPE, trainable: args.rssTrainable, batch: args.rssBatch, results: rss },
    }),
  );
}

if (process.argv[2] === "--worker") {
  worker(process.argv[3], JSON.parse(process.argv[4]) as Run).catch((e) => {
    process.send?.({ type: "error", message: (e as Error).message });
    process.exit(1);
  });
} else if (process.argv[2] === "--write") {
  for (const shape of process.argv.slice(4)) writeModel(join(process.argv[3], shape), shape);
  process.exit(0);
} else {
  main().catch((e) => {
    console.error(`bench:train-step: ${(e as Error).message}`);
    process.exit(1);
  });
}
