// Encoder speed, side by side with PyTorch in one run: for each shape of the baseline script
// (../shared/bench/torch_baseline.py, run through bench/baseline.ts), a checkpoint in the real
// Hugging Face layout with random weights (src/models/random.ts: speed, not quality, is measured) is
// written to a temp folder, loaded by xlir (Checkpoint -> encoderGraph, mean pooling, normalised ->
// ONNX Runtime; in float32 and with int8 linear layers, as Encoder's dtype option runs them), and
// timed against PyTorch eager in float32 and bfloat16 on the same shapes:
//   query latency      batch 1 x 32 tokens, 1 thread, median ms         ratio xlir / torch (lower is better)
//   passage throughput batch 32 x 128 tokens, all threads, sequences/s  ratio xlir / torch (higher is better)
// Inputs are full-length rows (mask all ones) of token ids drawn from a fixed seed, as the baseline's.
// The machine may be shared, so xlir and the baselines take turns, round by round, and the figures
// are medians over all rounds (min and per-round medians are in the JSON, to judge the noise).
// xlir runs in a child process per shape and setting (so its peak RSS is that of one session),
// PyTorch in one child process per measurement (`torch_baseline.py encode ...`, which prints JSON).
// A baseline that is very slow here (bfloat16 on a CPU without AVX512-BF16 runs ~30x slower than
// float32) gets fewer iterations and rounds, about --baseline-budget-s seconds each.
// int8's accuracy is reported as the lowest cosine of its embeddings to float32's on the same batch.
// xlir's graphs have their self-attention fused into ONNX Runtime's MultiHeadAttention
// (src/tensor/fuse.ts); the dtypes float32-unfused / int8-unfused run the graph without it, for a
// before/after in the same run. The CPU's GEMM-relevant flags (VNNI, BF16, AMX) are printed with
// the figures: the ratios depend on them.
// Prints a table, then one line of JSON with every figure.
//
//   npm run bench:encode -- [--shapes e5-small-v2,e5-base-v2,nllb-600m-encoder]
//        [--dtype float32,int8 (also float32-unfused, int8-unfused)]
//        [--dtype-baseline float32,bfloat16] [--rounds 3] [--latency-runs 20] [--throughput-runs 3]
//        [--threads N] [--baseline-budget-s 120]
//
// Set-up of the baseline (once per machine): apt-get install -y python3-torch libopenblas0-openmp
// (XLIR_BENCH_PYTHON names another interpreter than /usr/bin/python3).

import { mkdtempSync, rmSync, statSync } from "node:fs";
import { availableParallelism, tmpdir } from "node:os";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { Checkpoint } from "../src/models/checkpoint.ts";
import { encoderGraph, takesTokenTypes } from "../src/models/encoder-graph.ts";
import type { Graph, TensorData } from "../src/tensor/graph.ts";
import { quantizeLinears } from "../src/tensor/quantize.ts";
import { Session } from "../src/tensor/session.ts";
import { type BaselineResult, baselineShapes, checkBaseline, hfConfig, runBaseline } from "./baseline.ts";
import {
  cpu,
  fmt,
  median,
  onExit,
  parseOptions,
  peakRssMib,
  printTable,
  type Figures,
  writeRandomCheckpointApart,
} from "./util.ts";
import { WorkerHandle, forkChild } from "./worker.ts";

const HERE = fileURLToPath(import.meta.url);

// ---------------------------------------------------------------------------------------------
// Settings and inputs
// ---------------------------------------------------------------------------------------------

interface Setting {
  name: "query-latency" | "passage-throughput";
  batch: number;
  seq: number;
  threads: number;
  runs: number;
  /** Warm-up runs before the first round (later rounds: `rewarm`). */
  warmup: number;
  rewarm: number;
}

/** Token ids in [4, vocab) from a fixed seed (per batch and length, like the baseline), mask all ones. */
function inputs(vocab: number, batch: number, seq: number, tokenTypes: boolean): Record<string, TensorData> {
  let s = (1234 + 7 * batch + seq) >>> 0;
  const ids = new BigInt64Array(batch * seq);
  for (let i = 0; i < ids.length; i++) {
    s ^= s << 13;
    s ^= s >>> 17;
    s ^= s << 5;
    ids[i] = BigInt(4 + ((s >>> 0) % (vocab - 4)));
  }
  const dims = [batch, seq];
  const feeds: Record<string, TensorData> = {
    input_ids: { dtype: "int64", dims, data: ids },
    attention_mask: { dtype: "int64", dims, data: new BigInt64Array(batch * seq).fill(1n) },
  };
  if (tokenTypes) feeds.token_type_ids = { dtype: "int64", dims, data: new BigInt64Array(batch * seq) };
  return feeds;
}

// ---------------------------------------------------------------------------------------------
// Worker: one shape's xlir session, driven by messages from the parent
// ---------------------------------------------------------------------------------------------

type ToWorker =
  | { type: "session"; threads: number }
  | { type: "measure"; batch: number; seq: number; warmup: number; runs: number }
  | { type: "exit" };

type FromWorker =
  | { type: "ready"; load_s: number; build_s: number; nodes: number; initializer_mib: number }
  | { type: "session-ready"; create_s: number }
  | { type: "times"; times_s: number[]; embedding: number[] }
  | { type: "bye"; peak_rss_mib: number; rss_mib: number }
  | { type: "error"; message: string };

const XLIR_DTYPES = ["float32", "int8", "float32-unfused", "int8-unfused"] as const;
type XlirDType = (typeof XLIR_DTYPES)[number];

async function worker(dir: string, dtype: XlirDType): Promise<void> {
  const send = (m: FromWorker) => process.send!(m);
  const t0 = performance.now();
  const ck = Checkpoint.open(dir);
  const vocab = ck.config.vocabSize;
  const tokenTypes = takesTokenTypes(ck);
  const t1 = performance.now();
  // as Encoder.load does it: the graph's frozen weights stay in the checkpoint (lazyTensor) until
  // Session.create writes them, one at a time, as external data for ONNX Runtime; the checkpoint
  // closes once the session has them, so RSS after that is the session's
  const f32 = encoderGraph(ck, { pooling: "mean", normalize: true, fuse: !dtype.endsWith("-unfused") });
  let graph: Graph | undefined = dtype.startsWith("int8") ? quantizeLinears(f32) : f32;
  const bytes = graph.initializerBytes();
  const nodes = graph.nodes.length;
  send({
    type: "ready",
    load_s: (t1 - t0) / 1000,
    build_s: (performance.now() - t1) / 1000,
    nodes,
    initializer_mib: Math.round(bytes / 2 ** 20),
  });
  let session: Session | undefined;
  process.on("disconnect", () => process.exit(0)); // the parent is gone (or done with us)
  process.on("message", async (m: ToWorker) => {
    try {
      if (m.type === "session") {
        if (!graph) throw new Error("xlir worker: one session per worker");
        const c0 = performance.now();
        session = await Session.create(graph, { threads: m.threads });
        graph = undefined;
        ck.close();
        send({ type: "session-ready", create_s: (performance.now() - c0) / 1000 });
      } else if (m.type === "measure") {
        const feeds = inputs(vocab, m.batch, m.seq, tokenTypes);
        for (let i = 0; i < m.warmup; i++) await session!.run(feeds, ["embedding"]);
        const times_s: number[] = [];
        let out: Record<string, TensorData> = {};
        for (let i = 0; i < m.runs; i++) {
          const r0 = performance.now();
          out = await session!.run(feeds, ["embedding"]);
          times_s.push((performance.now() - r0) / 1000);
        }
        send({ type: "times", times_s, embedding: Array.from(out.embedding.data as Float32Array) });
      } else {
        const rss = process.memoryUsage().rss; // with the session still open
        await session?.release();
        send({
          type: "bye",
          peak_rss_mib: peakRssMib(),
          rss_mib: Math.round(rss / 2 ** 20),
        });
      }
    } catch (e) {
      send({ type: "error", message: (e as Error).message });
    }
  });
}

type XlirWorker = WorkerHandle<ToWorker, FromWorker>;

const startWorker = (dir: string, dtype: XlirDType): XlirWorker =>
  new WorkerHandle(forkChild(HERE, ["--worker", dir, dtype]));

// ---------------------------------------------------------------------------------------------
// The PyTorch baseline
// ---------------------------------------------------------------------------------------------

/** How one baseline measurement runs: warm-up and timed iterations, and when to give up on it. */
interface TorchPlan {
  warmup: number;
  iters: number;
  timeout_s: number;
}

/**
 * Plan a baseline measurement from `est`, its seconds per iteration (measured in an earlier round or
 * estimated), so that a slow baseline (bfloat16 without hardware support is ~30x slower than
 * float32) stays within about `budget` seconds per round: fewer iterations, no warm-up when one
 * iteration takes seconds anyway, and only one round when a single iteration exceeds the budget.
 */
function planTorch(
  s: Setting,
  est: number | undefined,
  round: number,
  budget: number,
): TorchPlan | undefined {
  if (est === undefined) return { warmup: s.warmup, iters: s.runs, timeout_s: 10 * budget };
  if (round > 0 && est > budget) return undefined;
  const warmup = est * (s.warmup + s.runs) <= budget ? s.warmup : 0;
  const iters = Math.max(1, Math.min(s.runs, Math.floor(budget / est) - warmup));
  // the limit only guards against a run that would take hours: a busy machine easily makes one 5x slower
  return { warmup, iters, timeout_s: Math.max(4 * budget, 10 * est * (warmup + iters)) + 120 };
}

function runTorch(
  shape: string,
  s: Setting,
  dtype: string,
  plan: TorchPlan,
): Promise<BaselineResult | "timeout"> {
  const args = ["encode", "--shape", shape, "--batch", `${s.batch}`, "--seq", `${s.seq}`];
  args.push("--threads", `${s.threads}`, "--dtype", dtype, "--warmup", `${plan.warmup}`);
  args.push("--iters", `${plan.iters}`, "--budget", "0");
  return runBaseline(args, plan.timeout_s);
}

// ---------------------------------------------------------------------------------------------
// The run
// ---------------------------------------------------------------------------------------------

/** One xlir dtype's worker and what it measured in one setting. */
interface XlirRun {
  worker: XlirWorker;
  ready: Extract<FromWorker, { type: "ready" }>;
  session: Extract<FromWorker, { type: "session-ready" }>;
  times: number[][];
  /** The embeddings [batch, dim] of its last run. */
  embedding: number[];
}

/** The lowest cosine between matching rows of two [rows, dim] embedding matrices (unit rows). */
function minCosine(a: number[], b: number[], rows: number): number {
  const d = a.length / rows;
  let min = Infinity;
  for (let r = 0; r < rows; r++) {
    let dot = 0;
    for (let c = 0; c < d; c++) dot += a[r * d + c] * b[r * d + c];
    min = Math.min(min, dot);
  }
  return min;
}

function figures(rounds: number[][], batch: number, peakRss: number, timedOut?: number): Figures {
  const all = rounds.flat();
  const med = all.length ? median(all) : NaN;
  return {
    median_ms: +(med * 1e3).toFixed(2),
    min_ms: +(Math.min(...all) * 1e3).toFixed(2),
    seq_per_s: +(batch / med).toFixed(3),
    round_medians_ms: rounds.map((r) => +(median(r) * 1e3).toFixed(2)),
    peak_rss_mib: peakRss,
    ...(timedOut ? { timed_out_after_s: timedOut } : {}),
  };
}

function parseArgs(argv: string[]) {
  const { opts, int } = parseOptions(argv, [
    "shapes",
    "dtype",
    "dtype-baseline",
    "rounds",
    "latency-runs",
    "throughput-runs",
    "threads",
    "baseline-budget-s",
  ]);
  const dtypes = (opts["dtype-baseline"] ?? "float32,bfloat16").split(",").filter(Boolean);
  for (const d of dtypes)
    if (d !== "float32" && d !== "bfloat16")
      throw new Error(`--dtype-baseline: "${d}" is not float32 or bfloat16`);
  const xlirDtypes = (opts.dtype ?? "float32,int8").split(",").filter(Boolean) as XlirDType[];
  for (const d of xlirDtypes)
    if (!XLIR_DTYPES.includes(d)) throw new Error(`--dtype: "${d}" is not one of ${XLIR_DTYPES.join(", ")}`);
  return {
    xlirDtypes,
    shapes: (opts.shapes ?? "e5-small-v2,e5-base-v2,nllb-600m-encoder").split(",").filter(Boolean),
    dtypes,
    rounds: int("rounds", 3),
    latencyRuns: int("latency-runs", 20),
    throughputRuns: int("throughput-runs", 3),
    threads: int("threads", availableParallelism()),
    budget: int("baseline-budget-s", 120),
  };
}

async function main(): Promise<void> {
  const args = parseArgs(process.argv.slice(2));
  const known = baselineShapes();
  for (const s of args.shapes)
    if (!known.has(s))
      throw new Error(
        `--shapes: "${s}" is not a shape of torch_baseline.py (known: ${[...known.keys()].join(", ")})`,
      );
  const baseline = { ...checkBaseline(), cpu: cpu() };
  const settings: Setting[] = [
    { name: "query-latency", batch: 1, seq: 32, threads: 1, runs: args.latencyRuns, warmup: 3, rewarm: 2 },
    {
      name: "passage-throughput",
      batch: 32,
      seq: 128,
      threads: args.threads,
      runs: args.throughputRuns,
      warmup: 1,
      rewarm: 0,
    },
  ];
  const log = (msg: string) => console.error(`[bench:encode] ${msg}`);
  log(
    `torch ${baseline.torch}, GEMM 2048: ${baseline.gemm_gflops} GFLOP/s; shapes ${args.shapes.join(", ")}`,
  );
  log(`CPU: ${baseline.cpu.model}; flags ${baseline.cpu.flags.join(" ")}`);

  const results: Record<string, unknown>[] = [];
  const dirs = new Set<string>();
  const workers = new Set<XlirWorker>();
  onExit(() => {
    for (const w of workers) w.kill();
    for (const d of dirs) rmSync(d, { recursive: true, force: true });
  });

  for (const shapeName of args.shapes) {
    const dir = mkdtempSync(join(tmpdir(), `xlir-bench-${shapeName}-`));
    dirs.add(dir);
    try {
      log(`${shapeName}: writing a random checkpoint to ${dir}`);
      const w0 = performance.now();
      writeRandomCheckpointApart(dir, hfConfig(known.get(shapeName)!), 1);
      const written = statSync(join(dir, "model.safetensors")).size;
      log(
        `${shapeName}: ${(written / 2 ** 20).toFixed(0)} MiB of weights written in ${((performance.now() - w0) / 1000).toFixed(1)} s`,
      );
      // seconds per iteration of each engine in each setting, to plan slow baselines
      const est = new Map<string, number>();
      for (const s of settings) {
        // one xlir process per dtype and setting, so that its peak RSS is that of one session
        const xl = new Map<XlirDType, XlirRun>();
        for (const d of args.xlirDtypes) {
          const worker = startWorker(dir, d);
          workers.add(worker);
          const ready = await worker.ask("ready");
          const session = await worker.ask("session-ready", { type: "session", threads: s.threads });
          xl.set(d, { worker, ready, session, times: [], embedding: [] });
        }
        const torch: Record<string, number[][]> = Object.fromEntries(args.dtypes.map((d) => [d, []]));
        const torchRss: Record<string, number> = Object.fromEntries(args.dtypes.map((d) => [d, 0]));
        const timedOut: Record<string, number> = {};
        let torchThreads = 0;
        const engines = [...args.xlirDtypes.map((d) => `xlir:${d}`), ...args.dtypes];
        // the first xlir dtype is the yardstick for planning slow baselines
        const lead = `xlir:${args.xlirDtypes[0]}`;
        for (let r = 0; r < args.rounds; r++) {
          // rotate who goes first so that no engine always runs right after another
          const order = engines.map((_, i) => engines[(i + r) % engines.length]);
          for (const e of order) {
            if (e.startsWith("xlir:")) {
              const run = xl.get(e.slice(5) as XlirDType)!;
              const warmup = r === 0 ? s.warmup : s.rewarm;
              const m = { type: "measure" as const, batch: s.batch, seq: s.seq, warmup, runs: s.runs };
              const got = await run.worker.ask("times", m);
              run.times.push(got.times_s);
              run.embedding = got.embedding;
              est.set(`${e}/${s.name}`, median(run.times.flat()));
              continue;
            }
            if (timedOut[e]) continue;
            // no measurement of this one yet: scale xlir's time here by the ratio seen at query latency
            const known = est.get(`${e}/${s.name}`);
            const scaled =
              est.get(`${lead}/${s.name}`)! *
              (est.get(`${e}/${settings[0].name}`)! / est.get(`${lead}/${settings[0].name}`)!);
            const plan = planTorch(
              s,
              known ?? (Number.isFinite(scaled) ? scaled : undefined),
              r,
              args.budget,
            );
            if (!plan) continue;
            // a fresh process each time, warmed up by the plan
            const t = await runTorch(shapeName, s, e, plan);
            if (t === "timeout") {
              timedOut[e] = plan.timeout_s;
              log(
                `${shapeName} ${s.name}: torch ${e} ran past ${plan.timeout_s.toFixed(0)} s; not measured further`,
              );
              continue;
            }
            torch[e].push(t.times_s);
            est.set(`${e}/${s.name}`, median(torch[e].flat()));
            torchRss[e] = Math.max(torchRss[e], Math.round(t.peak_rss_mib));
            torchThreads = t.threads;
          }
          const line = engines.map((e) =>
            e.startsWith("xlir:")
              ? `xlir ${e.slice(5)} ${fmt(median(xl.get(e.slice(5) as XlirDType)!.times[r]) * 1e3)} ms`
              : `torch ${e} ${fmt((est.get(`${e}/${s.name}`) ?? NaN) * 1e3)} ms`,
          );
          log(`${shapeName} ${s.name} round ${r + 1}/${args.rounds}: ${line.join(", ")}`);
        }
        const xlir: Record<string, unknown> = {};
        for (const [d, run] of xl) {
          const bye = await run.worker.ask("bye", { type: "exit" });
          run.worker.close();
          workers.delete(run.worker);
          xlir[d] = {
            ...figures(run.times, s.batch, bye.peak_rss_mib),
            rss_after_runs_mib: bye.rss_mib,
            graph_nodes: run.ready.nodes,
            initializer_mib: run.ready.initializer_mib,
            load_build_s: +(run.ready.load_s + run.ready.build_s).toFixed(2),
            session_create_s: +run.session.create_s.toFixed(2),
          };
        }
        const f32 = xl.get("float32")?.embedding;
        const int8 = xl.get("int8")?.embedding;
        results.push({
          shape: shapeName,
          setting: s.name,
          batch: s.batch,
          seq: s.seq,
          threads: s.threads,
          torch_threads: torchThreads,
          xlir,
          ...(f32 && int8 ? { int8_min_cosine_to_float32: +minCosine(f32, int8, s.batch).toFixed(6) } : {}),
          torch: Object.fromEntries(
            args.dtypes.map((d) => [d, figures(torch[d], s.batch, torchRss[d], timedOut[d])]),
          ),
        });
      }
    } finally {
      rmSync(dir, { recursive: true, force: true });
      dirs.delete(dir);
    }
  }
  report(results, args, baseline);
}

function report(
  results: Record<string, unknown>[],
  args: ReturnType<typeof parseArgs>,
  baseline: { cpu: ReturnType<typeof cpu> },
): void {
  type Row = {
    shape: string;
    setting: string;
    xlir: Record<string, Figures>;
    torch: Record<string, Figures>;
    int8_min_cosine_to_float32?: number;
  };
  const rows = results as unknown as Row[];
  const ratio = (r: Row, x: string, d: string) =>
    r.setting === "query-latency"
      ? r.xlir[x].median_ms / r.torch[d].median_ms
      : r.xlir[x].seq_per_s / r.torch[d].seq_per_s;
  const value = (f: Figures, setting: string) =>
    !Number.isFinite(f.median_ms)
      ? f.timed_out_after_s
        ? `> ${f.timed_out_after_s.toFixed(0)} s/batch`
        : "-"
      : setting === "query-latency"
        ? `${fmt(f.median_ms)} ms`
        : `${fmt(f.seq_per_s, 2)}/s`;
  const pairs = args.xlirDtypes.flatMap((x) => args.dtypes.map((d) => [x, d] as const));
  const head = [
    "shape",
    "setting",
    ...args.xlirDtypes.map((x) => `xlir ${x}`),
    ...args.dtypes.map((d) => `torch ${d}`),
    ...pairs.map(([x, d]) => `${x}/${d}`),
  ];
  head.push(`peak RSS MiB (xlir ${args.xlirDtypes.join(" / ")} / torch ${args.dtypes.join(" / ")})`);
  const cosine = rows.some((r) => r.int8_min_cosine_to_float32 !== undefined);
  if (cosine) head.push("int8 cos");
  const lines = [head];
  for (const r of rows) {
    lines.push([
      r.shape,
      r.setting === "query-latency" ? "latency 1x32, 1 thr" : `throughput 32x128, ${args.threads} thr`,
      ...args.xlirDtypes.map((x) => value(r.xlir[x], r.setting)),
      ...args.dtypes.map((d) => value(r.torch[d], r.setting)),
      ...pairs.map(([x, d]) => fmt(ratio(r, x, d), 2)),
      [
        ...args.xlirDtypes.map((x) => r.xlir[x].peak_rss_mib),
        ...args.dtypes.map((d) => r.torch[d].peak_rss_mib),
      ].join(" / "),
      ...(cosine ? [fmt(r.int8_min_cosine_to_float32 ?? NaN, 5)] : []),
    ]);
  }
  printTable(lines);
  const has = (f: string) => (baseline.cpu.flags.includes(f) ? "yes" : "no");
  console.log(
    `CPU: ${baseline.cpu.model}; avx512_vnni ${has("avx512_vnni")}, avx512_bf16 ${has("avx512_bf16")}, amx ${has("amx_tile")}`,
  );
  console.log(
    "ratios: latency = xlir ms / torch ms (goal: float32 <= 0.7 vs bfloat16); throughput = xlir seq/s / torch seq/s (goal: float32 >= 1.5 vs float32). Medians over all rounds." +
      (cosine ? " int8 cos: lowest cosine of int8's embeddings to float32's on the batch." : ""),
  );
  const json = rows.map((r) => ({
    ...r,
    ratios: Object.fromEntries(
      pairs.map(([x, d]) => [`xlir_${x}_over_torch_${d}`, +ratio(r, x, d).toFixed(3)]),
    ),
  }));
  console.log(JSON.stringify({ bench: "encode", ...baseline, rounds: args.rounds, results: json }));
}

if (process.argv[2] === "--worker") {
  worker(process.argv[3], process.argv[4] as XlirDType).catch((e) => {
    process.send?.({ type: "error", message: (e as Error).message });
    process.exit(1);
  });
} else {
  main().catch((e) => {
    console.error(`bench:encode: ${(e as Error).message}`);
    process.exit(1);
  });
}
