// mAggretriever's cost against plain dense retrieval on the same backbone (the paper's Table 1:
// self prediction costs about what [CLS] dense retrieval costs, target-language prediction less
// than whole-vocabulary prediction). XLM-R-base shapes (hidden 768, 12 layers, 12 heads, ffn 3072,
// vocabulary 250,002, 514 positions) with random weights (src/models/random.ts: speed, not
// quality, is measured), written once as an Aggretriever folder (XLMRobertaForMaskedLM checkpoint
// + pooler / TermWeightTrans heads, agg_dim 640) and, for the baseline, as a plain folder holding
// the same checkpoint file, loaded with [CLS] pooling and no normalisation. Configurations:
//   dense       [CLS] of the encoder (the baseline every ratio is taken against)
//   self        [s ; agg*(v)], v from each token's own id: no MLM head
//   target-30k  v from the MLM head over a language's token set of 30,000 ids (an assumed size: one
//   target-10k  language's corpus uses some tens of thousands of XLM-R's 250k tokens), and 10,000
//   mlm         v from the MLM head over the whole vocabulary
// Measured through Encoder.embed (tokenization and agg* included), each configuration and setting
// in a child process of its own, so its peak RSS is that of one encoder:
//   query latency      batch 1 x 32 tokens, 1 thread, median ms over --latency-runs after warm-up
//   passage throughput batch 32 x 128 tokens, --threads threads (default all cores), passages/s
// Ratios are costs relative to dense (time per query, time per batch of passages): 1.00 = as
// cheap as dense retrieval. The texts are words of a one-token-per-word vocabulary, drawn from the
// 10k set (so every text token is in both target sets), "w1 w2 ..." = <s> + words + </s>.
// Two warm-up runs of each shape before timing: ONNX Runtime lays out its memory pattern on the
// second run of a shape. mlm is slow (the vocabulary projection is 250k wide), so its timed runs
// are capped by --mlm-latency-runs and --mlm-throughput-runs, and its passage warm-ups embed 2
// passages, not 32. Time spent in each kind of ONNX Runtime session is reported too, to tell the
// encoder from the vocabulary projection.
// Memory: the process's peak RSS (loading included), and the highest RSS sampled while encoding
// after a full GC once loaded (what an indexing process holds). A plain encoder's weights are
// mapped from a file by ONNX Runtime and count once touched; Aggretriever feeds the word
// embeddings from a JS array (the lexical runs read the same array), resident from the start.
// Prints the CPU, a table, then one line of JSON with every figure.
//
//   npm run bench:agg -- [--configs dense,self,target-30k,target-10k,mlm] [--layers 12]
//        [--latency-runs 20] [--throughput-runs 2] [--mlm-latency-runs 5] [--mlm-throughput-runs 1]
//        [--threads N] [--quick]
//
// --quick: 2 layers instead of 12 (the vocabulary stays 250,002 wide) and fewer runs, for a check
// that it all works (about 2 minutes); its ratios overstate the lexical part's share. The default
// run takes about 5 minutes on a 2-core machine, mlm's passage batches half of it.

import { fork } from "node:child_process";
import { linkSync, mkdirSync, mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { availableParallelism, loadavg, tmpdir } from "node:os";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { Encoder } from "../src/encode/encoder.ts";
import { aggAlgorithm } from "../src/models/agg-star.ts";
import type { AggMode } from "../src/models/aggretriever.ts";
import { freshAggretrieverHeads, writeAggretrieverHeads } from "../src/models/aggretriever-folder.ts";
import { randomWeights, Rng } from "../src/models/random.ts";
import { Session } from "../src/tensor/session.ts";
import { type Tensor, writeSafetensors } from "../src/weights/safetensors.ts";
import { ROBERTA_SPECIALS, writeRobertaWordTokenizer } from "../src/text/wordpiece-json.ts";
import { cpu, fmt, median, onExit, parseOptions, printTable } from "./util.ts";
import { WorkerHandle, forkChild } from "./worker.ts";

const HERE = fileURLToPath(import.meta.url);

const VOCAB = 250_002;
const HIDDEN = 768;
const SEMANTIC_DIM = 128;
const AGG_DIM = 640;
const QUERY_TOKENS = 32;
const PASSAGE_TOKENS = 128;
const PASSAGES = 32;
const LANG = "xx";
const SPECIALS = ROBERTA_SPECIALS;

const CONFIGS = ["dense", "self", "target-30k", "target-10k", "mlm"] as const;
type ConfigName = (typeof CONFIGS)[number];

function xlmrConfig(layers: number): Record<string, unknown> {
  return {
    architectures: ["XLMRobertaForMaskedLM"],
    attention_probs_dropout_prob: 0.1,
    bos_token_id: 0,
    eos_token_id: 2,
    hidden_act: "gelu",
    hidden_dropout_prob: 0.1,
    hidden_size: HIDDEN,
    initializer_range: 0.02,
    intermediate_size: 3072,
    layer_norm_eps: 1e-5,
    max_position_embeddings: 514,
    model_type: "xlm-roberta",
    num_attention_heads: 12,
    num_hidden_layers: layers,
    pad_token_id: 1,
    position_embedding_type: "absolute",
    torch_dtype: "float32",
    type_vocab_size: 1,
    vocab_size: VOCAB,
  };
}

/** The target sets: `size` distinct non-special ids from a fixed seed, the 10k set inside the 30k one. */
function targetSets(): { "target-30k": number[]; "target-10k": number[] } {
  const r = new Rng(12);
  const picked = new Set<number>();
  while (picked.size < 30_000) picked.add(SPECIALS.length + Math.floor(r.next() * (VOCAB - SPECIALS.length)));
  const all = [...picked];
  const sorted = (a: number[]) => [...a].sort((x, y) => x - y);
  return { "target-30k": sorted(all), "target-10k": sorted(all.slice(0, 10_000)) };
}

/** `count` texts of `tokens` tokens each (<s> and </s> included), words of the 10k set. */
function texts(count: number, tokens: number, set: readonly number[], seed: number): string[] {
  const r = new Rng(seed);
  return Array.from({ length: count }, () =>
    Array.from({ length: tokens - 2 }, () => `w${set[Math.floor(r.next() * set.length)]}`).join(" "),
  );
}

// ---------------------------------------------------------------------------------------------
// The model folders (written by a child process, so the parent never holds the weights)
// ---------------------------------------------------------------------------------------------

/** A word per id ("w<id>"), so texts of known ids are easy to make. */
const writeTokenizer = (dir: string) =>
  writeRobertaWordTokenizer(
    dir,
    Array.from({ length: VOCAB - SPECIALS.length }, (_, i) => `w${i + SPECIALS.length}`),
  );

/**
 * `root`/agg: the Aggretriever folder; `root`/dense: config.json, the same model.safetensors (a
 * hard link where the file system allows) and the tokenizer.
 */
function writeModels(root: string, layers: number): void {
  const agg = join(root, "agg");
  const dense = join(root, "dense");
  mkdirSync(agg, { recursive: true });
  mkdirSync(dense, { recursive: true });
  const config = xlmrConfig(layers);
  // randomWeights gives a …ForMaskedLM config its MLM head (stored unprefixed, as the hub's are)
  const weights = new Map<string, Tensor>(
    [...randomWeights(config, 1)].map(([k, v]) => [k.startsWith("lm_head.") ? k : `roberta.${k}`, v]),
  );
  writeFileSync(join(agg, "config.json"), JSON.stringify(config, null, 2));
  writeSafetensors(join(agg, "model.safetensors"), weights, { metadata: { format: "pt" } });
  // Every term weight positive, as a trained head's mostly are: the encoder skips positions of
  // weight <= 0 in the vocabulary projection, and fresh heads would make that look free.
  const heads = freshAggretrieverHeads(HIDDEN, SEMANTIC_DIM, 2);
  heads.get("TermWeightTrans.linear_q.bias")!.data[0] = 5;
  writeAggretrieverHeads(
    agg,
    heads,
    { semanticDim: SEMANTIC_DIM, aggDim: AGG_DIM, algorithm: aggAlgorithm(VOCAB) },
    { mode: "mlm", lowercase: true },
  );
  writeTokenizer(agg);
  writeFileSync(join(dense, "config.json"), JSON.stringify(config, null, 2));
  try {
    linkSync(join(agg, "model.safetensors"), join(dense, "model.safetensors"));
  } catch {
    writeSafetensors(join(dense, "model.safetensors"), weights, { metadata: { format: "pt" } });
  }
  writeTokenizer(dense);
}

// ---------------------------------------------------------------------------------------------
// Worker: one configuration's encoder in one setting
// ---------------------------------------------------------------------------------------------

interface Job {
  root: string;
  config: ConfigName;
  /** target: the language's token set. */
  targetIds?: number[];
  threads: number;
  /** Each run embeds `batch` texts from `texts`, in turn. */
  texts: string[];
  batch: number;
  role: "query" | "passage";
  warmup: number;
  /** Texts per warm-up run. */
  warmupBatch: number;
  runs: number;
}

/** Seconds one embed spent in each kind of ONNX Runtime session, and how many runs of each. */
interface Spent {
  encoder_s: number;
  lexical_s: number;
  lexical_runs: number;
}

type FromWorker =
  | {
      type: "done";
      load_s: number;
      times_s: number[];
      spent: Spent[];
      dim: number;
      /** The process's peak, loading included. */
      peak_rss_mib: number;
      /**
       * After loading and a full GC; weights ONNX Runtime maps from a file count only once a run
       * touches them, so this understates a plain encoder's memory.
       */
      loaded_rss_mib: number;
      /** The highest RSS seen while encoding (sampled every 5 ms from loaded_rss_mib on). */
      encode_rss_mib: number;
    }
  | { type: "error"; message: string };

const MODES: Record<ConfigName, AggMode | null> = {
  dense: null,
  self: "self",
  "target-30k": "target",
  "target-10k": "target",
  mlm: "mlm",
};

async function worker(job: Job): Promise<void> {
  // every session run is timed by the session it ran on: the lexical sessions take the vocabulary
  // as an input, the encoder sessions do not
  let spent: Spent = { encoder_s: 0, lexical_s: 0, lexical_runs: 0 };
  const run = Session.prototype.run;
  Session.prototype.run = async function (this: Session, ...args: Parameters<Session["run"]>) {
    const t0 = performance.now();
    try {
      return await run.apply(this, args);
    } finally {
      const s = (performance.now() - t0) / 1000;
      if (this.inputNames.includes("vocab_weight")) {
        spent.lexical_s += s;
        spent.lexical_runs++;
      } else spent.encoder_s += s;
    }
  };
  const mode = MODES[job.config];
  const t0 = performance.now();
  const enc = await Encoder.load(join(job.root, mode ? "agg" : "dense"), {
    threads: job.threads,
    batchSize: job.batch,
    warn: () => {},
    ...(mode
      ? { agg: { mode, vocab: () => job.targetIds } }
      : { override: { pooling: "cls", normalize: false, prompts: { query: "", passage: "" } } }),
  });
  const load_s = (performance.now() - t0) / 1000;
  // the weights the loader read into JS arrays are garbage once the sessions hold theirs; until V8
  // collects them they would count against whichever configuration happens to collect later
  const gc = (globalThis as { gc?: () => void }).gc!;
  // V8 frees array buffers' memory after a collection, off the main thread: a second pass after a
  // pause finds it gone
  gc();
  await new Promise((r) => setTimeout(r, 200));
  gc();
  const rssNow = () => process.memoryUsage().rss;
  const loaded = rssNow();
  let highest = loaded;
  // ONNX Runtime runs off the main thread, so the timer samples inside runs too
  const sampler = setInterval(() => (highest = Math.max(highest, rssNow())), 5);
  let next = 0;
  const embed = (size = job.batch) => {
    const batch = Array.from({ length: size }, () => job.texts[next++ % job.texts.length]);
    return enc.embed(batch, { role: job.role, lang: LANG });
  };
  for (let i = 0; i < job.warmup; i++) await embed(job.warmupBatch);
  const times_s: number[] = [];
  const spentRuns: Spent[] = [];
  for (let i = 0; i < job.runs; i++) {
    spent = { encoder_s: 0, lexical_s: 0, lexical_runs: 0 };
    const r0 = performance.now();
    await embed();
    times_s.push((performance.now() - r0) / 1000);
    spentRuns.push(spent);
  }
  clearInterval(sampler);
  highest = Math.max(highest, rssNow());
  await enc.close();
  const done: FromWorker = {
    type: "done",
    load_s,
    times_s,
    spent: spentRuns,
    dim: enc.dim,
    peak_rss_mib: Math.round(process.resourceUsage().maxRSS / 1024),
    loaded_rss_mib: Math.round(loaded / 2 ** 20),
    encode_rss_mib: Math.round(highest / 2 ** 20),
  };
  process.send!(done);
}

function runWorker(job: Job): Promise<Extract<FromWorker, { type: "done" }>> {
  const child = fork(HERE, ["--worker"], {
    execArgv: [...process.execArgv, "--expose-gc"],
    stdio: ["ignore", "inherit", "inherit", "ipc"],
  });
  const w = new WorkerHandle<Job, FromWorker>(child);
  workers.add(w);
  return w.ask("done", job).finally(() => {
    w.close();
    workers.delete(w);
  });
}

const workers = new Set<WorkerHandle<Job, FromWorker>>();

// ---------------------------------------------------------------------------------------------
// The run
// ---------------------------------------------------------------------------------------------

function parseArgs(argv: string[]) {
  const quick = argv.includes("--quick");
  const { opts, int } = parseOptions(
    argv.filter((a) => a !== "--quick"),
    [
      "configs",
      "layers",
      "latency-runs",
      "throughput-runs",
      "mlm-latency-runs",
      "mlm-throughput-runs",
      "threads",
    ],
  );
  const configs = (opts.configs ?? CONFIGS.join(",")).split(",").filter(Boolean) as ConfigName[];
  for (const c of configs)
    if (!CONFIGS.includes(c)) throw new Error(`--configs: "${c}" is not one of ${CONFIGS.join(", ")}`);
  // the ratios need the baseline in the same run
  if (!configs.includes("dense")) configs.unshift("dense");
  return {
    quick,
    configs: CONFIGS.filter((c) => configs.includes(c)),
    layers: int("layers", quick ? 2 : 12),
    latencyRuns: int("latency-runs", quick ? 5 : 20),
    throughputRuns: int("throughput-runs", quick ? 1 : 2),
    mlmLatencyRuns: int("mlm-latency-runs", quick ? 2 : 5),
    mlmThroughputRuns: int("mlm-throughput-runs", 1),
    threads: int("threads", availableParallelism()),
  };
}

interface Result {
  config: ConfigName;
  setting: "query-latency" | "passage-throughput";
  batch: number;
  tokens: number;
  threads: number;
  median_ms: number;
  min_ms: number;
  times_ms: number[];
  per_s: number;
  /** Medians over the timed runs of the time in each kind of session. */
  encoder_ms: number;
  lexical_ms: number;
  lexical_runs: number;
  load_s: number;
  dim: number;
  peak_rss_mib: number;
  loaded_rss_mib: number;
  encode_rss_mib: number;
}

const log = (msg: string) => console.error(`[bench:agg] ${msg}`);

async function main(): Promise<void> {
  const args = parseArgs(process.argv.slice(2));
  const c = cpu();
  const root = mkdtempSync(join(tmpdir(), "xlir-bench-agg-"));
  onExit(() => {
    for (const w of workers) w.kill();
    rmSync(root, { recursive: true, force: true });
  });
  log(`writing XLM-R-base-shaped folders (${args.layers} layers, vocabulary ${VOCAB}) to ${root}`);
  const w0 = performance.now();
  await new Promise<void>((res, rej) =>
    forkChild(HERE, ["--write", root, `${args.layers}`]).on("exit", (code, signal) =>
      code === 0 ? res() : rej(new Error(`writing the model folders failed (${signal ?? `exit ${code}`})`)),
    ),
  );
  log(`written in ${((performance.now() - w0) / 1000).toFixed(1)} s`);

  const sets = targetSets();
  const queries = texts(64, QUERY_TOKENS, sets["target-10k"], 3);
  const passages = texts(PASSAGES, PASSAGE_TOKENS, sets["target-10k"], 4);
  const settings = [
    {
      name: "query-latency" as const,
      batch: 1,
      tokens: QUERY_TOKENS,
      threads: 1,
      texts: queries,
      role: "query" as const,
      runs: (m: ConfigName) => (m === "mlm" ? args.mlmLatencyRuns : args.latencyRuns),
    },
    {
      name: "passage-throughput" as const,
      batch: PASSAGES,
      tokens: PASSAGE_TOKENS,
      threads: args.threads,
      texts: passages,
      role: "passage" as const,
      runs: (m: ConfigName) => (m === "mlm" ? args.mlmThroughputRuns : args.throughputRuns),
    },
  ];
  const results: Result[] = [];
  const load: number[] = [];
  for (const s of settings)
    for (const config of args.configs) {
      const out = await runWorker({
        root,
        config,
        ...(config.startsWith("target") ? { targetIds: sets[config as keyof typeof sets] } : {}),
        threads: s.threads,
        texts: s.texts,
        batch: s.batch,
        role: s.role,
        warmup: 2,
        // an mlm batch of passages takes about a minute, nearly all of it in the vocabulary
        // projection, which runs row by row: 2 passages warm up the shapes it runs as well as 32 do
        warmupBatch: config === "mlm" ? Math.min(2, s.batch) : s.batch,
        runs: s.runs(config),
      });
      load.push(+loadavg()[0].toFixed(2));
      const med = median(out.times_s);
      const r: Result = {
        config,
        setting: s.name,
        batch: s.batch,
        tokens: s.tokens,
        threads: s.threads,
        median_ms: +(med * 1e3).toFixed(2),
        min_ms: +(Math.min(...out.times_s) * 1e3).toFixed(2),
        times_ms: out.times_s.map((t) => +(t * 1e3).toFixed(1)),
        per_s: +(s.batch / med).toFixed(3),
        encoder_ms: +(median(out.spent.map((x) => x.encoder_s)) * 1e3).toFixed(2),
        lexical_ms: +(median(out.spent.map((x) => x.lexical_s)) * 1e3).toFixed(2),
        lexical_runs: out.spent[0]?.lexical_runs ?? 0,
        load_s: +out.load_s.toFixed(1),
        dim: out.dim,
        peak_rss_mib: out.peak_rss_mib,
        loaded_rss_mib: out.loaded_rss_mib,
        encode_rss_mib: out.encode_rss_mib,
      };
      results.push(r);
      log(
        `${s.name} ${config}: median ${fmt(r.median_ms)} ms over ${out.times_s.length} run(s) (encoder ${fmt(r.encoder_ms)} ms, vocabulary projection ${fmt(r.lexical_ms)} ms in ${r.lexical_runs} run(s)), RSS ${r.loaded_rss_mib} MiB loaded, ${r.encode_rss_mib} MiB encoding, peak ${r.peak_rss_mib} MiB`,
      );
    }
  report(results, args, c, load);
}

function report(
  results: Result[],
  args: ReturnType<typeof parseArgs>,
  c: ReturnType<typeof cpu>,
  load: number[],
): void {
  const find = (config: ConfigName, setting: Result["setting"]) =>
    results.find((r) => r.config === config && r.setting === setting)!;
  const cost = (r: Result) => r.median_ms / find("dense", r.setting).median_ms;
  console.log(
    `CPU: ${c.model}, ${availableParallelism()} cores; flags: ${c.flags.join(" ") || "none of avx2/avx512/amx"}`,
  );
  console.log(
    `XLM-R-base shapes (${args.layers} layers, vocabulary ${VOCAB}), random weights; agg_dim ${AGG_DIM}, semantic ${SEMANTIC_DIM}; target sets of 30,000 and 10,000 ids\n`,
  );
  const lines = [
    [
      "mode",
      `query ms (1x${QUERY_TOKENS}, 1 thr)`,
      "x dense",
      `passages/s (${PASSAGES}x${PASSAGE_TOKENS}, ${args.threads} thr)`,
      "x dense",
      "vocab. projection share (q / p)",
      "RSS MiB encoding (q / p)",
      "peak RSS MiB, loading incl. (q / p)",
    ],
  ];
  for (const config of args.configs) {
    const q = find(config, "query-latency");
    const p = find(config, "passage-throughput");
    const share = (r: Result) => (r.lexical_runs ? `${fmt((100 * r.lexical_ms) / r.median_ms, 0)}%` : "-");
    lines.push([
      config,
      fmt(q.median_ms),
      fmt(cost(q), 2),
      fmt(p.per_s, 2),
      fmt(cost(p), 2),
      `${share(q)} / ${share(p)}`,
      `${q.encode_rss_mib} / ${p.encode_rss_mib}`,
      `${q.peak_rss_mib} / ${p.peak_rss_mib}`,
    ]);
  }
  printTable(lines);
  console.log(
    "x dense: time per query / per batch of passages relative to [CLS] dense encoding of the same backbone (1.00 = as cheap), from the medians of the timed runs (from their minima in the JSON). Vocab. projection share: time in the MLM head's softmax-max runs over the whole embed. RSS encoding: the highest RSS sampled while encoding (after loading and a full GC; weights the sessions map from files count once touched).",
  );
  const maxLoad = Math.max(...load);
  if (maxLoad > availableParallelism())
    console.log(
      `note: the machine was busy (1-minute load average up to ${maxLoad} on ${availableParallelism()} cores): times are noisy.`,
    );
  console.log(
    JSON.stringify({
      bench: "aggretriever",
      cpu: c,
      layers: args.layers,
      vocab: VOCAB,
      threads: args.threads,
      load_average: load,
      results: results.map((r) => ({
        ...r,
        cost_vs_dense: +cost(r).toFixed(3),
        cost_vs_dense_min: +(r.min_ms / find("dense", r.setting).min_ms).toFixed(3),
      })),
    }),
  );
}

if (process.argv[2] === "--worker") {
  process.once("message", (job: Job) =>
    worker(job).catch((e) => {
      process.send?.({ type: "error", message: (e as Error).message });
      process.exit(1);
    }),
  );
} else if (process.argv[2] === "--write") {
  writeModels(process.argv[3], Number(process.argv[4]));
  process.exit(0);
} else {
  main().catch((e) => {
    console.error(`bench:agg: ${(e as Error).message}`);
    process.exit(1);
  });
}
