// Translation with an NLLB-200-distilled-600M-shaped model (random weights): xlir's Seq2Seq.generate
// side by side with PyTorch on the same shapes, and how the per-step decode time grows with the
// number of generated tokens.
//
//   1. Throughput: batch 8 x 32 source tokens ([src_lang, 30 tokens, </s>], none padded), 32 new
//      tokens per row, greedy and beam search (4 beams), tokens/s = batch x new tokens / time of
//      the whole generate call (encoder included; beam search counts the returned sequence of each
//      row, not the beams).
//   2. Per-step time: greedy, batch 8, 64 new tokens, each step timed; the median of steps 4-8 vs
//      steps 60-64. The self-attention cache keeps a step's work nearly flat (only attention over
//      the cache grows with the length).
//
// The PyTorch side is bench/translate_torch.py: transformers is not installed beside Debian's
// python3-torch, so it is a plain PyTorch M2M100 (transformers' math, eager attention) with a
// key/value cache and its own greedy and beam loops, not transformers' `generate`.
//
// Like for like: both sides generate exactly the asked number of tokens per row. Random weights
// would emit EOS at any step, so xlir is given an EOS id outside the vocabulary (no score is ever
// that id, so no row or beam finishes early) and torch's loops have no EOS check; the first new
// token is forced to eng_Latn (forced_bos_token_id) on both. xlir's per-step time is the time from
// one decoder step to the next, so it includes the search's own work in TypeScript (scores,
// top-k, cache reordering) as torch's includes its argmax/topk/index_select; the ONNX Runtime part
// of each step is reported apart.
//
// xlir runs in a child process of this script and torch in a python3 child, one after the other,
// each doing every job after one short warm-up run per job, so each peak RSS is that of one engine
// doing the whole benchmark. OPENBLAS_CORETYPE / OPENBLAS_L2_SIZE are removed from the children's
// environment: a value left in the shell would tune OpenBLAS (torch's GEMM) for another CPU than
// the one printed here. The random checkpoint (about 2.5 GB) goes to the OS temp folder and is
// deleted at exit.
//
//   npm run bench:translate -- [--quick] [--layers 12] [--runs 2] [--threads 2] [--beams 4]
//
// --quick: 2 encoder + 2 decoder layers (same width and vocabulary) and one run of each job, a
// check of the set-up in about 2 minutes; the default takes about 4 minutes on an idle 2-core
// machine and up to 10 when other work shares it (torch's OpenMP threads suffer most from that).
//
// Set-up of the baseline (once per machine): apt-get install -y python3-torch libopenblas0-openmp
// (XLIR_BENCH_PYTHON names another interpreter than /usr/bin/python3).

import { type ChildProcess } from "node:child_process";
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { loadavg, tmpdir } from "node:os";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";
import { Seq2Seq } from "../src/generate/seq2seq.ts";
import type { DecoderState } from "../src/generate/seq2seq-model.ts";
import { Rng, writeRandomCheckpoint } from "../src/models/random.ts";
import { baselineShapes, checkBaseline, hfConfig, runPythonJson } from "./baseline.ts";
import { cpu, fmt, median, onExit, parseOptions, printTable } from "./util.ts";
import { WorkerHandle, forkChild } from "./worker.ts";

const HERE = fileURLToPath(import.meta.url);
const TORCH_SCRIPT = join(dirname(HERE), "translate_torch.py");

const SHAPE = "nllb-600m-encoder";
const BATCH = 8;
const SRC = 32;
const NEW = 32;
const LONG = 64;
/** eng_Latn in NLLB-200's vocabulary: the source rows' language code and the forced target BOS. */
const LANG = 256047;
const EOS = 2;
/** Steps (1-based, inclusive) whose median stands for "step 8" and "step 64". */
const EARLY: [number, number] = [4, 8];
const LATE: [number, number] = [LONG - 4, LONG];

const mib = (bytes: number) => Math.round(bytes / 2 ** 20);

/** One generate call: beams x new tokens per row. */
interface Job {
  beams: number;
  new: number;
}

/** One measured generate call. */
interface RunTimes {
  total_s: number;
  /** Each decoding step, search work included. */
  step_s: number[];
}

interface XlirRun extends RunTimes {
  /** The ONNX Runtime part of each step (Seq2SeqModel.step). */
  ort_s: number[];
}

interface Measured<R extends RunTimes> {
  jobs: (Job & { runs: R[] })[];
  peak_rss_mib: number;
}

interface XlirMeasured extends Measured<XlirRun> {
  load_s: number;
  rss_after_load_mib: number;
}

type FromWorker = ({ type: "done" } & XlirMeasured) | { type: "error"; message: string };

// ---------------------------------------------------------------------------------------------
// Worker: xlir in a process of its own
// ---------------------------------------------------------------------------------------------

/** [src_lang, tokens..., </s>] rows of SRC ids, the layout NllbTokenizer gives. */
function sourceRows(vocab: number): number[][] {
  const rng = new Rng(1234);
  return Array.from({ length: BATCH }, () => [
    LANG,
    ...Array.from({ length: SRC - 2 }, () => 4 + Math.floor(rng.next() * (vocab - 304))),
    EOS,
  ]);
}

async function worker(dir: string, jobs: Job[], runs: number, threads: number): Promise<void> {
  const t0 = performance.now();
  const seq = await Seq2Seq.load(dir, { threads });
  const load_s = (performance.now() - t0) / 1000;
  const rss_after_load_mib = mib(process.memoryUsage().rss);
  const vocab = seq.model.vocabSize;
  const rows = sourceRows(vocab);

  // step start times and ONNX Runtime durations, read around the real generate loop
  let starts: number[] = [];
  let ort: number[] = [];
  const step = seq.model.step.bind(seq.model);
  seq.model.step = async (state: DecoderState, tokens: readonly (readonly number[])[]) => {
    const s0 = performance.now();
    starts.push(s0);
    const out = await step(state, tokens);
    ort.push(performance.now() - s0);
    return out;
  };
  const generate = async (job: Job, maxNewTokens: number): Promise<XlirRun> => {
    starts = [];
    ort = [];
    const g0 = performance.now();
    const out = await seq.generate(rows, {
      numBeams: job.beams,
      maxNewTokens,
      // no score is ever this id, so no row or beam finishes before maxNewTokens
      eosTokenIds: [vocab],
      forcedBosTokenId: LANG,
      earlyStopping: false,
      lengthPenalty: 1,
      noRepeatNgramSize: 0,
      badWordsIds: [],
    });
    const end = performance.now();
    const short = out.flat().find((h) => h.ids.length !== 1 + maxNewTokens);
    if (short) throw new Error(`xlir generated ${short.ids.length - 1} tokens, not ${maxNewTokens}`);
    if (starts.length !== maxNewTokens)
      throw new Error(`xlir took ${starts.length} steps, not ${maxNewTokens}`);
    return {
      total_s: (end - g0) / 1000,
      step_s: starts.map((s, i) => ((starts[i + 1] ?? end) - s) / 1000),
      ort_s: ort.map((ms) => ms / 1000),
    };
  };

  const m: XlirMeasured = {
    jobs: [],
    peak_rss_mib: 0,
    load_s,
    rss_after_load_mib,
  };
  for (const job of jobs) {
    await generate(job, 2);
    const done: XlirRun[] = [];
    for (let r = 0; r < runs; r++) done.push(await generate(job, job.new));
    m.jobs.push({ ...job, runs: done });
  }
  m.peak_rss_mib = Math.round(process.resourceUsage().maxRSS / 1024);
  await seq.release();
  process.send!({ type: "done", ...m } satisfies FromWorker, () => process.exit(0));
}

// ---------------------------------------------------------------------------------------------
// Parent
// ---------------------------------------------------------------------------------------------

/** The NLLB-200 config.json with `layers` encoder and decoder layers, and its generation_config.json. */
function nllbConfig(layers: number): Record<string, unknown> {
  const s = baselineShapes().get(SHAPE);
  if (!s || s.kind !== "m2m100") throw new Error(`no M2M100 shape "${SHAPE}" in the baseline's SHAPES`);
  return hfConfig({ ...s, layers });
}

function writeModel(dir: string, layers: number): void {
  writeRandomCheckpoint(dir, nllbConfig(layers), 13);
  // the published NLLB-200 generation_config.json
  writeFileSync(
    join(dir, "generation_config.json"),
    JSON.stringify({
      bos_token_id: 0,
      decoder_start_token_id: 2,
      eos_token_id: 2,
      max_length: 200,
      pad_token_id: 1,
    }),
  );
}

/** The child running now, stopped if we are interrupted. */
let live: ChildProcess | undefined;

/** Write the checkpoint in a child process, so the generated weights are not ours to hold. */
function writeModelInChild(dir: string, layers: number): Promise<void> {
  return new Promise((res, rej) => {
    const child = forkChild(HERE, ["--write", dir, `${layers}`]);
    live = child;
    child.on("error", rej);
    child.on("exit", (code, signal) => {
      live = undefined;
      if (code === 0) res();
      else rej(new Error(`writing the random checkpoint failed (${signal ?? `exit ${code}`})`));
    });
  });
}

async function runXlir(dir: string, jobs: Job[], runs: number, threads: number): Promise<XlirMeasured> {
  const child = forkChild(HERE, ["--worker", dir, JSON.stringify({ jobs, runs, threads })]);
  live = child;
  const w = new WorkerHandle<object, FromWorker>(child);
  try {
    return await w.ask("done");
  } finally {
    w.kill();
    live = undefined;
  }
}

async function runTorch(
  layers: number,
  jobs: Job[],
  runs: number,
  threads: number,
): Promise<Measured<RunTimes> & { torch: string }> {
  const s = baselineShapes().get(SHAPE)!;
  const args = ["--d", `${s.hidden}`, "--enc-layers", `${layers}`, "--dec-layers", `${layers}`];
  args.push("--heads", `${s.heads}`, "--ffn", `${s.ffn}`, "--vocab", `${s.vocab}`);
  args.push("--batch", `${BATCH}`, "--src", `${SRC}`, "--forced-bos", `${LANG}`);
  args.push("--jobs", jobs.map((j) => `${j.beams}x${j.new}`).join(","));
  args.push("--runs", `${runs}`, "--threads", `${threads}`);
  const out = await runPythonJson<Measured<RunTimes> & { torch: string }>(
    TORCH_SCRIPT,
    args,
    undefined,
    (c) => (live = c),
  );
  live = undefined;
  return out as Measured<RunTimes> & { torch: string };
}

/** Steps `from`..`to` (1-based, inclusive) of all runs, in ms. */
const stepWindow = (runs: RunTimes[], [from, to]: [number, number], pick = (r: RunTimes) => r.step_s) =>
  runs.flatMap((r) => pick(r).slice(from - 1, to)).map((t) => t * 1e3);
const stepMs = (...a: Parameters<typeof stepWindow>) => median(stepWindow(...a));
/** The least a step took: steps slowed by other work on the machine say nothing about the cache. */
const stepMinMs = (...a: Parameters<typeof stepWindow>) => Math.min(...stepWindow(...a));

async function main(): Promise<void> {
  const argv = process.argv.slice(2);
  const quick = argv.includes("--quick");
  const { int } = parseOptions(
    argv.filter((a) => a !== "--quick"),
    ["layers", "runs", "threads", "beams"],
  );
  const layers = int("layers", quick ? 2 : 12);
  const runs = int("runs", quick ? 1 : 2);
  const threads = int("threads", 2);
  const beams = int("beams", 4);
  const jobs: Job[] = [
    { beams: 1, new: NEW },
    { beams, new: NEW },
    { beams: 1, new: LONG },
  ];
  const log = (msg: string) => console.error(`[bench:translate] ${msg}`);
  for (const v of ["OPENBLAS_CORETYPE", "OPENBLAS_L2_SIZE"]) delete process.env[v];
  const { torch: torchVersion, gemm_gflops } = checkBaseline();
  const c = cpu();
  log(
    `torch ${torchVersion}, GEMM 2048: ${gemm_gflops} GFLOP/s; ${threads} threads; ${layers} + ${layers} layers`,
  );

  const root = mkdtempSync(join(tmpdir(), "xlir-bench-translate-"));
  onExit(() => {
    live?.kill("SIGKILL");
    rmSync(root, { recursive: true, force: true });
  });
  const dir = join(root, "nllb");
  const w0 = performance.now();
  await writeModelInChild(dir, layers);
  log(`random checkpoint written in ${fmt((performance.now() - w0) / 1000)} s`);

  const load: number[] = [+loadavg()[0].toFixed(2)];
  const x0 = performance.now();
  const x = await runXlir(dir, jobs, runs, threads);
  log(`xlir done in ${fmt((performance.now() - x0) / 1000)} s (load ${fmt(x.load_s)} s)`);
  rmSync(root, { recursive: true, force: true }); // torch makes its own weights: free the disk early
  load.push(+loadavg()[0].toFixed(2));
  const t0 = performance.now();
  const t = await runTorch(layers, jobs, runs, threads);
  log(`torch done in ${fmt((performance.now() - t0) / 1000)} s`);
  load.push(+loadavg()[0].toFixed(2));

  // on a shared machine a run can be slowed by others' work: the best run is printed beside the median
  const tps = (j: { runs: RunTimes[] }) => (BATCH * NEW) / median(j.runs.map((r) => r.total_s));
  const best = (j: { runs: RunTimes[] }) => (BATCH * NEW) / Math.min(...j.runs.map((r) => r.total_s));
  const table: string[][] = [
    [
      "search",
      "xlir tok/s (best)",
      "torch tok/s (best)",
      "xlir / torch (best)",
      "ms/step xlir (ORT + search) / torch",
      "encoder ms xlir / torch",
    ],
  ];
  for (let i = 0; i < 2; i++) {
    const xj = x.jobs[i];
    const tj = t.jobs[i];
    const all: [number, number] = [1, NEW];
    const xs = stepMs(xj.runs, all);
    const xo = stepMs(xj.runs, all, (r) => (r as XlirRun).ort_s);
    const enc = (j: { runs: RunTimes[] }) =>
      median(j.runs.map((r) => r.total_s - r.step_s.reduce((a, b) => a + b, 0))) * 1e3;
    table.push([
      xj.beams === 1 ? "greedy" : `beam ${xj.beams}`,
      `${fmt(tps(xj))} (${fmt(best(xj))})`,
      `${fmt(tps(tj))} (${fmt(best(tj))})`,
      `${fmt(tps(xj) / tps(tj), 2)} (${fmt(best(xj) / best(tj), 2)})`,
      `${fmt(xs, 0)} (${fmt(xo, 0)} + ${fmt(xs - xo, 0)}) / ${fmt(stepMs(tj.runs, all), 0)}`,
      `${fmt(enc(xj), 0)} / ${fmt(enc(tj), 0)}`,
    ]);
  }
  const xl = x.jobs[2].runs;
  const tl = t.jobs[2].runs;
  const steps: string[][] = [
    ["engine", "step 8 ms (min)", "step 64 ms (min)", "64 / 8 (min)", "ORT part: step 8 / step 64 ms (min)"],
  ];
  for (const [name, r] of [
    ["xlir", xl],
    ["torch", tl],
  ] as const) {
    const [a, am, b, bm] = [stepMs(r, EARLY), stepMinMs(r, EARLY), stepMs(r, LATE), stepMinMs(r, LATE)];
    const ort = (q: RunTimes) => (q as XlirRun).ort_s;
    steps.push([
      name,
      `${fmt(a)} (${fmt(am)})`,
      `${fmt(b)} (${fmt(bm)})`,
      `${fmt(b / a, 2)} (${fmt(bm / am, 2)})`,
      name === "xlir"
        ? `${fmt(stepMs(r, EARLY, ort))} / ${fmt(stepMs(r, LATE, ort))} (${fmt(stepMinMs(r, EARLY, ort))} / ${fmt(stepMinMs(r, LATE, ort))})`
        : "-",
    ]);
  }

  console.log(`CPU: ${c.model}; flags: ${c.flags.join(" ") || "none of avx2/avx512/amx"}`);
  console.log(
    `torch ${torchVersion} (GEMM 2048: ${gemm_gflops} GFLOP/s), plain PyTorch decoder loop with a KV cache (no transformers); ${threads} threads on both sides`,
  );
  console.log(
    `\nNLLB-600M shape (d 1024, ${layers} + ${layers} layers, 16 heads, FFN 4096, vocab 256206), random weights, fp32; batch ${BATCH} x ${SRC} source tokens, ${NEW} new tokens per row (EOS never chosen); median of ${runs} run(s) after a warm-up, the best run in brackets`,
  );
  printTable(table);
  console.log(
    "tokens/s: batch x new tokens / whole generate call (encoder included). xlir / torch > 1 favours xlir.",
  );
  console.log(
    `\nPer-step decode time, greedy, batch ${BATCH}, ${LONG} new tokens (median, and least, of steps ${EARLY.join("-")} and ${LATE.join("-")} over ${runs} run(s))`,
  );
  printTable(steps);
  console.log(
    `\nPeak RSS MiB: xlir ${x.peak_rss_mib} (after load ${x.rss_after_load_mib}), torch ${Math.round(t.peak_rss_mib)}`,
  );
  console.log(`1-minute load average before / between / after: ${load.join(" / ")}`);
  console.log(
    JSON.stringify({
      bench: "translate",
      cpu: c,
      torch_version: torchVersion,
      gemm_gflops,
      threads,
      layers,
      batch: BATCH,
      src: SRC,
      runs,
      load_average: load,
      xlir: x,
      torch: t,
    }),
  );
}

if (process.argv[2] === "--worker") {
  const { jobs, runs, threads } = JSON.parse(process.argv[4]) as {
    jobs: Job[];
    runs: number;
    threads: number;
  };
  worker(process.argv[3], jobs, runs, threads).catch((e) => {
    process.send?.({ type: "error", message: (e as Error).message });
    process.exit(1);
  });
} else if (process.argv[2] === "--write") {
  writeModel(process.argv[3], Number(process.argv[4]));
  process.exit(0);
} else {
  main().catch((e) => {
    console.error(`bench:translate: ${(e as Error).message}`);
    process.exit(1);
  });
}
