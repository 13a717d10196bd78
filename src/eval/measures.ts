// trec_eval's measure table for the measures xlir implements: names, parameters as `-m` takes them,
// the order trec_eval prints them in (its measures.c), and how each is summarised in the `all` line.
import {
  averagePrecision,
  binG,
  bpref,
  dcg,
  elevenPointAverage,
  idealDcg,
  interpolatedPrecision,
  logAveragePrecision,
  logBpref,
  ndcg,
  numRel,
  numRelRet,
  numRet,
  precision,
  rPrecision,
  rPrecisionMult,
  recall,
  recipRank,
  relativePrecision,
  success,
} from "./metrics.ts";
import { gMeasure, ndcgRel, rbp, rndcg } from "./metrics-gain.ts";
import { infAP, numNonrelJudgedRet, rbpResidual, relString, unjudged } from "./metrics-judged.ts";
import { setF, setMap, setPrecision, setRecall, setRelativePrecision, utility } from "./metrics-set.ts";
import type { Judged } from "./ranking.ts";

/** How a measure becomes its `all` value: the arithmetic mean over evaluated queries (most), a sum
 *  (num_ret, num_rel_ret, num_nonrel_judged_ret), num_rel's sum (which under -c trec_eval recounts
 *  from the qrels: every judgment > 0, whatever -l), the count of queries (num_q), exp of the mean
 *  (gm_map, gm_bpref, whose per-query values are logs), the run's tag (runid), or nothing
 *  (relstring, printed per query only). */
export type Summary = "mean" | "sum" | "numRel" | "count" | "geomean" | "runid" | "none";

/** How a value is printed: %6.4f, %ld, %s (runid), or '%s' (relstring). */
export type ValueFormat = "float" | "long" | "string" | "quoted";

/**
 * Parameters as `-m name.params` gives them: none; "long"/"double" cutoffs (sorted, one value
 * each, printed name_10 or name_0.20); "values", a list of numbers for a single value, kept in the
 * order given and printed as written (relstring.20 prints relstring_20); "gains", trec_eval's
 * rel=gain pairs, which xlir does not implement (its measures use the qrels values as gains,
 * trec_eval's default).
 */
type Params = "none" | "long" | "double" | "values" | "gains";

interface Definition {
  name: string;
  params: Params;
  defaults: readonly number[];
  summary: Summary;
  format: ValueFormat;
  /** Printed per query with -q (trec_eval prints num_q, gm_map, gm_bpref and runid only in the
   *  summary). */
  perQuery: boolean;
  /** -c evaluates a query missing from the run on a one-document placeholder ranking and then
   *  zeroes these measures, as trec_eval 10.0 does (num_ret, utility, relstring, unj, rbp_resid). */
  zeroWhenAbsent?: boolean;
  /** One value per cutoff (one value when the measure has no cutoffs). */
  compute: (j: Judged, level: number, params: readonly number[]) => (number | string)[];
}

const CUTOFFS = [5, 10, 15, 20, 30, 100, 200, 500, 1000];
const RECALL_POINTS = [0, 0.1, 0.2, 0.3, 0.4, 0.5, 0.6, 0.7, 0.8, 0.9, 1];

const base = { params: "none", defaults: [], summary: "mean", format: "float", perQuery: true } as const;
const scalar = (name: string, f: (j: Judged, level: number) => number, more: Partial<Definition> = {}) =>
  ({ ...base, name, compute: (j, l) => [f(j, l)], ...more }) as Definition;
const count = (name: string, f: (j: Judged, level: number) => number, more: Partial<Definition> = {}) =>
  scalar(name, f, { summary: "sum", format: "long", ...more });
const cut = (
  name: string,
  f: (j: Judged, k: number, level: number) => number,
  defaults: readonly number[] = CUTOFFS,
  more: Partial<Definition> = {},
): Definition => ({
  ...base,
  name,
  params: "long",
  defaults,
  compute: (j, l, ks) => ks.map((k) => f(j, k, l)),
  ...more,
});
const graded = (name: string, f: (j: Judged, level: number) => number) =>
  scalar(name, f, { params: "gains" });

/** In trec_eval's print order (te_trec_measures in measures.c), which is also xlir's: output order
 *  never depends on the order of the -m options. */
const TABLE: readonly Definition[] = [
  scalar("runid", () => 0, { summary: "runid", format: "string", perQuery: false }),
  count("num_q", () => 1, { summary: "count", perQuery: false }),
  count("num_ret", (j) => numRet(j), { zeroWhenAbsent: true }),
  count("num_rel", (j, l) => numRel(j, l), { summary: "numRel" }),
  count("num_rel_ret", (j, l) => numRelRet(j, l)),
  scalar("map", (j, l) => averagePrecision(j, l)),
  scalar("gm_map", (j, l) => logAveragePrecision(j, l), { summary: "geomean", perQuery: false }),
  scalar("Rprec", (j, l) => rPrecision(j, l)),
  scalar("bpref", (j, l) => bpref(j, l)),
  // xlir extension: recip_rank.10 is MRR@10 (printed recip_rank_10). trec_eval takes no parameter
  // here (it silently ignores one); plain recip_rank is exactly trec_eval's.
  {
    ...scalar("recip_rank", (j, l) => recipRank(j, l)),
    params: "long",
    compute: (j, l, ks) => (ks.length ? ks.map((k) => recipRank(j, l, k)) : [recipRank(j, l)]),
  },
  {
    ...base,
    name: "iprec_at_recall",
    params: "double",
    defaults: RECALL_POINTS,
    compute: (j, l, ps) => interpolatedPrecision(j, ps, l),
  },
  cut("P", (j, k, l) => precision(j, k, l)),
  {
    ...base,
    name: "relstring",
    params: "values",
    defaults: [10],
    summary: "none",
    format: "quoted",
    zeroWhenAbsent: true,
    compute: (j, _l, [n]) => [relString(j, n)],
  },
  cut("recall", (j, k, l) => recall(j, k, l)),
  scalar("infAP", (j, l) => infAP(j, l)),
  scalar("gm_bpref", (j, l) => logBpref(j, l), { summary: "geomean", perQuery: false }),
  {
    ...base,
    name: "Rprec_mult",
    params: "double",
    defaults: [0.2, 0.4, 0.6, 0.8, 1, 1.2, 1.4, 1.6, 1.8, 2],
    compute: (j, l, ms) => rPrecisionMult(j, ms, l),
  },
  {
    ...base,
    name: "utility",
    params: "values",
    defaults: [1, -1, 0, 0],
    zeroWhenAbsent: true,
    compute: (j, l, cs) => [utility(j, cs, l)],
  },
  {
    ...base,
    name: "11pt_avg",
    params: "values",
    defaults: RECALL_POINTS,
    compute: (j, l, ps) => [elevenPointAverage(j, ps, l)],
  },
  scalar("binG", (j, l) => binG(j, l)),
  graded("G", (j) => gMeasure(j)),
  graded("dcg", (j) => dcg(j)),
  graded("ideal_dcg", (j) => idealDcg(j)),
  graded("ndcg", (j) => ndcg(j)),
  graded("ndcg_rel", (j) => ndcgRel(j)),
  graded("Rndcg", (j, l) => rndcg(j, l)),
  cut("ndcg_cut", (j, k) => ndcg(j, k)),
  cut("map_cut", (j, k, l) => averagePrecision(j, l, k)),
  cut("relative_P", (j, k, l) => relativePrecision(j, k, l)),
  cut("success", (j, k, l) => success(j, k, l), [1, 5, 10]),
  scalar("set_P", (j, l) => setPrecision(j, l)),
  scalar("set_relative_P", (j, l) => setRelativePrecision(j, l)),
  scalar("set_recall", (j, l) => setRecall(j, l)),
  scalar("set_map", (j, l) => setMap(j, l)),
  {
    ...base,
    name: "set_F",
    params: "values",
    defaults: [1],
    compute: (j, l, [beta]) => [setF(j, beta, l)],
  },
  count("num_nonrel_judged_ret", (j, l) => numNonrelJudgedRet(j, l)),
  graded("rbp", (j) => rbp(j)),
  { ...graded("rbp_resid", (j) => rbpResidual(j)), zeroWhenAbsent: true },
  cut("unj", (j, k) => unjudged(j, k), [5, 10, 20], { zeroWhenAbsent: true }),
];

/** trec_eval's nicknames ("official" is also the default with no -m). */
const NICKNAMES: Record<string, readonly string[]> = {
  official:
    "runid num_q num_ret num_rel num_rel_ret map gm_map Rprec bpref recip_rank iprec_at_recall P".split(" "),
  all_trec: [
    ..."runid num_q num_ret num_rel num_rel_ret map gm_map Rprec bpref recip_rank iprec_at_recall P".split(
      " ",
    ),
    ..."relstring recall unj rbp rbp_resid infAP gm_bpref utility 11pt_avg ndcg relative_P".split(" "),
    ..."Rprec_mult success map_cut ndcg_cut ndcg_rel Rndcg binG G set_P set_recall".split(" "),
    ..."set_relative_P set_map set_F num_nonrel_judged_ret".split(" "),
  ],
  set: "runid num_q num_ret num_rel num_rel_ret utility set_P set_recall set_relative_P set_map set_F".split(
    " ",
  ),
};

/** trec_eval measures xlir does not implement (they need trec_eval's preference or qrels_jg
 *  formats), so that asking for one says so rather than "unknown". */
const NOT_IMPLEMENTED = new Set(
  [
    "all_prefs prefs qrels_jg yaap ndcg_p map_avgjg P_avgjg Rprec_mult_avgjg prefs_num_prefs_poss",
    "prefs_num_prefs_ful prefs_num_prefs_ful_ret prefs_simp prefs_pair prefs_avgjg prefs_avgjg_Rnonrel",
    "prefs_simp_ret prefs_pair_ret prefs_avgjg_ret prefs_avgjg_Rnonrel_ret prefs_simp_imp",
    "prefs_pair_imp prefs_avgjg_imp",
  ]
    .join(" ")
    .split(" "),
);

/** One requested measure: its definition, the parameters in force, and the names it prints. */
export interface Measure {
  name: string;
  summary: Summary;
  format: ValueFormat;
  /** format === "long" (kept for callers that only tell counts from fractions). */
  integer: boolean;
  perQuery: boolean;
  zeroWhenAbsent: boolean;
  /** Cutoffs or parameter values in force (sorted for cutoffs, as given for "values"). */
  cutoffs: number[];
  /** Printed names, one per value: "map", "P_10", "iprec_at_recall_0.10", "recip_rank_10". */
  names: string[];
  compute: (j: Judged, level: number) => (number | string)[];
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
    throw new Error(`measure '${d.name}.${param}': '${d.name}' takes no parameters; use -m ${d.name}`);
  if (param !== undefined && d.params === "gains")
    throw new Error(
      `measure '${d.name}.${param}': custom gains are not implemented; xlir's ${d.name} uses the qrels values as gains (trec_eval's default)`,
    );
  const cutoffs = param === undefined ? [...d.defaults] : parseParams(d, param);
  const names =
    d.params === "values"
      ? [param === undefined ? d.name : `${d.name}_${param}`]
      : d.params === "none" || d.params === "gains" || cutoffs.length === 0
        ? [d.name]
        : cutoffs.map(
            (c) => `${d.name}_${d.params === "double" ? formatFixed(c, 2).padStart(3) : String(c)}`,
          );
  return {
    name: d.name,
    summary: d.summary,
    format: d.format,
    integer: d.format === "long",
    perQuery: d.perQuery,
    // trec_eval finds these by printed name (unj by its first three letters), so relstring.5 or
    // utility.a,b,c,d, whose names carry their parameters, keep the placeholder's values.
    zeroWhenAbsent: (d.zeroWhenAbsent ?? false) && (param === undefined || d.name === "unj"),
    cutoffs,
    names,
    compute: (j, level) => d.compute(j, level, cutoffs),
  };
}

function parseParams(d: Definition, param: string): number[] {
  const where = `measure '${d.name}.${param}'`;
  const values = param.split(",").map((s) => {
    if (d.params !== "long") {
      const v = parseFloat(s);
      if (Number.isNaN(v)) throw new Error(`${where}: '${s}' is not a number`);
      return v;
    }
    const m = /^\s*[+-]?\d+/.exec(s); // C's atol: leading digits, the rest ignored
    return m ? parseInt(m[0], 10) : 0;
  });
  if (d.params === "values") {
    if (d.name === "utility" && values.length !== 4)
      throw new Error(`${where}: utility takes 4 coefficients, like utility.1,-1,0,0`);
    return values; // one value from a parameter list: kept in the order given, as trec_eval keeps it
  }
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
