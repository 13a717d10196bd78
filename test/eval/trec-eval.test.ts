import assert from "node:assert/strict";
import { describe, it } from "node:test";

import { exp, log, log2 } from "../../src/eval/libm.ts";
import { formatFixed, parseMeasures } from "../../src/eval/measures.ts";
import { parseQrels } from "../../src/eval/qrels.ts";
import { evaluate, formatLine, formatTrecEval, type EvalResult } from "../../src/eval/trec-eval.ts";
import { parseRun } from "../../src/eval/trec-run.ts";

// One small collection, worked by hand:
//   q1: d1 rel 1, d2 rel 0, d3 rel 2. Run: d1 0.5, d2 0.5 (a tie), d3 0.1, dx 0.05 (unjudged).
//       The tie goes to the larger id, so the ranking is d2, d1, d3, dx -> rels 0, 1, 2, -.
//       map = (1/2 + 2/3) / 2 = 0.583333; recip_rank = 1/2; P_2 = 1/2
//       ndcg = (1/log2(3) + 2/log2(4)) / (2 + 1/log2(3)) = 1.630930 / 2.630930 = 0.619906
//   q2: e1 rel 1. Run: e2 3, e1 2 -> the relevant doc at rank 2: map 1/2, recip 1/2, ndcg 0.630930
//   q3: f1 rel 0 only (no relevant document). Run: f1 -> 0 on every measure, still averaged in.
//   q4: g1 rel 1, absent from the run -> skipped, or 0 under -c.
//   q9: only in the run -> ignored, as trec_eval ignores it.
const QRELS = parseQrels(
  ["q1 0 d1 1", "q1 0 d2 0", "q1 0 d3 2", "q2 0 e1 1", "q3 0 f1 0", "q4 0 g1 1"].join("\n"),
);
const { run: RUN, tag: TAG } = parseRun(
  [
    "q1 Q0 d1 1 0.5 tagA",
    "q1 Q0 d2 2 0.5 tagA",
    "q1 Q0 d3 3 0.1 tagA",
    "q1 Q0 dx 4 0.05 tagA",
    "q2 Q0 e2 1 3 tagA",
    "q2 Q0 e1 2 2 tagA",
    "q3 Q0 f1 1 1 tagA",
    "q9 Q0 z 1 1 tagB",
  ].join("\n"),
);
const Q1_NDCG = (1 / Math.log2(3) + 1) / (2 + 1 / Math.log2(3));
const Q2_NDCG = 1 / Math.log2(3);

const value = (r: EvalResult, name: string, qid = "all") =>
  (qid === "all" ? r.all : r.queries.find((q) => q.qid === qid)!.values).find((v) => v.name === name)?.value;

describe("which queries trec_eval evaluates", () => {
  const measures = ["num_q", "num_ret", "num_rel", "num_rel_ret", "map", "recip_rank", "ndcg", "P.2"];

  it("evaluates queries in both files, averages over them, ignores run-only queries", () => {
    const r = evaluate(QRELS, RUN, { measures });
    assert.deepEqual(
      r.queries.map((q) => q.qid),
      ["q1", "q2", "q3"],
    );
    assert.deepEqual(r.ignored, ["q9"]);
    assert.equal(value(r, "num_q"), 3);
    assert.equal(value(r, "num_ret"), 7); // 4 + 2 + 1, summed not averaged
    assert.equal(value(r, "num_rel"), 3); // 2 + 1 + 0
    assert.equal(value(r, "num_rel_ret"), 3);
    assert.equal(value(r, "map"), (0.5833333333333333 + 0.5 + 0) / 3); // 0.361111
    assert.equal(value(r, "recip_rank"), (0.5 + 0.5 + 0) / 3);
    assert.equal(value(r, "ndcg"), (Q1_NDCG + Q2_NDCG + 0) / 3); // 0.416945
    assert.equal(value(r, "P_2"), (0.5 + 0.5 + 0) / 3);
    assert.equal(value(r, "ndcg", "q1"), Q1_NDCG);
    assert.equal(value(r, "map", "q3"), 0);
  });

  it("-c averages over every qrels query; the missing one scores 0 but its num_rel counts", () => {
    const r = evaluate(QRELS, RUN, { measures, complete: true });
    assert.deepEqual(
      r.queries.map((q) => [q.qid, q.inRun]),
      [
        ["q1", true],
        ["q2", true],
        ["q3", true],
        ["q4", false],
      ],
    );
    assert.equal(value(r, "num_q"), 4);
    assert.equal(value(r, "num_ret"), 7);
    assert.equal(value(r, "num_rel"), 4); // q4's g1 is counted
    assert.equal(value(r, "num_rel_ret"), 3);
    assert.equal(value(r, "map"), (0.5833333333333333 + 0.5) / 4); // 0.270833
    assert.equal(value(r, "ndcg"), (Q1_NDCG + Q2_NDCG) / 4); // 0.312709
    assert.equal(value(r, "map", "q4"), 0);
  });

  it("-l 2: binary measures see only rel >= 2; ndcg keeps its graded gains", () => {
    const r = evaluate(QRELS, RUN, { measures, level: 2 });
    // q1: only d3 (rank 3) relevant -> map 1/3, recip 1/3, P_2 0. q2, q3: nothing relevant -> 0.
    assert.equal(value(r, "num_rel"), 1);
    assert.equal(value(r, "map", "q1"), 1 / 3);
    assert.equal(value(r, "recip_rank"), 1 / 3 / 3);
    assert.equal(value(r, "P_2"), 0);
    assert.equal(value(r, "ndcg"), (Q1_NDCG + Q2_NDCG + 0) / 3);
  });

  it("-M k cuts every ranking: recip_rank with -M 1 is MRR@1", () => {
    const r = evaluate(QRELS, RUN, { measures: ["recip_rank", "num_ret"], maxDocs: 1 });
    assert.equal(value(r, "recip_rank"), 0); // no query has a relevant document at rank 1
    assert.equal(value(r, "num_ret"), 3);
  });

  it("recip_rank.k (an xlir extension) is MRR@k, printed recip_rank_k", () => {
    const r = evaluate(QRELS, RUN, { measures: ["recip_rank.1,2"] });
    assert.deepEqual(
      r.all.map((v) => [v.name, v.value]),
      [
        ["recip_rank_1", 0],
        ["recip_rank_2", (0.5 + 0.5) / 3],
      ],
    );
  });

  it("gm_map is exp(mean log AP), AP floored at 0.00001, and prints only in the summary", () => {
    const r = evaluate(QRELS, RUN, { measures: ["gm_map"] });
    const want = Math.exp((Math.log(0.5833333333333333) + Math.log(0.5) + Math.log(0.00001)) / 3);
    assert.ok(Math.abs((value(r, "gm_map") as number) - want) < 1e-15); // 0.014288
    assert.deepEqual(r.queries[0].values, []);
  });

  it("runid reports the tag of the run's last line", () => {
    assert.equal(TAG, "tagB");
    assert.equal(value(evaluate(QRELS, RUN, { measures: ["runid"], runTag: TAG }), "runid"), "tagB");
  });

  it("refuses an empty run, empty qrels, and a run that shares no query with the qrels", () => {
    assert.throws(
      () => evaluate(QRELS, new Map(), { runSource: "my.run" }),
      /^Error: my\.run has no results/,
    );
    assert.throws(() => evaluate(new Map(), RUN, { qrelsSource: "my.qrels" }), /my\.qrels has no judgments/);
    const other = parseRun("x Q0 d 1 1 t").run;
    assert.throws(
      () => evaluate(QRELS, other, { runSource: "r.txt", qrelsSource: "q.txt" }),
      /no query of r\.txt is judged in q\.txt .*No queries with both results and relevance info/,
    );
    // -c evaluates every qrels query, so the same run gives zeros rather than an error (as trec_eval).
    assert.equal(value(evaluate(QRELS, other, { measures: ["map"], complete: true }), "map"), 0);
  });
});

describe("-m as trec_eval parses it", () => {
  const names = (args: string[]) => parseMeasures(args).flatMap((m) => m.names);

  it("prints in trec_eval's measure order, whatever the order of -m", () => {
    assert.deepEqual(names(["ndcg_cut.10", "recall.100", "P.10", "recip_rank", "map_cut.100", "map"]), [
      "map",
      "recip_rank",
      "P_10",
      "recall_100",
      "ndcg_cut_10",
      "map_cut_100",
    ]);
  });

  it("sorts cutoffs, reads them like atol, and keeps the first parameter list of a measure", () => {
    assert.deepEqual(names(["P.20,5"]), ["P_5", "P_20"]);
    assert.deepEqual(names(["ndcg_cut.10,20,23.4"]), ["ndcg_cut_10", "ndcg_cut_20", "ndcg_cut_23"]);
    assert.deepEqual(names(["P.5", "P.10"]), ["P_5"]);
    assert.deepEqual(names(["P", "P.10"]), ["P_10"]);
  });

  it("uses trec_eval's default cutoffs, and 'official' when no -m is given", () => {
    assert.deepEqual(
      names(["recall"]),
      [5, 10, 15, 20, 30, 100, 200, 500, 1000].map((k) => `recall_${k}`),
    );
    const official = names([]);
    assert.deepEqual(official.slice(0, 10), [
      "runid",
      "num_q",
      "num_ret",
      "num_rel",
      "num_rel_ret",
      "map",
      "gm_map",
      "Rprec",
      "bpref",
      "recip_rank",
    ]);
    assert.equal(official[10], "iprec_at_recall_0.00");
    assert.equal(official[20], "iprec_at_recall_1.00");
    assert.equal(official.at(-1), "P_1000");
    assert.deepEqual(names(["official"]), official);
  });

  it("rejects what trec_eval rejects, and says what to do", () => {
    assert.throws(() => names(["P."]), /nothing after the '\.'/);
    assert.throws(() => names(["P.0"]), /cutoffs must be positive/);
    assert.throws(() => names(["P.x"]), /cutoffs must be positive/);
    assert.throws(() => names(["P.10,10"]), /cutoff 10 is given twice/);
    assert.throws(() => names(["nope"]), /unknown measure 'nope'; use one of .*ndcg_cut/);
    assert.throws(() => names(["yaap"]), /trec_eval measure xlir does not implement/);
    assert.throws(() => names(["utility.1,2"]), /utility takes 4 coefficients/);
    // trec_eval silently ignores a parameter here; xlir refuses rather than print a misleading name.
    assert.throws(() => names(["map.5"]), /'map' takes no parameters/);
    assert.throws(() => names(["ndcg.1=3,2=9"]), /custom gains are not implemented/);
    assert.throws(() => names(["rbp.p=0.5"]), /custom gains are not implemented/);
  });
});

describe("exp, log and log2 as glibc rounds them", () => {
  // The expected doubles are glibc's (printed by a C program with %a); V8's Math.exp gives
  // 0.21875 and Math.log2(1375) 10.425215903299385, each 1 ulp away.
  it("matches glibc where V8's Math functions are 1 ulp off", () => {
    assert.equal(log(0.21875), -1.5198257537444133);
    assert.equal(exp(log(0.21875)), 0.21874999999999997);
    assert.equal(log2(1375), 10.425215903299383);
    assert.equal(log2(1024), 10);
  });

  it("so gm_bpref of one query with bpref 7/32 prints 0.2187, as trec_eval 10.0 prints it", () => {
    // R = 8 relevant, 8 judged non-relevant; ranking r1, n1, n2, r2: bpref = (1 + (1 - 2/8)) / 8 =
    // 7/32, printed 0.2188 (an exact tie, to even); gm_bpref = exp(log(7/32)) is just below it.
    const q = parseQrels(Array.from({ length: 8 }, (_, i) => `1 0 r${i + 1} 1\n1 0 n${i + 1} 0`).join("\n"));
    const r = parseRun("1 Q0 r1 0 4 t\n1 Q0 n1 0 3 t\n1 Q0 n2 0 2 t\n1 Q0 r2 0 1 t").run;
    assert.equal(
      formatTrecEval(evaluate(q, r, { measures: ["bpref", "gm_bpref"] })),
      "bpref                 \tall\t0.2188\ngm_bpref              \tall\t0.2187\n",
    );
  });
});

describe("trec_eval's text format", () => {
  it("is %-22s\\t%s\\t%6.4f, with %ld for counts and %s for runid", () => {
    assert.equal(
      formatLine("map", "all", { name: "map", value: 0.361111, integer: false }),
      "map                   \tall\t0.3611\n",
    );
    assert.equal(
      formatLine("num_ret", "q1", { name: "num_ret", value: 4, integer: true }),
      "num_ret               \tq1\t4\n",
    );
    assert.equal(
      formatLine("runid", "all", { name: "runid", value: "tagB", integer: false }),
      "runid                 \tall\ttagB\n",
    );
    // Names longer than 22 are not cut.
    assert.equal(
      formatLine("iprec_at_recall_0.10xyz", "7", { name: "", value: 1, integer: false }),
      "iprec_at_recall_0.10xyz\t7\t1.0000\n",
    );
  });

  it("rounds like glibc printf: exact ties to even (toFixed would round them up)", () => {
    // 1/32 = 0.03125 and 3/32 = 0.09375 are exact binary ties at 4 decimals.
    assert.equal(formatFixed(1 / 32, 4), "0.0312");
    assert.equal(formatFixed(3 / 32, 4), "0.0938");
    assert.equal(formatFixed(5 / 32, 4), "0.1562");
    assert.equal(formatFixed(0.125, 2), "0.12");
    assert.equal(formatFixed(0.375, 2), "0.38");
    assert.equal(formatFixed(2 / 3, 4), "0.6667");
    assert.equal(formatFixed(0.30000000000000004, 4), "0.3000");
    assert.equal(formatFixed(1, 4), "1.0000");
    assert.equal(formatFixed(0, 4), "0.0000");
    // A P_32 with one relevant document is such a tie in practice.
    const q = parseQrels("1 0 a 1");
    const r = parseRun("1 Q0 a 1 1 t").run;
    assert.match(formatTrecEval(evaluate(q, r, { measures: ["P.32"] })), /^P_32 +\tall\t0\.0312\n$/);
  });

  it("prints per-query lines (-q) before the summary, queries in id order; -c's missing query too", () => {
    const r = evaluate(QRELS, RUN, { measures: ["num_q", "num_ret", "map", "ndcg_cut.2"], complete: true });
    const expected = [
      "num_ret               \tq1\t4",
      "map                   \tq1\t0.5833",
      // d2 (0), d1 (1): DCG@2 = 1/log2(3) = 0.63093; ideal d3 (2), d1 (1) = 2 + 0.63093 -> 0.23981
      "ndcg_cut_2            \tq1\t0.2398",
      "num_ret               \tq2\t2",
      "map                   \tq2\t0.5000",
      "ndcg_cut_2            \tq2\t0.6309",
      "num_ret               \tq3\t1",
      "map                   \tq3\t0.0000",
      "ndcg_cut_2            \tq3\t0.0000",
      // q4 is missing from the run: trec_eval 10.0 prints its zeros with -q -c (9.x did not).
      "num_ret               \tq4\t0",
      "map                   \tq4\t0.0000",
      "ndcg_cut_2            \tq4\t0.0000",
      "num_q                 \tall\t4",
      "num_ret               \tall\t7",
      "map                   \tall\t0.2708",
      "ndcg_cut_2            \tall\t0.2177",
    ];
    // ndcg_cut_2 all: (0.23981 + 0.63093 + 0 + 0) / 4 = 0.21769; map all: (0.58333 + 0.5) / 4
    assert.equal(formatTrecEval(r, { perQuery: true }), expected.join("\n") + "\n");
    assert.equal(
      formatTrecEval(r, { perQuery: true, summary: false }),
      expected.slice(0, 12).join("\n") + "\n",
    );
    assert.equal(formatTrecEval(r), expected.slice(12).join("\n") + "\n");
  });
});
