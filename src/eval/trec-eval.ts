// trec_eval as a function: evaluate a run against qrels over the queries trec_eval evaluates,
// summarise as trec_eval does, and print its text format so the output diffs clean against it.
import { formatFixed, parseMeasures, type Measure } from "./measures.ts";
import type { Qrels } from "./qrels.ts";
import { compareIds, judge } from "./ranking.ts";
import type { Run } from "./trec-run.ts";

export interface EvalOptions {
  /** `-m` arguments exactly as trec_eval takes them; none means "official", trec_eval's default. */
  measures?: readonly string[];
  /** -l: least relevance value counted as relevant by the binary measures (default 1). */
  level?: number;
  /** -c: average over every query of the qrels; a query missing from the run scores 0. */
  complete?: boolean;
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
  /** A number, or the run tag for runid. */
  value: number | string;
  integer: boolean;
}

export interface QueryResult {
  qid: string;
  /** false for a qrels query absent from the run, evaluated (as zeros) only under -c. */
  inRun: boolean;
  /** The values trec_eval prints per query with -q (num_q, gm_map and runid are summary-only). */
  values: Value[];
}

export interface EvalResult {
  /** Evaluated queries in trec_eval's order (query id, byte order). */
  queries: QueryResult[];
  /** The `all` values. */
  all: Value[];
  /** Queries of the run that the qrels do not judge: ignored, as trec_eval ignores them. */
  ignored: string[];
}

/**
 * Which queries count, as trec_eval decides: those in BOTH the qrels and the run; queries only in
 * the run are ignored (reported in `ignored`); queries only in the qrels are skipped, unless
 * `complete` (-c), which evaluates them against an empty ranking (every measure 0, num_ret 0, num_rel
 * their real count) and so averages over all qrels queries. A qrels query whose judgments are all
 * below the level is evaluated like any other and scores 0 on the binary measures.
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
  const empty = new Map<string, number>();
  for (const qid of [...qrels.keys()].sort(compareIds)) {
    // A query with no documents cannot be written in a run file: it counts as absent.
    const docs = run.get(qid)?.size ? run.get(qid) : undefined;
    if (!docs && !opts.complete) continue;
    const judged = judge(docs ?? empty, qrels.get(qid)!, maxDocs);
    const values: Value[] = [];
    measures.forEach((m, i) => {
      const vs = m.compute(judged, level);
      vs.forEach((v, c) => (sums[i][c] += v));
      if (m.perQuery) m.names.forEach((name, c) => values.push({ name, value: vs[c], integer: m.integer }));
    });
    queries.push({ qid, inRun: docs !== undefined, values });
  }
  if (queries.length === 0)
    throw new Error(
      `no query of ${runName} is judged in ${qrelsName} (trec_eval: "No queries with both results and relevance info"); check that the query ids match`,
    );
  const ignored = [...run.keys()].filter((q) => !qrels.has(q)).sort(compareIds);
  return { queries, all: summarise(measures, sums, queries.length, opts.runTag ?? ""), ignored };
}

function summarise(measures: Measure[], sums: number[][], numQ: number, tag: string): Value[] {
  const all: Value[] = [];
  measures.forEach((m, i) =>
    m.names.forEach((name, c) => {
      const s = sums[i][c];
      const value =
        m.summary === "runid"
          ? tag
          : m.summary === "count"
            ? numQ
            : m.summary === "sum"
              ? s
              : m.summary === "geomean"
                ? Math.exp(s / numQ)
                : s / numQ;
      all.push({ name, value, integer: m.integer });
    }),
  );
  return all;
}

/** One line of trec_eval's output: printf("%-22s\t%s\t%6.4f\n") (%ld for counts, %s for runid). */
export function formatLine(name: string, qid: string, v: Value): string {
  const text =
    typeof v.value === "string"
      ? v.value
      : v.integer
        ? String(Math.trunc(v.value))
        : formatFixed(v.value, 4).padStart(6);
  return `${name.padEnd(22)}\t${qid}\t${text}\n`;
}

/**
 * trec_eval's text output: with perQuery (-q), each evaluated query's lines (query order, measures in
 * trec_eval's order) before the `all` lines; summary false is -n. Queries absent from the run that -c
 * added are averaged in but not printed per query, as trec_eval 9.0.8's own test output shows.
 */
export function formatTrecEval(r: EvalResult, opts: { perQuery?: boolean; summary?: boolean } = {}): string {
  let out = "";
  if (opts.perQuery)
    for (const q of r.queries) if (q.inRun) for (const v of q.values) out += formatLine(v.name, q.qid, v);
  if (opts.summary ?? true) for (const v of r.all) out += formatLine(v.name, "all", v);
  return out;
}
