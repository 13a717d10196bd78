// trec_eval's measure table for the measures xlir implements: names, parameters as `-m` takes them,
// the order trec_eval prints them in (its measures.c), and how each is summarised in the `all` line.
import {
  averagePrecision,
  bpref,
  interpolatedPrecision,
  logAveragePrecision,
  ndcg,
  numRel,
  numRet,
  precision,
  recall,
  recipRank,
  relRet,
  rPrecision,
} from "./metrics.ts";
import type { Judged } from "./ranking.ts";

/** How a measure becomes its `all` value: the arithmetic mean over evaluated queries (most), a sum
 *  (num_ret, num_rel, num_rel_ret), the count of queries (num_q), exp of the mean (gm_map, whose
 *  per-query value is a log), or the run's tag (runid). */
export type Summary = "mean" | "sum" | "count" | "geomean" | "runid";

interface Definition {
  name: string;
  /** "long"/"double": a cutoff list as `-m name.a,b,c` (trec_eval's long and double cutoffs). */
  params: "none" | "long" | "double";
  defaults: readonly number[];
  summary: Summary;
  /** Printed as an integer (%ld) rather than %6.4f. */
  integer: boolean;
  /** Printed per query with -q (trec_eval prints num_q, gm_map and runid only in the summary). */
  perQuery: boolean;
  /** One value per cutoff (one value when the measure has no parameters). */
  compute: (j: Judged, level: number, cutoffs: readonly number[]) => number[];
}

const CUTOFFS = [5, 10, 15, 20, 30, 100, 200, 500, 1000];
const RECALL_POINTS = [0, 0.1, 0.2, 0.3, 0.4, 0.5, 0.6, 0.7, 0.8, 0.9, 1];

const one = (f: (j: Judged, level: number) => number) => (j: Judged, level: number) => [f(j, level)];
const scalar = (name: string, summary: Summary, f: (j: Judged, level: number) => number): Definition => ({
  name,
  params: "none",
  defaults: [],
  summary,
  integer: summary === "sum" || summary === "count",
  perQuery: summary !== "count" && summary !== "geomean",
  compute: one(f),
});
const cut = (name: string, f: (j: Judged, k: number, level: number) => number): Definition => ({
  name,
  params: "long",
  defaults: CUTOFFS,
  summary: "mean",
  integer: false,
  perQuery: true,
  compute: (j, level, ks) => ks.map((k) => f(j, k, level)),
});

/** In trec_eval's print order (te_trec_measures in measures.c), which is also xlir's: output order
 *  never depends on the order of the -m options. */
const TABLE: readonly Definition[] = [
  { ...scalar("runid", "runid", () => 0), perQuery: false },
  scalar("num_q", "count", () => 1),
  scalar("num_ret", "sum", (j) => numRet(j)),
  scalar("num_rel", "sum", (j, l) => numRel(j, l)),
  scalar("num_rel_ret", "sum", (j, l) => relRet(j, l)),
  scalar("map", "mean", (j, l) => averagePrecision(j, l)),
  scalar("gm_map", "geomean", (j, l) => logAveragePrecision(j, l)),
  scalar("Rprec", "mean", (j, l) => rPrecision(j, l)),
  scalar("bpref", "mean", (j, l) => bpref(j, l)),
  // xlir extension: recip_rank.10 is MRR@10 (printed recip_rank_10). trec_eval takes no parameter
  // here (it silently ignores one); plain recip_rank is exactly trec_eval's.
  {
    ...scalar("recip_rank", "mean", (j, l) => recipRank(j, l)),
    params: "long",
    compute: (j, l, ks) => (ks.length ? ks.map((k) => recipRank(j, l, k)) : [recipRank(j, l)]),
  },
  {
    name: "iprec_at_recall",
    params: "double",
    defaults: RECALL_POINTS,
    summary: "mean",
    integer: false,
    perQuery: true,
    compute: (j, l, ps) => interpolatedPrecision(j, ps, l),
  },
  cut("P", (j, k, l) => precision(j, k, l)),
  cut("recall", (j, k, l) => recall(j, k, l)),
  scalar("ndcg", "mean", (j) => ndcg(j)),
  cut("ndcg_cut", (j, k) => ndcg(j, k)),
  cut("map_cut", (j, k, l) => averagePrecision(j, l, k)),
];

/** trec_eval's nicknames that xlir can satisfy ("official" is also the default with no -m). */
const NICKNAMES: Record<string, readonly string[]> = {
  official:
    "runid num_q num_ret num_rel num_rel_ret map gm_map Rprec bpref recip_rank iprec_at_recall P".split(" "),
};

/** trec_eval measures xlir does not implement, so that asking for one says so rather than "unknown". */
const NOT_IMPLEMENTED = new Set(
  [
    "all_trec set all_prefs prefs qrels_jg relstring infAP gm_bpref Rprec_mult utility 11pt_avg binG G",
    "dcg ideal_dcg ndcg_rel Rndcg relative_P success set_P set_relative_P set_recall set_map set_F",
    "num_nonrel_judged_ret yaap rbp rbp_resid unj ndcg_p",
  ]
    .join(" ")
    .split(" "),
);

/** One requested measure: its definition, the cutoffs in force, and the names it prints. */
export interface Measure {
  name: string;
  summary: Summary;
  integer: boolean;
  perQuery: boolean;
  cutoffs: number[];
  /** Printed names, one per value: "map", "P_10", "iprec_at_recall_0.10", "recip_rank_10". */
  names: string[];
  compute: (j: Judged, level: number) => number[];
}

/** The names xlir accepts after -m, for help and error messages. */
export const MEASURE_NAMES: readonly string[] = [...TABLE.map((d) => d.name), ...Object.keys(NICKNAMES)];

/**
 * Parse `-m` arguments as trec_eval does: `name` or `name.params`, params a comma list; a nickname
 * stands for its measures; the FIRST parameter list given for a measure is the one used (trec_eval
 * keeps every -m and takes the first match, so `-m P.5 -m P.10` prints P_5 only); cutoffs are sorted
 * ascending and must be positive without duplicates; long cutoffs read like C's atol ("23.4" is 23).
 * No arguments means trec_eval's default, "official". Returns the measures in print order.
 */
export function parseMeasures(args: readonly string[]): Measure[] {
  const wanted = new Set<string>();
  const params = new Map<string, string>();
  for (const arg of args.length ? args : ["official"]) {
    const dot = arg.indexOf(".");
    const name = dot < 0 ? arg : arg.slice(0, dot);
    if (dot >= 0) {
      const p = arg.slice(dot + 1);
      if (p === "") throw new Error(`measure '${arg}': nothing after the '.'; give cutoffs like P.5,10`);
      if (!params.has(name)) params.set(name, p);
    }
    if (NICKNAMES[name]) {
      if (dot >= 0)
        throw new Error(`measure '${arg}': '${name}' is a set of measures and takes no parameters`);
      for (const m of NICKNAMES[name]) wanted.add(m);
    } else if (TABLE.some((d) => d.name === name)) wanted.add(name);
    else if (NOT_IMPLEMENTED.has(name))
      throw new Error(
        `measure '${name}' is a trec_eval measure xlir does not implement; use one of ${MEASURE_NAMES.join(", ")}`,
      );
    else throw new Error(`unknown measure '${arg}'; use one of ${MEASURE_NAMES.join(", ")}`);
  }
  return TABLE.filter((d) => wanted.has(d.name)).map((d) => measure(d, params.get(d.name)));
}

function measure(d: Definition, param: string | undefined): Measure {
  if (param !== undefined && d.params === "none")
    throw new Error(
      d.name === "ndcg"
        ? `measure 'ndcg.${param}': custom gains are not implemented; xlir's ndcg uses the qrels values as gains (trec_eval's default)`
        : `measure '${d.name}.${param}': '${d.name}' takes no parameters; use -m ${d.name}`,
    );
  const cutoffs = param === undefined ? [...d.defaults] : parseCutoffs(d, param);
  const names =
    d.params === "none" || cutoffs.length === 0
      ? [d.name]
      : cutoffs.map((c) => `${d.name}_${d.params === "double" ? formatFixed(c, 2) : String(c)}`);
  return {
    name: d.name,
    summary: d.summary,
    integer: d.integer,
    perQuery: d.perQuery,
    cutoffs,
    names,
    compute: (j, level) => d.compute(j, level, cutoffs),
  };
}

function parseCutoffs(d: Definition, param: string): number[] {
  const where = `measure '${d.name}.${param}'`;
  const values = param.split(",").map((s) => {
    if (d.params === "double") {
      const v = parseFloat(s);
      if (Number.isNaN(v)) throw new Error(`${where}: '${s}' is not a number`);
      return v;
    }
    const m = /^\s*[+-]?\d+/.exec(s); // C's atol: leading digits, the rest ignored
    return m ? parseInt(m[0], 10) : 0;
  });
  values.sort((a, b) => a - b);
  if (d.params === "long" && values[0] <= 0)
    throw new Error(`${where}: cutoffs must be positive whole numbers, like ${d.name}.10,100`);
  for (let i = 1; i < values.length; i++)
    if (values[i] === values[i - 1]) throw new Error(`${where}: cutoff ${values[i]} is given twice`);
  return values;
}

/**
 * printf("%.<digits>f") as glibc does it: the exact binary value rounded to nearest, an exact tie to
 * even. JS toFixed rounds an exact tie up instead ((0.03125).toFixed(4) is "0.0313", printf gives
 * "0.0312"). A tie at d decimals is x = odd / 2^(d+1), so the check is exact.
 */
export function formatFixed(x: number, digits: number): string {
  const t = Math.abs(x) * 2 ** (digits + 1);
  if (!Number.isInteger(t) || t % 2 === 0 || t > Number.MAX_SAFE_INTEGER / 5 ** digits)
    return x.toFixed(digits);
  const low = (t * 5 ** digits - 1) / 2; // |x| * 10^digits = low + 0.5 exactly
  const n = low % 2 === 0 ? low : low + 1;
  const scale = 10 ** digits;
  const body = `${Math.floor(n / scale)}${digits ? "." + String(n % scale).padStart(digits, "0") : ""}`;
  return x < 0 ? `-${body}` : body;
}
