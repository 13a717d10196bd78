// Small helpers the benchmark scripts share: statistics, formatting, options, tables, clean-up, CPU flags.

import { spawnSync } from "node:child_process";
import { readFileSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { writeRandomCheckpoint } from "../src/models/random.ts";
import { BERT_POST, BERT_SPECIALS, wordPieceJson } from "../src/text/wordpiece-json.ts";

/** The median (the mean of the middle two for an even count). */
export const median = (v: number[]) => {
  const s = [...v].sort((a, b) => a - b);
  const m = s.length >> 1;
  return s.length % 2 ? s[m] : (s[m - 1] + s[m]) / 2;
};

/** A measurement as the benchmarks report it. */
export interface Figures {
  median_ms: number;
  min_ms: number;
  seq_per_s: number;
  /** Median of each round that was measured. */
  round_medians_ms: number[];
  peak_rss_mib: number;
  /** Set when a measurement ran past its time limit: one iteration takes longer than this. */
  timed_out_after_s?: number;
}

/** `x` with `d` decimals, "-" when there is no figure. */
export const fmt = (x: number, d = 1) => (Number.isFinite(x) ? x.toFixed(d) : "-");

/**
 * Options as `--name value` or `--name=value`, each one of `known`; `int(name, default)` reads one as
 * a positive integer.
 */
export function parseOptions(argv: string[], known: string[]) {
  const opts: Record<string, string> = {};
  for (let i = 0; i < argv.length; i++) {
    const a = argv[i];
    if (!a.startsWith("--"))
      throw new Error(`unexpected argument "${a}"; options take the form --name value`);
    const [k, v] = a.includes("=") ? a.slice(2).split("=", 2) : [a.slice(2), argv[++i]];
    if (v === undefined) throw new Error(`--${k} needs a value`);
    opts[k] = v;
  }
  for (const k of Object.keys(opts))
    if (!known.includes(k))
      throw new Error(`unknown option --${k} (known: ${known.map((x) => `--${x}`).join(", ")})`);
  const int = (k: string, d: number) => {
    const v = opts[k] === undefined ? d : Number(opts[k]);
    if (!Number.isInteger(v) || v < 1) throw new Error(`--${k} must be a positive integer, got "${opts[k]}"`);
    return v;
  };
  return { opts, int };
}

/** Print a Markdown table; the first row is the header. */
export function printTable(rows: string[][]): void {
  const widths = rows[0].map((_, i) => Math.max(...rows.map((l) => l[i].length)));
  const line = (l: string[]) => `| ${l.map((c, i) => c.padEnd(widths[i])).join(" | ")} |`;
  console.log(line(rows[0]));
  console.log(`|${widths.map((w) => "-".repeat(w + 2)).join("|")}|`);
  for (const l of rows.slice(1)) console.log(line(l));
}

/**
 * This process's peak RSS in MiB (VmHWM). Not getrusage's maxRSS: Linux carries that across exec,
 * so a child process would start from its parent's peak (e.g. a parent that wrote a random
 * checkpoint); VmHWM belongs to the process's own memory map.
 */
export function peakRssMib(): number {
  const kib = /^VmHWM:\s+(\d+) kB/m.exec(readFileSync("/proc/self/status", "utf8"))?.[1];
  return Math.round(Number(kib) / 1024);
}

/**
 * writeRandomCheckpoint in a child process, so that this process never holds the generated
 * weights: children of ours that report getrusage's maxRSS (the PyTorch baselines) would inherit
 * that peak.
 */
export function writeRandomCheckpointApart(dir: string, config: Record<string, unknown>, seed: number): void {
  const random = new URL("../src/models/random.ts", import.meta.url).href;
  const code = `const { writeRandomCheckpoint } = await import(${JSON.stringify(random)});
writeRandomCheckpoint(process.argv[1], JSON.parse(process.argv[2]), Number(process.argv[3]));`;
  const r = spawnSync(
    process.execPath,
    [...process.execArgv, "--input-type=module", "-e", code, dir, JSON.stringify(config), String(seed)],
    { stdio: ["ignore", "inherit", "inherit"] },
  );
  if (r.status !== 0)
    throw new Error(`writing a random checkpoint to ${dir} failed (${r.signal ?? `exit ${r.status}`})`);
}

/** Run `cleanup` when this process exits, Ctrl-C and SIGTERM included. */
export function onExit(cleanup: () => void): void {
  process.on("exit", cleanup);
  for (const sig of ["SIGINT", "SIGTERM"] as const)
    process.on(sig, () => {
      cleanup();
      process.exit(130);
    });
}

/** The CPU's model name and the flags that decide which GEMM kernels run (machines differ between runs). */
export function cpu(): { model: string; flags: string[] } {
  const info = readFileSync("/proc/cpuinfo", "utf8");
  const flags = new Set(/^flags\s*:\s*(.*)$/m.exec(info)?.[1].split(/\s+/) ?? []);
  const wanted = ["avx2", "fma", "avx512f", "avx512bw", "avx512_vnni", "avx_vnni", "avx512_bf16", "amx_tile"];
  return {
    model: /^model name\s*:\s*(.*)$/m.exec(info)?.[1] ?? "unknown CPU",
    flags: wanted.filter((f) => flags.has(f)),
  };
}

/** Layer sizes of a BERT encoder (e5-small: 384 / 12 / 12 / 1536). */
export interface BertShape {
  hidden: number;
  layers: number;
  heads: number;
  ffn: number;
}

/**
 * A random BertModel folder of `shape` whose whole-word WordPiece vocabulary is `words` (padded to
 * 30522 ids as E5's is), so real text tokenizes to realistic lengths; `prompts`: E5's query/passage
 * prefixes in config_sentence_transformers.json.
 */
export function wordBertDir(
  dir: string,
  shape: BertShape,
  words: readonly string[],
  seed: number,
  prompts = false,
): string {
  const size = 30522;
  const vocab = [...new Set([...BERT_SPECIALS, "query", "passage", ":", ...words])].slice(0, size);
  for (let i = 0; vocab.length < size; i++) vocab.push(`[unused${i}]`);
  writeRandomCheckpoint(
    dir,
    {
      architectures: ["BertModel"],
      model_type: "bert",
      vocab_size: size,
      hidden_size: shape.hidden,
      num_hidden_layers: shape.layers,
      num_attention_heads: shape.heads,
      intermediate_size: shape.ffn,
      max_position_embeddings: 512,
      type_vocab_size: 2,
      layer_norm_eps: 1e-12,
    },
    seed,
  );
  const json = (f: string, o: object) => writeFileSync(join(dir, f), JSON.stringify(o));
  json("tokenizer.json", wordPieceJson(BERT_SPECIALS, vocab, "[UNK]", BERT_POST));
  json("tokenizer_config.json", {
    model_max_length: 512,
    do_lower_case: true,
    pad_token: "[PAD]",
    unk_token: "[UNK]",
    cls_token: "[CLS]",
    sep_token: "[SEP]",
    mask_token: "[MASK]",
  });
  if (prompts)
    json("config_sentence_transformers.json", { prompts: { query: "query: ", passage: "passage: " } });
  return dir;
}

/** The words of `texts` (lower-cased, as BertPreTokenizer splits them), most frequent first. */
export function wordsByCount(texts: string[]): string[] {
  const counts = new Map<string, number>();
  for (const t of texts)
    for (const w of t.toLowerCase().match(/[\p{L}\p{N}]+|[^\s\p{L}\p{N}]/gu) ?? [])
      counts.set(w, (counts.get(w) ?? 0) + 1);
  return [...counts].sort((a, b) => b[1] - a[1] || (a[0] < b[0] ? -1 : 1)).map(([w]) => w);
}
