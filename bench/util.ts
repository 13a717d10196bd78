// Small helpers the benchmark scripts share: statistics, formatting, options, tables, clean-up, CPU flags.

import { readFileSync } from "node:fs";

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
