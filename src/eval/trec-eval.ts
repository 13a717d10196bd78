// trec_eval as a function: evaluate a run against qrels over the queries trec_eval evaluates,
// summarise as trec_eval does, and print its text format so the output diffs clean against it.
import { exp } from "./libm.ts";
import { formatFixed, parseMeasures, type Measure, type ValueFormat } from "./measures.ts";
import type { Qrels } from "./qrels.ts";
import { compareIds } from "./ranking.ts";
import { judgeEntries } from "./trec-judge.ts";
import type { Run } from "./trec-run.ts";

/** trec_eval 10.0's placeholder ranking for a query missing from the run under -c: one document
 *  that no qrels judge (looked up all the same, as trec_eval does), with score 1. */
const ABSENT_DOC = "ceci_nest_pas_un_docno";

export interface EvalOptions {
  /** `-m` arguments exactly as trec_eval takes them; none means "official", trec_eval's default. */
  measures?: readonly string[];
  /** -l: least relevance value counted as relevant by the binary measures (default 1). */
  level?: number;
  /** -c: average over every query of the qrels; a query missing from the run scores 0. */
  complete?: boolean;
  /** Lines of the run that repeat a query's document (parseRun's `duplicates`): trec_eval ranks them
   *  too and refuses them only when they land within the first maxDocs. */
  runDuplicates?: ReadonlyMap<string, readonly (readonly [string, number])[]>;
  /** -M: evaluate only the first maxDocs documents of each ranking. */
  maxDocs?: number;
  /** The run's tag, printed by the runid measure (trec_eval prints the tag of the run's last line). */
  runTag?: string;
  /** Names of the inputs for error messages (file paths in the CLI). */
  runSource?: string;
  qrelsSource?: string;
}

export interface Value {
  name: string;
  /** A number, or the run tag for runid, or relstring's string. */
  value: number | string;
  /** Printed with %ld (format "long"). */
  integer: boolean;
  /** How it prints; absent: %ld when integer, else %6.4f (or %s for a string). */
  format?: ValueFormat;
}

export interface QueryResult {
  qid: string;
  /** false for a qrels query absent from the run, evaluated (as zeros) only under -c. */
  inRun: boolean;
  /** The values trec_eval prints per query with -q (num_q, gm_map, gm_bpref and runid are
   *  summary-only). */
  values: Value[];
}

export interface EvalResult {
  /** Evaluated queries in trec_eval's order (query id, byte order). */
  queries: QueryResult[];
  /** The `all` values. */
  all: Value[];
  /** Queries of the run that the qrels do not judge: ignored, as trec_eval ignores them. */
  ignored: string[];
  /** Queries of the qrels missing from the run, left out without -c. */
  skipped: string[];
}

/**
 * Which queries count: those in BOTH the qrels and the run; queries only in the run are ignored
 * (reported in `ignored`); queries only in the qrels are skipped, unless `complete` (-c), which
 * evaluates them as trec_eval 10.0 does: on a one-document placeholder ranking judged like any
 * other, with num_ret, utility, relstring, unj and rbp_resid then zeroed (so every measure is 0 at
 * the usual levels; num_rel keeps its real count), printed with -q like the others. (Without -c,
 * trec_eval 10.0 itself stops with "result qid not found" at such a query; xlir skips it, the rule
 * trec_eval documents and 9.x followed.) A qrels query whose judgments are all below the level is
 * evaluated like any other and scores 0 on the binary measures.
 * The `all` value of a mean measure is the arithmetic mean over the evaluated queries, summed in
 * query order as trec_eval sums.
 */
export function evaluate(qrels: Qrels, run: Run, opts: EvalOptions = {}): EvalResult {
  const measures = parseMeasures(opts.measures ?? []);
  const level = opts.level ?? 1;
  const runName = opts.runSource ?? "the run";
  const qrelsName = opts.qrelsSource ?? "the qrels";
  if (!Number.isInteger(level))
    throw new Error(`relevance level ${level} is not a whole number; use e.g. -l 2`);
  const maxDocs = opts.maxDocs ?? Infinity;
  if (!(maxDocs >= 0)) throw new Error(`max documents per query ${maxDocs} must be 0 or more`);
  // trec_eval refuses an empty results file ("Cannot read results file"); so does xlir.
  if (run.size === 0)
    throw new Error(`${runName} has no results: it needs lines 'qid Q0 docid rank score tag'`);
  if (qrels.size === 0) throw new Error(`${qrelsName} has no judgments: it needs lines 'qid 0 docid rel'`);

  const sums = measures.map((m) => new Array<number>(m.names.length).fill(0));
  const queries: QueryResult[] = [];
  const skipped: string[] = [];
  for (const qid of [...qrels.keys()].sort(compareIds)) {
    const entries: (readonly [string, number])[] = [...(run.get(qid) ?? [])];
    entries.push(...(opts.runDuplicates?.get(qid) ?? []));
    // A query with no documents cannot be written in a run file: it counts as absent.
    const inRun = entries.length > 0;
    if (!inRun && !opts.complete) {
      skipped.push(qid);
      continue;
    }
    const judged = judgeEntries(
      inRun ? entries : [[ABSENT_DOC, 1]],
      qrels.get(qid)!,
      maxDocs,
      `${runName}, query '${qid}'`,
    );
    const values: Value[] = [];
    measures.forEach((m, i) => {
      let vs = m.compute(judged, level);
      if (!inRun && m.zeroWhenAbsent) vs = vs.map((v) => (typeof v === "string" ? "" : 0));
      vs.forEach((v, c) => {
        if (typeof v === "number") sums[i][c] += v;
      });
      if (m.perQuery) m.names.forEach((name, c) => values.push(value(name, vs[c], m)));
    });
    queries.push({ qid, inRun, values });
  }
  if (queries.length === 0)
    throw new Error(
      `no query of ${runName} is judged in ${qrelsName} (trec_eval: "No queries with both results and relevance info"); check that the query ids match`,
    );
  // -c's num_rel summary is recounted from the whole qrels: every judgment > 0, whatever -l.
  let positive = 0;
  if (opts.complete) for (const docs of qrels.values()) for (const r of docs.values()) if (r > 0) positive++;
  const ignored = [...run.keys()].filter((q) => !qrels.has(q)).sort(compareIds);
  const all = summarise(
    measures,
    sums,
    queries.length,
    opts.runTag ?? "",
    opts.complete ? positive : undefined,
  );
  return { queries, all, ignored, skipped };
}

const value = (name: string, v: number | string, m: Measure): Value => ({
  name,
  value: v,
  integer: m.integer,
  format: m.format,
});

function summarise(
  measures: Measure[],
  sums: number[][],
  numQ: number,
  tag: string,
  positive: number | undefined,
): Value[] {
  const all: Value[] = [];
  measures.forEach((m, i) =>
    m.names.forEach((name, c) => {
      const s = sums[i][c];
      const v: Record<Exclude<typeof m.summary, "none">, () => number | string> = {
        runid: () => tag,
        count: () => numQ,
        sum: () => s,
        numRel: () => positive ?? s,
        geomean: () => exp(s / numQ),
        mean: () => s / numQ,
      };
      if (m.summary !== "none") all.push(value(name, v[m.summary](), m));
    }),
  );
  return all;
}

/** printf("%6.4f") of a number, including glibc's spellings of what a 0/0 or x/0 gives. */
function fixed(x: number): string {
  // trec_eval's NaNs come from 0.0/0.0, which on x86-64 has its sign bit set: glibc prints "-nan".
  if (Number.isNaN(x)) return "-nan".padStart(6);
  if (!Number.isFinite(x)) return (x > 0 ? "inf" : "-inf").padStart(6);
  return formatFixed(x, 4).padStart(6);
}

/** One line of trec_eval's output: printf("%-22s\t%s\t%6.4f\n") (%ld for counts, %s for runid,
 *  '%s' for relstring). */
export function formatLine(name: string, qid: string, v: Value): string {
  const text =
    typeof v.value === "string"
      ? v.format === "quoted"
        ? `'${v.value}'`
        : v.value
      : v.integer
        ? String(Math.trunc(v.value))
        : fixed(v.value);
  return `${name.padEnd(22)}\t${qid}\t${text}\n`;
}

/**
 * trec_eval's text output: with perQuery (-q), each evaluated query's lines (query order, measures in
 * trec_eval's order) before the `all` lines; summary false is -n. Under -c the queries missing from
 * the run are printed too, as trec_eval 10.0 prints them.
 */
export function formatTrecEval(r: EvalResult, opts: { perQuery?: boolean; summary?: boolean } = {}): string {
  let out = "";
  if (opts.perQuery) for (const q of r.queries) for (const v of q.values) out += formatLine(v.name, q.qid, v);
  if (opts.summary ?? true) for (const v of r.all) out += formatLine(v.name, "all", v);
  return out;
}
