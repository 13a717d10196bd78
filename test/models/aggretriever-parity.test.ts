// Aggretriever / mAggretriever against the reference (shared/fixtures/aggretriever*/cases.json): for
// every variant (mlm, target, self, self_masked) the encoder's hidden states, term weights,
// semantic part, lexical vector, agg*, final vectors and scores, the two losses, and their
// gradients with respect to the heads through the training graph; and every standalone agg* case,
// exactly. Queries and passages are encoded as the reference does: the query alone, the three
// passages as one padded batch.

import assert from "node:assert/strict";
import { readFileSync, rmSync } from "node:fs";
import { join } from "node:path";
import { after, test } from "node:test";
import { AggRunner } from "../../src/encode/aggretriever.ts";
import { Encoder } from "../../src/encode/encoder.ts";
import { type AggAlgorithm, aggregate } from "../../src/models/agg-star.ts";
import { aggGraph } from "../../src/models/aggretriever.ts";
import { headSource, readAggretrieverFolder } from "../../src/models/aggretriever-folder.ts";
import { grad, gradName } from "../../src/tensor/autodiff.ts";
import { Graph, type TensorData } from "../../src/tensor/graph.ts";
import { mul, sumAll } from "../../src/tensor/ops.ts";
import { Session } from "../../src/tensor/session.ts";
import { aggretrieverHead } from "../../src/train/aggretriever-head.ts";
import { contrastiveLoss } from "../../src/train/losses.ts";
import { parseTrainable } from "../../src/train/model-head.ts";
import {
  type AggFixtureConfig,
  aggFixtureFolder,
  aggFixtureSets,
  textOfIds,
} from "../helpers/aggretriever.ts";

type Nested = number | Nested[];
interface Side {
  last_hidden_state: Nested;
  term_weights: Nested;
  semantic: Nested;
  lexical: Nested;
  agg: Nested;
  final: Nested;
}
interface Variant {
  query: Side;
  passages: Side;
  scores: number[];
  lexical_scores: number[];
  semantic_scores: number[];
  loss_simple: number;
  loss_reference: number;
  grads_simple: Record<string, Nested>;
  grads_reference: Record<string, Nested>;
}
interface Rows {
  input_ids: number[][];
  attention_mask: number[][];
}
interface Cases {
  inputs: { query: Rows; passages: Rows; positive_passage_index: number };
  variants: Record<string, Variant>;
  aggregation_cases: {
    name: string;
    algorithm: AggAlgorithm;
    vocab_size: number;
    dims: number;
    input?: number[][];
    input_sparse?: { indices: number[]; values: number[] };
    output: Nested;
  }[];
}

const flat = (x: Nested): number[] => (Array.isArray(x) ? x.flatMap(flat) : [Math.fround(x)]);
function close(actual: ArrayLike<number>, expected: Nested, atol: number, what: string): void {
  const e = flat(expected);
  assert.equal(actual.length, e.length, `${what}: length`);
  let worst = 0;
  for (let i = 0; i < e.length; i++) worst = Math.max(worst, Math.abs(actual[i] - e[i]));
  assert.ok(worst <= atol, `${what}: max |diff| ${worst} > ${atol}`);
}
const feeds = (r: Rows): Record<string, TensorData> => {
  const dims = [r.input_ids.length, r.input_ids[0].length];
  const int64 = (x: number[][]) => BigInt64Array.from(x.flat(), BigInt);
  return {
    input_ids: { dtype: "int64", dims, data: int64(r.input_ids) },
    attention_mask: { dtype: "int64", dims, data: int64(r.attention_mask) },
  };
};
const dot = (a: Float32Array, b: Float32Array, from: number, to: number) => {
  let s = 0;
  for (let i = from; i < to; i++) s += a[i] * b[i];
  return s;
};

const folders: string[] = [];
after(() => folders.forEach((d) => rmSync(d, { recursive: true, force: true })));

for (const set of aggFixtureSets()) {
  const name = set.split("/").pop()!;
  const cases = JSON.parse(readFileSync(join(set, "cases.json"), "utf8")) as Cases;
  const cfg = JSON.parse(readFileSync(join(set, "aggretriever_config.json"), "utf8")) as AggFixtureConfig;
  const dir = aggFixtureFolder(set);
  folders.push(dir);
  const { query, passages } = cases.inputs;
  const modeOf = (v: string) => (v === "self_masked" ? "self" : (v as "mlm" | "target" | "self"));
  const target = () => cfg.target_language_token_ids;

  test(`${name}: standalone agg* cases, exact`, () => {
    for (const c of cases.aggregation_cases) {
      const rows =
        c.input?.map((r) => Float32Array.from(r)) ??
        [new Float32Array(c.vocab_size)].map((v) => {
          c.input_sparse!.indices.forEach((t, k) => (v[t] = c.input_sparse!.values[k]));
          return v;
        });
      const got = rows.flatMap((v) => [...aggregate(v, c.dims, c.algorithm)]);
      assert.deepEqual(got, flat(c.output), c.name);
    }
  });

  test(`${name}: hidden states`, async () => {
    const folder = readAggretrieverFolder(dir);
    const s = await Session.create(aggGraph(folder.ck, headSource(folder.heads), { spec: folder.spec }));
    for (const side of ["query", "passages"] as const) {
      const out = await s.run(feeds(cases.inputs[side]), ["last_hidden_state"]);
      close(
        out.last_hidden_state.data as Float32Array,
        cases.variants.mlm[side].last_hidden_state,
        2e-5,
        side,
      );
    }
    await s.release();
    folder.close();
  });

  for (const [variant, x] of Object.entries(cases.variants)) {
    test(`${name} ${variant}: inference parts, final vectors and scores`, async () => {
      const folder = readAggretrieverFolder(dir);
      const runner = await AggRunner.create(
        folder,
        { mode: modeOf(variant), vocab: target, floor: false, selfPadding: variant === "self" },
        (g) => Session.create(g),
      );
      const out = {
        query: await runner.forward(feeds(query), ["x"]),
        passages: await runner.forward(feeds(passages), ["x", "x", "x"]),
      };
      for (const side of ["query", "passages"] as const) {
        const o = out[side];
        close(o.termWeights, x[side].term_weights, 2e-5, `${side} term weights`);
        close(o.semantic, x[side].semantic, 1e-5, `${side} semantic`);
        close(o.lexical, x[side].lexical, 2e-5, `${side} lexical`);
        close(o.agg, x[side].agg, 2e-5, `${side} agg*`);
        close(o.final, x[side].final, 2e-5, `${side} final`);
      }
      const D = folder.spec.semanticDim + folder.spec.aggDim;
      const Ds = folder.spec.semanticDim;
      const q = out.query.final;
      const p = out.passages.final;
      const score = (from: number, to: number) =>
        [0, 1, 2].map((i) => dot(q, p.subarray(i * D, (i + 1) * D), from, to));
      close(score(0, D), x.scores, 1e-4, "scores");
      close(score(Ds, D), x.lexical_scores, 1e-4, "lexical scores");
      close(score(0, Ds), x.semantic_scores, 1e-4, "semantic scores");
      await runner.release();
      folder.close();

      // the same through the Encoder, from text
      const enc = await Encoder.load(dir, {
        agg: { mode: modeOf(variant), vocab: target, floor: false, selfPadding: variant === "self" },
      });
      const eq = await enc.embed([textOfIds(query.input_ids[0])], { role: "query" });
      const ep = await enc.embed(
        passages.input_ids.map((r) => textOfIds(r)),
        { role: "passage" },
      );
      close(eq.data, x.query.final, 2e-5, "Encoder query");
      close(ep.data, x.passages.final, 2e-5, "Encoder passages");
      await enc.close();

      // the Encoder's defaults (a 0 in every max, padding never writes): the reference's values
      // for every row that has padding
      if (variant === "self") return;
      const plain = await Encoder.load(dir, { agg: { mode: modeOf(variant), vocab: target } });
      const padded = passages.attention_mask.flatMap((m, i) => (m.includes(0) ? [i] : []));
      assert.ok(padded.length > 0, "the fixture's passages include padded rows");
      const rows = await plain.embed(padded.map((i) => textOfIds(passages.input_ids[i])));
      padded.forEach((i, k) =>
        close(
          rows.data.subarray(k * D, (k + 1) * D),
          (x.passages.final as Nested[])[i],
          2e-5,
          `default passage ${i}`,
        ),
      );
      await plain.close();
    });

    test(`${name} ${variant}: training graph, losses and head gradients`, async () => {
      const head = aggretrieverHead(dir, {
        trainable: parseTrainable("heads"),
        mode: modeOf(variant),
        vocabIds: target(),
        selfPadding: variant === "self",
      });
      assert.deepEqual(Object.keys(head.params).sort(), Object.keys(x.grads_reference).sort());
      const params: Record<string, TensorData> = Object.fromEntries(
        Object.entries(head.params).map(([n, data]) => [n, { dtype: "float32", dims: head.dims[n], data }]),
      );
      const texts = (r: Rows) =>
        r.input_ids.map((ids) => ({ text: textOfIds(ids), role: "passage" as const }));
      const qb = head.batch(texts(query), null);
      const pb = head.batch(texts(passages), null);
      assert.deepEqual([...(pb.input_ids.data as BigInt64Array)].map(Number), passages.input_ids.flat());
      // embeddings of the query alone and of the padded passages, as the reference encodes them
      const embed = await Session.create(head.graph(false));
      const eq = (await embed.run({ ...qb, ...params }, ["embedding"])).embedding.data as Float32Array;
      const ep = (await embed.run({ ...pb, ...params }, ["embedding"])).embedding.data as Float32Array;
      close(eq, x.query.final, 2e-5, "training graph query");
      close(ep, x.passages.final, 2e-5, "training graph passages");
      await embed.release();
      const D = head.dim;
      for (const [loss, spec] of [
        ["simple", { kind: "infonce", sim: "dot", scale: 1 }],
        ["reference", { kind: "aggretriever", semanticDim: cfg.projection_out_dim }],
      ] as const) {
        // the loss on the embeddings, then each side again with its share of dL/dE (GradCache's way)
        const lg = new Graph("loss");
        const q = lg.input("q", "float32", [1, D]);
        const l = contrastiveLoss(spec, {
          q,
          p: lg.input("pos", "float32", [1, D]),
          n: lg.input("neg", "float32", [1, 2, D]),
          weights: null,
        });
        lg.output(l.loss, "loss");
        const ls = await Session.create(grad(lg, "loss", ["q", "pos", "neg"]));
        const lo = await ls.run({
          q: { dtype: "float32", dims: [1, D], data: eq },
          pos: { dtype: "float32", dims: [1, D], data: ep.slice(0, D) },
          neg: { dtype: "float32", dims: [1, 2, D], data: ep.slice(D) },
        });
        await ls.release();
        close(lo.loss.data as Float32Array, x[`loss_${loss}`], 5e-5, `loss_${loss}`);
        const gq = lo[gradName("q")].data as Float32Array;
        const gp = new Float32Array(3 * D);
        gp.set(lo[gradName("pos")].data as Float32Array, 0);
        gp.set(lo[gradName("neg")].data as Float32Array, D);
        const bg = head.graph(false).clone();
        bg.output(sumAll(mul(bg.value("embedding"), bg.input("g", "float32", ["batch", D]))), "s");
        const back = await Session.create(grad(bg, "s", Object.keys(head.params)));
        const total: Record<string, Float32Array> = {};
        for (const [b, g] of [
          [qb, gq],
          [pb, gp],
        ] as const) {
          const out = await back.run({
            ...b,
            ...params,
            g: { dtype: "float32", dims: [g.length / D, D], data: g },
          });
          for (const n of Object.keys(head.params)) {
            const gr = out[gradName(n)].data as Float32Array;
            total[n] ??= new Float32Array(gr.length);
            gr.forEach((v, i) => (total[n][i] += v));
          }
        }
        await back.release();
        for (const [n, expected] of Object.entries(x[`grads_${loss}`]))
          close(total[n], expected, n.startsWith("pooler") ? 5e-5 : 2e-4, `grads_${loss} ${n}`);
      }
      head.close();
    });
  }
}
