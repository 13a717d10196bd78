// One NLLB-E5 training step, side by side with PyTorch in one run: forward + backward + AdamW at
// NLLB-200-distilled-600M encoder (d 1024, 12 layers, 16 heads, ffn 4096, vocab 256206) +
// e5-small-v2 (d 384, 12 layers, 12 heads, ffn 1536, vocab 30522) shapes, random weights, trainable
// projection (1024 -> 4096 -> 384) + LoRA on query/key/value of every E5 layer (r 32, alpha 64,
// dropout 0), batch 16 x 64 NLLB tokens (lang code + 62 tokens + </s>), all threads.
//
// xlir's step is src/train/distill.ts's per-step work, call for call: the batch laid out by
// studentBatch/studentFeeds, one ONNX Runtime run of the autodiff graph (loss + every gradient),
// gradient accumulation bookkeeping (1 micro-batch), clipping to norm 1, AdamW. PyTorch's is
// `torch_baseline.py distill-step` (../shared/bench), run as a child process, which prints JSON.
// Both checkpoints are written with random weights (src/models/random.ts) to a temp folder and
// deleted afterwards, in the shapes of the baseline's own SHAPES table (read by bench/baseline.ts).
//
// Like for like — the same in both:
//   - the NLLB encoder is frozen and runs forward only: torch under no_grad; xlir's autodiff prunes
//     it (no backward node reads an NLLB value, since no trainable weight is upstream of it);
//   - E5's own weights are frozen (only input gradients flow through them); trainable are the
//     projection weights and biases and LoRA A/B: 6,656,384 parameters on both sides (checked);
//   - the teacher does not run in the step: xlir's trainer caches teacher vectors once per text,
//     the baseline draws fixed random ones; the loss is the MSE of the mean-pooled vectors;
//   - no dropout anywhere (the baseline's E5 has no dropout modules; LoRA dropout 0 here).
// Differences (none favours xlir):
//   - E5 sequence length: xlir feeds the real NLLB-E5 input, [CLS] role : + 64 projected NLLB
//     positions + [SEP] = 68 positions; the baseline feeds only the 64 projected positions. xlir's
//     E5 forward and backward therefore do ~6% more work. Its masks also leave the lang-code and
//     </s> positions out of attention and pooling (no compute difference; the baseline's are all 1);
//   - xlir adds E5's token-type embedding (as BertEmbeddings does; the baseline skips it), clips the
//     gradient norm (distill's default 1.0; the baseline does not clip), reads the gradients back
//     into Float32Arrays and runs AdamW in TypeScript; weight decay 0 (distill's default) vs torch's
//     0.01 costs the same;
//   - peak memory: xlir's high-water mark includes opening the checkpoints and building the session
//     (frozen weights are read from the checkpoints one at a time into ONNX Runtime's external
//     data), the baseline initialises its random model in place. `xlir distill` also holds an
//     evaluation session (another copy of the weights), which is not created here. The JSON's
//     rss_stages_mib shows where xlir's memory goes.
// The machine may be shared: xlir and PyTorch take turns, round by round (xlir keeps one warm
// session; PyTorch runs in a fresh process per round, warmed up each time), and the figures are
// medians over all measured steps (min, per-round medians and the load average are in the JSON).
//
// xlir settings, each in its own worker: "full" as above, "cached" (`xlir distill --cache-nllb`):
// the NLLB encoder ran once over the batch's texts before training (src/train/state-cache.ts,
// float16 states on disk); each step reads the batch's states from the file, widens them to
// float32 and runs the graph from the projection on (no NLLB weights in it), "cached-int8"
// (`--cache-nllb --nllb-dtype int8`), the same with that NLLB pass in int8, and "int8"
// (`--nllb-dtype int8` alone), the full step with NLLB's linear layers in int8. Cached step times
// include the read; the one-time NLLB pass is reported per text (what each text costs once), its
// session's creation included (over one batch of 16 texts that is most of it; bench:encode
// measures the encoder's own speed). Each setting's H_S after the same steps is compared with the
// full graph's (lowest cosine).
//
//   npm run bench:distill-step -- [--rounds 3] [--steps 3] [--threads N] [--xlir full,cached,cached-int8]
//
// Set-up of the baseline (once per machine): apt-get install -y python3-torch libopenblas0-openmp
// (XLIR_BENCH_PYTHON names another interpreter than /usr/bin/python3).

import { mkdtempSync, rmSync } from "node:fs";
import { availableParallelism, loadavg, tmpdir } from "node:os";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { Checkpoint, tensorSource } from "../src/models/checkpoint.ts";
import type { LoraSpec } from "../src/models/lora.ts";
import { type NllbE5Spec, studentBatch, studentFeeds, studentGraph } from "../src/models/nllb-e5.ts";
import { Rng, writeRandomCheckpoint } from "../src/models/random.ts";
import { grad, gradName } from "../src/tensor/autodiff.ts";
import type { TensorData } from "../src/tensor/graph.ts";
import { quantizeLinears } from "../src/tensor/quantize.ts";
import { Session } from "../src/tensor/session.ts";
import { adamwStep, createAdamWState } from "../src/train/adamw.ts";
import {
  accumulateGrads,
  averagedGrads,
  clipGradNorm,
  createGradAccumulator,
  resetGradAccumulator,
} from "../src/train/gradients.ts";
import type { NamedArrays } from "../src/train/params.ts";
import { linearWithWarmup } from "../src/train/schedule.ts";
import { StateCache, fillStates, rowHash } from "../src/train/state-cache.ts";
import {
  BASELINE,
  type BaselineResult,
  baselineShapes,
  checkBaseline,
  hfConfig,
  runBaseline,
} from "./baseline.ts";
import { cpu, fmt, median, onExit, parseOptions, peakRssMib, printTable, type Figures } from "./util.ts";
import { WorkerHandle, forkChild } from "./worker.ts";

const HERE = fileURLToPath(import.meta.url);

// ---------------------------------------------------------------------------------------------
// The setting (the baseline's names and defaults)
// ---------------------------------------------------------------------------------------------

const STUDENT = "nllb-600m-encoder";
const RETRIEVER = "e5-small-v2";
const BATCH = 16;
const SEQ = 64;
const PROJ_HIDDEN = 4096;
const LORA: LoraSpec = { r: 32, alpha: 64, dropout: 0, targets: ["query", "key", "value"] };
const LR = 2e-4;
const MAX_GRAD_NORM = 1.0;

// bert-base-uncased ids of [CLS], "query", "passage", ":" and [SEP]; NLLB's eng_Latn and </s>
const PREFIX = { query: [101, 23032, 1024], passage: [101, 6019, 1024] };
const SEP = 102;
const ENG_LATN = 256047;
const EOS = 2;
const PAD = 1;

const mib = (bytes: number) => Math.round(bytes / 2 ** 20);

// ---------------------------------------------------------------------------------------------
// Worker: one xlir training session, driven by messages from the parent
// ---------------------------------------------------------------------------------------------

type ToWorker = { type: "measure"; warmup: number; steps: number } | { type: "exit" };

const MODES = ["full", "int8", "cached", "cached-int8"] as const;
type Mode = (typeof MODES)[number];

type FromWorker =
  | {
      type: "ready";
      /** cached: the one-time NLLB pass over the batch's texts, per text. */
      nllb_pass_ms_per_text?: number;
      cache_bytes?: number;
      build_s: number;
      session_s: number;
      trainable_params: number;
      forward_nodes: number;
      backward_nodes: number;
      nllb_nodes_in_backward: number;
      frozen_mib: number;
    }
  | { type: "times"; step_s: number[]; run_s: number[]; optimizer_s: number[]; hs: number[] }
  | { type: "bye"; peak_rss_mib: number; rss_stages_mib: Record<string, number> }
  | { type: "error"; message: string };

function uniformInit(rng: Rng, n: number, bound: number): Float32Array {
  const a = new Float32Array(n);
  for (let i = 0; i < n; i++) a[i] = (2 * rng.next() - 1) * bound;
  return a;
}

/** Fixed batch: NLLB rows [eng_Latn, 62 ids in [4, vocab), </s>], roles alternating. */
function batchRows(vocab: number): { rows: number[][]; roles: ("query" | "passage")[] } {
  const rng = new Rng(1234 + 7 * BATCH + SEQ);
  const rows = Array.from({ length: BATCH }, () => [
    ENG_LATN,
    ...Array.from({ length: SEQ - 2 }, () => 4 + Math.floor(rng.next() * (vocab - 4))),
    EOS,
  ]);
  return { rows, roles: rows.map((_, i) => (i % 2 ? "passage" : "query")) };
}

async function worker(nllbDir: string, e5Dir: string, threads: number, mode: Mode): Promise<void> {
  const send = (m: FromWorker) => process.send!(m);
  const stages: Record<string, number> = {};
  const mark = (stage: string) => (stages[stage] = mib(process.memoryUsage().rss));
  mark("start");
  const t0 = performance.now();
  const nllb = Checkpoint.open(nllbDir);
  const e5 = Checkpoint.open(e5Dir);
  const dN = nllb.config.hidden;
  const dE = e5.config.hidden;

  // trainable weights initialised as distill.ts does: nn.Linear-style projection, LoRA A uniform
  // (kaiming), B zero (PEFT)
  const init = new Rng(42);
  const proj = new Map([
    [
      "proj.0.weight",
      { data: uniformInit(init, PROJ_HIDDEN * dN, 1 / Math.sqrt(dN)), dims: [PROJ_HIDDEN, dN] },
    ],
    ["proj.0.bias", { data: uniformInit(init, PROJ_HIDDEN, 1 / Math.sqrt(dN)), dims: [PROJ_HIDDEN] }],
    [
      "proj.1.weight",
      { data: uniformInit(init, dE * PROJ_HIDDEN, 1 / Math.sqrt(PROJ_HIDDEN)), dims: [dE, PROJ_HIDDEN] },
    ],
    ["proj.1.bias", { data: uniformInit(init, dE, 1 / Math.sqrt(PROJ_HIDDEN)), dims: [dE] }],
  ]);
  const lora = new Map<string, { data: Float32Array; dims: number[] }>();
  for (let i = 0; i < e5.config.layers; i++)
    for (const t of LORA.targets) {
      const m = `base_model.model.encoder.layer.${i}.attention.self.${t}`;
      lora.set(`${m}.lora_A.weight`, {
        data: uniformInit(init, LORA.r * dE, 1 / Math.sqrt(dE)),
        dims: [LORA.r, dE],
      });
      lora.set(`${m}.lora_B.weight`, { data: new Float32Array(dE * LORA.r), dims: [dE, LORA.r] });
    }
  const spec: NllbE5Spec = {
    projectionDims: [dN, PROJ_HIDDEN, dE],
    projectionActivation: "none",
    prefixIds: PREFIX,
    sepId: SEP,
    lora: LORA,
    maxNllbTokens: 508,
  };
  const parts = {
    nllb,
    e5,
    e5Config: e5.config,
    projection: tensorSource(proj, "projection"),
    lora: tensorSource(lora, "lora"),
  };
  const isTrainable = (name: string) => name.startsWith("proj.") || name.includes(".lora_");
  const { rows, roles } = batchRows(nllb.config.vocabSize);
  const hashes = rows.map(rowHash);
  let cache: StateCache | undefined;
  let pass: { nllb_pass_ms_per_text: number; cache_bytes: number } | undefined;
  const nllbStates = mode.startsWith("cached");
  if (nllbStates) {
    const dtype = mode === "cached-int8" ? "int8" : "float32";
    cache = StateCache.open(join(nllbDir, "..", "nllb-cache"), `bench|${dtype}`, dN);
    const p0 = performance.now();
    await fillStates(
      cache,
      nllb,
      rows.map((r, i) => ({ nllb: r, stateHash: hashes[i] })),
      { threads, pad: PAD, dtype },
    );
    pass = { nllb_pass_ms_per_text: (performance.now() - p0) / BATCH, cache_bytes: cache.bytes };
    mark("NLLB pass");
  }
  const built = studentGraph(parts, spec, { trainable: isTrainable, loss: true, dropout: false, nllbStates });
  mark("graph built");
  const names = [...built.trainableData.keys()];
  const dims: Record<string, number[]> = Object.fromEntries(
    names.map((n) => [n, built.graph.inputs.find((i) => i.name === n)!.shape as number[]]),
  );
  const fullGraph = grad(built.graph, "loss", names, ["embedding"]);
  const backward = fullGraph.nodes.slice(built.graph.nodes.length);
  // as distill.ts runs --nllb-dtype int8 without the cache: NLLB's linear layers in int8
  const trainGraph =
    mode === "int8" ? quantizeLinears(fullGraph, { weights: (w) => w.startsWith("nllb.") }) : fullGraph;
  const frozenBytes = trainGraph.initializerBytes();
  const build_s = (performance.now() - t0) / 1000 - (pass ? (pass.nllb_pass_ms_per_text * BATCH) / 1000 : 0);
  const t1 = performance.now();
  const session = await Session.create(trainGraph, { threads, memoryPattern: false }); // as distill.ts
  const session_s = (performance.now() - t1) / 1000;
  mark("session created");

  const params: NamedArrays = Object.fromEntries(built.trainableData);
  const optimizer = createAdamWState(params);
  const acc = createGradAccumulator(params);
  const schedule = linearWithWarmup(0, 1_000_000);
  const teacher = new Float32Array(BATCH * dE);
  const trng = new Rng(7);
  for (let i = 0; i < teacher.length; i++) teacher[i] = trng.normal();
  let stepCount = 0;
  let hs: Float32Array = new Float32Array(0);

  /** distill.ts's loop body with gradAccum 1: feeds, forward+backward, clip, AdamW. */
  const step = async (): Promise<{ run: number; opt: number }> => {
    const r0 = performance.now();
    const sb = studentBatch(rows, roles, spec, PAD);
    const teacherRows = new Float32Array(BATCH * dE);
    teacherRows.set(teacher);
    const feeds: Record<string, TensorData> = { ...studentFeeds(sb, teacherRows, dE) };
    if (cache) {
      delete feeds.nllb_input_ids;
      const data = cache.batch(hashes, sb.nllbSeq);
      feeds.nllb_hidden = { dtype: "float32", dims: [BATCH, sb.nllbSeq, dN], data };
    }
    for (const n of names) feeds[n] = { dtype: "float32", dims: dims[n], data: params[n] };
    const out = await session.run(feeds);
    hs = out.embedding.data as Float32Array;
    const r1 = performance.now();
    if (!Number.isFinite((out.loss.data as Float32Array)[0])) throw new Error("xlir: the loss is not finite");
    accumulateGrads(acc, Object.fromEntries(names.map((n) => [n, out[gradName(n)].data as Float32Array])));
    const grads = averagedGrads(acc);
    resetGradAccumulator(acc);
    clipGradNorm(grads, MAX_GRAD_NORM);
    adamwStep(params, grads, optimizer, LR * schedule(stepCount), { weightDecay: 0 });
    stepCount += 1;
    return { run: (r1 - r0) / 1000, opt: (performance.now() - r1) / 1000 };
  };

  send({
    type: "ready",
    ...pass,
    build_s,
    session_s,
    trainable_params: names.reduce((s, n) => s + params[n].length, 0),
    forward_nodes: built.graph.nodes.length,
    backward_nodes: backward.length,
    nllb_nodes_in_backward: backward.filter((n) => n.inputs.some((i) => i.startsWith("nllb."))).length,
    frozen_mib: mib(frozenBytes),
  });
  process.on("disconnect", () => process.exit(0));
  process.on("message", async (m: ToWorker) => {
    try {
      if (m.type === "measure") {
        for (let i = 0; i < m.warmup; i++) await step();
        const res = { step_s: [] as number[], run_s: [] as number[], optimizer_s: [] as number[] };
        for (let i = 0; i < m.steps; i++) {
          const s0 = performance.now();
          const { run, opt } = await step();
          res.step_s.push((performance.now() - s0) / 1000);
          res.run_s.push(run);
          res.optimizer_s.push(opt);
        }
        mark("after steps");
        send({ type: "times", ...res, hs: Array.from(hs) });
      } else {
        await session.release();
        const bye: FromWorker = {
          type: "bye",
          peak_rss_mib: peakRssMib(),
          rss_stages_mib: stages,
        };
        process.send!(bye, () => process.exit(0));
      }
    } catch (e) {
      send({ type: "error", message: (e as Error).message });
    }
  });
}

/** Write both random checkpoints in a child process, so the ~2 GB of generated weights are not ours to hold. */
function writeCheckpoints(root: string): Promise<void> {
  return new Promise((res, rej) => {
    const child = forkChild(HERE, ["--write", root]);
    child.on("error", rej);
    child.on("exit", (code, signal) =>
      code === 0
        ? res()
        : rej(new Error(`writing the random checkpoints failed (${signal ?? `exit ${code}`})`)),
    );
  });
}

/** config.json, as the hub writes it, of one of the baseline's SHAPES. */
function shapeConfig(name: string): Record<string, unknown> {
  const shape = baselineShapes().get(name);
  if (!shape) throw new Error(`${BASELINE}: no SHAPES["${name}"]; the baseline and this benchmark disagree`);
  return hfConfig(shape);
}

// ---------------------------------------------------------------------------------------------
// The PyTorch baseline
// ---------------------------------------------------------------------------------------------

type TorchResult = BaselineResult & { trainable_params: number };

function runTorch(threads: number, warmup: number, steps: number): Promise<TorchResult> {
  const args = ["distill-step", "--student-encoder", STUDENT, "--retriever", RETRIEVER];
  args.push("--trainable", "projection+lora", "--batch", `${BATCH}`, "--seq", `${SEQ}`);
  args.push("--proj-hidden", `${PROJ_HIDDEN}`, "--r", `${LORA.r}`, "--alpha", `${LORA.alpha}`);
  args.push("--threads", `${threads}`, "--warmup", `${warmup}`, "--iters", `${steps}`, "--budget", "0");
  return runBaseline<TorchResult>(args);
}

// ---------------------------------------------------------------------------------------------
// The run
// ---------------------------------------------------------------------------------------------

function figures(rounds: number[][], peakRss: number): Figures {
  const all = rounds.flat();
  const med = median(all);
  return {
    median_ms: Math.round(med * 1e3),
    min_ms: Math.round(Math.min(...all) * 1e3),
    seq_per_s: +(BATCH / med).toFixed(2),
    round_medians_ms: rounds.map((r) => Math.round(median(r) * 1e3)),
    peak_rss_mib: peakRss,
  };
}

function parseArgs(argv: string[]) {
  const { opts, int } = parseOptions(argv, ["rounds", "steps", "threads", "xlir"]);
  const modes = (opts.xlir ?? MODES.join(",")).split(",").filter(Boolean) as Mode[];
  for (const m of modes)
    if (!MODES.includes(m)) throw new Error(`--xlir: "${m}" is not one of ${MODES.join(", ")}`);
  return {
    rounds: int("rounds", 3),
    steps: int("steps", 3),
    threads: int("threads", availableParallelism()),
    modes,
  };
}

async function main(): Promise<void> {
  const args = parseArgs(process.argv.slice(2));
  const log = (msg: string) => console.error(`[bench:distill-step] ${msg}`);
  // "torch" names the baseline's figures in this benchmark's JSON
  const { torch: torch_version, gemm_gflops } = checkBaseline();
  const baseline = { torch_version, gemm_gflops };
  log(`torch ${baseline.torch_version}, GEMM 2048: ${baseline.gemm_gflops} GFLOP/s; ${args.threads} threads`);

  const root = mkdtempSync(join(tmpdir(), "xlir-bench-distill-"));
  const workers = new Map<Mode, WorkerHandle<ToWorker, FromWorker>>();
  onExit(() => {
    for (const w of workers.values()) w.kill();
    rmSync(root, { recursive: true, force: true });
  });

  const w0 = performance.now();
  log(`writing random ${STUDENT} and ${RETRIEVER} checkpoints to ${root}`);
  await writeCheckpoints(root);
  log(`checkpoints written in ${fmt((performance.now() - w0) / 1000)} s`);

  type Run = {
    ready: Extract<FromWorker, { type: "ready" }>;
    step: number[][];
    run: number[][];
    opt: number[][];
    hs: number[];
  };
  const runs = new Map<Mode, Run>();
  for (const mode of args.modes) {
    const w = new WorkerHandle<ToWorker, FromWorker>(
      forkChild(HERE, ["--worker", join(root, STUDENT), join(root, RETRIEVER), `${args.threads}`, mode]),
    );
    workers.set(mode, w);
    const ready = await w.ask("ready");
    runs.set(mode, { ready, step: [], run: [], opt: [], hs: [] });
    log(
      `xlir ${mode}: graph ${ready.forward_nodes} forward + ${ready.backward_nodes} backward nodes (${ready.nllb_nodes_in_backward} touching NLLB), ${ready.frozen_mib} MiB of frozen weights, built in ${fmt(ready.build_s)} s, session in ${fmt(ready.session_s)} s` +
        (ready.nllb_pass_ms_per_text !== undefined
          ? `; NLLB pass ${fmt(ready.nllb_pass_ms_per_text)} ms per text, ${fmt(ready.cache_bytes! / 2 ** 10, 0)} KiB of states`
          : ""),
    );
  }
  const torch: number[][] = [];
  const load: number[] = [];
  let torchRss = 0;
  let torchInfo: TorchResult | undefined;
  const engines = [...args.modes, "torch"] as const;
  for (let r = 0; r < args.rounds; r++) {
    // rotate who goes first, so that no engine always runs right after another
    const order = engines.map((_, i) => engines[(i + r) % engines.length]);
    for (const e of order) {
      load.push(+loadavg()[0].toFixed(2));
      if (e !== "torch") {
        const run = runs.get(e)!;
        const m = { type: "measure" as const, warmup: r === 0 ? 1 : 0, steps: args.steps };
        const t = await workers.get(e)!.ask("times", m);
        run.step.push(t.step_s);
        run.run.push(t.run_s);
        run.opt.push(t.optimizer_s);
        run.hs = t.hs;
      } else {
        // a fresh process each round: always warm it up
        const t = await runTorch(args.threads, 1, args.steps);
        torch.push(t.times_s);
        torchRss = Math.max(torchRss, Math.round(t.peak_rss_mib));
        torchInfo = t;
      }
    }
    const parts = [...runs].map(([m, x]) => `xlir ${m} ${fmt(median(x.step[r]) * 1e3, 0)} ms`);
    log(
      `round ${r + 1}/${args.rounds}: ${parts.join(", ")}, torch ${fmt(median(torch[r]) * 1e3, 0)} ms per step (load ${load.slice(-engines.length).join(", ")})`,
    );
  }
  const t = {
    ...figures(torch, torchRss),
    trainable_params: torchInfo?.trainable_params,
    threads: torchInfo?.threads,
  };
  const xlir: Record<string, ReturnType<typeof xlirFigures>> = {};
  for (const [mode, run] of runs) {
    const bye = await workers.get(mode)!.ask("bye", { type: "exit" });
    workers.get(mode)!.kill();
    workers.delete(mode);
    if (torchInfo && torchInfo.trainable_params !== run.ready.trainable_params)
      log(
        `warning: trainable parameters differ: xlir ${run.ready.trainable_params}, torch ${torchInfo.trainable_params}`,
      );
    xlir[mode] = xlirFigures(run, bye as Extract<FromWorker, { type: "bye" }>, t);
  }
  const full = runs.get("full")?.hs;
  const hsCosine = Object.fromEntries(
    [...runs].flatMap(([m, r]) =>
      full && m !== "full" ? [[m, +minCosine(full, r.hs, BATCH).toFixed(6)]] : [],
    ),
  );

  const head = [
    "engine",
    "step ms (median)",
    "min ms",
    "seq/s",
    "peak RSS MiB",
    "step / torch",
    "peak RSS / torch",
  ];
  const lines = [head];
  for (const [mode, x] of Object.entries(xlir))
    lines.push([
      `xlir ${mode}`,
      `${x.median_ms}`,
      `${x.min_ms}`,
      fmt(x.seq_per_s, 2),
      `${x.peak_rss_mib}`,
      fmt(x.ratios.step_time_xlir_over_torch, 2),
      fmt(x.ratios.peak_rss_xlir_over_torch, 2),
    ]);
  lines.push([
    "PyTorch eager fp32",
    `${t.median_ms}`,
    `${t.min_ms}`,
    fmt(t.seq_per_s, 2),
    `${t.peak_rss_mib}`,
    "1",
    "1",
  ]);
  console.log(
    `NLLB-E5 training step: ${STUDENT} + ${RETRIEVER}, projection+lora (r ${LORA.r}, alpha ${LORA.alpha}), batch ${BATCH} x ${SEQ}, ${args.threads} threads`,
  );
  printTable(lines);
  const c = cpu();
  console.log(
    `CPU: ${c.model}; flags ${c.flags.join(" ")}. xlir step = session run + clip/AdamW in TypeScript; cached = from float16 NLLB states on disk (read in the step); NLLB pass per text (session creation included): ${Object.entries(
      xlir,
    )
      .flatMap(([m, x]) => (x.nllb_pass_ms_per_text ? [`${m} ${fmt(x.nllb_pass_ms_per_text)} ms`] : []))
      .join(
        ", ",
      )}. Lowest cosine of H_S to full's: ${JSON.stringify(hsCosine)}. Goals: cached step / torch <= 0.5, peak RSS / torch <= 1.1. Medians over ${args.rounds} rounds x ${args.steps} steps; load average ${load.join(", ")}.`,
  );
  const cores = availableParallelism();
  if (Math.max(...load) > cores)
    console.log(
      `note: the machine was busy (1-minute load average up to ${Math.max(...load)} on ${cores} cores), so the figures are noisy` +
        (args.threads > 1
          ? "; PyTorch's OpenMP threads lose more to other processes than ONNX Runtime's, so the ratios lean towards xlir: rerun on a quiet machine, or compare with --threads 1."
          : "."),
    );
  console.log(
    JSON.stringify({
      bench: "distill-step",
      student_encoder: STUDENT,
      retriever: RETRIEVER,
      trainable: "projection+lora",
      lora: { r: LORA.r, alpha: LORA.alpha, dropout: LORA.dropout },
      projection_hidden: PROJ_HIDDEN,
      batch: BATCH,
      nllb_seq: SEQ,
      e5_seq: { xlir: SEQ + 4, torch: SEQ },
      threads: args.threads,
      ...baseline,
      cpu: c,
      rounds: args.rounds,
      steps_per_round: args.steps,
      load_average: load,
      xlir,
      torch: t,
      hs_min_cosine_to_full: hsCosine,
    }),
  );
}

function xlirFigures(
  run: { ready: Extract<FromWorker, { type: "ready" }>; step: number[][]; run: number[][]; opt: number[][] },
  bye: Extract<FromWorker, { type: "bye" }>,
  t: Figures,
) {
  const x = figures(run.step, bye.peak_rss_mib);
  return {
    ...x,
    session_run_median_ms: Math.round(median(run.run.flat()) * 1e3),
    optimizer_median_ms: Math.round(median(run.opt.flat()) * 1e3),
    rss_stages_mib: bye.rss_stages_mib,
    graph: {
      forward_nodes: run.ready.forward_nodes,
      backward_nodes: run.ready.backward_nodes,
      nllb_nodes_in_backward: run.ready.nllb_nodes_in_backward,
      frozen_weights_mib: run.ready.frozen_mib,
    },
    build_s: +run.ready.build_s.toFixed(1),
    session_create_s: +run.ready.session_s.toFixed(1),
    trainable_params: run.ready.trainable_params,
    nllb_pass_ms_per_text: run.ready.nllb_pass_ms_per_text,
    cache_bytes: run.ready.cache_bytes,
    ratios: {
      step_time_xlir_over_torch: +(x.median_ms / t.median_ms).toFixed(3),
      seq_per_s_xlir_over_torch: +(x.seq_per_s / t.seq_per_s).toFixed(3),
      peak_rss_xlir_over_torch: +(x.peak_rss_mib / t.peak_rss_mib).toFixed(3),
    },
  };
}

/** Lowest cosine between matching rows of two [rows, d] arrays. */
function minCosine(a: number[], b: number[], rows: number): number {
  const d = a.length / rows;
  let min = 1;
  for (let r = 0; r < rows; r++) {
    let ab = 0;
    let aa = 0;
    let bb = 0;
    for (let i = r * d; i < (r + 1) * d; i++) {
      ab += a[i] * b[i];
      aa += a[i] * a[i];
      bb += b[i] * b[i];
    }
    min = Math.min(min, ab / Math.sqrt(aa * bb));
  }
  return min;
}

if (process.argv[2] === "--worker") {
  worker(process.argv[3], process.argv[4], Number(process.argv[5]), process.argv[6] as Mode).catch((e) => {
    process.send?.({ type: "error", message: (e as Error).message });
    process.exit(1);
  });
} else if (process.argv[2] === "--write") {
  const root = process.argv[3];
  writeRandomCheckpoint(join(root, STUDENT), shapeConfig(STUDENT), 1);
  writeRandomCheckpoint(join(root, RETRIEVER), shapeConfig(RETRIEVER), 2);
  process.exit(0);
} else {
  main().catch((e) => {
    console.error(`bench:distill-step: ${(e as Error).message}`);
    process.exit(1);
  });
}
