// Retrieval engine figures (printed, never asserted):
//   1. indexing throughput, documents/s, of the XQuAD-R sentences (all 11 languages) into a
//      collection: BM25 only, and with an e5-small-shaped random encoder (BertModel, hidden 384,
//      12 layers, 12 heads, FFN 1536, vocabulary 30522, WordPiece over the corpus' own words),
//      everything included: reading, language resolution, chunking, encoding, LanceDB commits, BM25;
//   2. exact dense search over N random 384-dim unit vectors (N = 100k, 1M): latency and QPS of one
//      query (dot products in TypeScript + top-k), next to LanceDB's own flat (brute-force) search
//      of the same vectors: the baseline that decided xlir does exact search itself;
//   3. ANN through LanceDB's indexes (IVF-PQ with exact re-ranking, HNSW-SQ): recall@10 against
//      exact search and QPS, on the same vectors.
//
//   npm run bench:index -- [--dense-docs 2000 (0: skip)] [--sizes 100000,1000000] [--ann-sizes 100000]
//        [--queries 50] [--threads N]

import { mkdtempSync, rmSync } from "node:fs";
import { availableParallelism, tmpdir } from "node:os";
import { dirname, join, resolve } from "node:path";
import { fileURLToPath } from "node:url";
import * as lancedb from "@lancedb/lancedb";
import { Encoder } from "../src/encode/encoder.ts";
import { loadLareqa } from "../src/eval/datasets/lareqa.ts";
import { arrow, tableOf, vectorType } from "../src/index/arrow.ts";
import { topK } from "../src/index/bm25-topk.ts";
import { Collection } from "../src/index/collection.ts";
import { dotAll, normalizeRows, topDocs } from "../src/index/exact-search.ts";
import { MAX_SCORE } from "../src/index/doc-score.ts";
import { addDocuments } from "../src/index/indexer.ts";
import type { InputDoc } from "../src/index/ingest.ts";
import { Rng } from "../src/models/random.ts";
import { wordBertDir, wordsByCount } from "./util.ts";

const REPO = resolve(dirname(fileURLToPath(import.meta.url)), "..");
const XQUAD = resolve(REPO, "..", "shared", "data", "xquad-r");

function arg(name: string, fallback: string): string {
  const i = process.argv.indexOf(`--${name}`);
  return i >= 0 ? process.argv[i + 1] : fallback;
}
const sizes = arg("sizes", "100000,1000000")
  .split(",")
  .map(Number)
  .filter((n) => n > 0);
const annSizes = arg("ann-sizes", "100000").split(",").map(Number);
const queries = Number(arg("queries", "50"));
const denseDocs = Number(arg("dense-docs", "2000"));
const threads = Number(arg("threads", String(availableParallelism())));
const DIM = 384;

const root = mkdtempSync(join(tmpdir(), "xlir-bench-index-"));
process.on("exit", () => rmSync(root, { recursive: true, force: true }));
const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)];
const fmt = (x: number, d = 1) => x.toFixed(d);

// ---------------------------------------------------------------------------------------------
// 1. Indexing throughput
// ---------------------------------------------------------------------------------------------

/** An e5-small-v2-shaped BertModel folder with a whole-word WordPiece vocabulary of the corpus' words. */
function e5SmallDir(texts: string[]): string {
  const dir = join(root, "e5-small-random");
  return wordBertDir(dir, { hidden: 384, layers: 12, heads: 12, ffn: 1536 }, wordsByCount(texts), 3);
}

async function indexing(): Promise<void> {
  const docs: InputDoc[] = loadLareqa(XQUAD).flatMap((l) =>
    l.candidates.map((c) => ({ id: c.id, text: c.text, lang: c.lang, source: c.id })),
  );
  console.log(`\n## Indexing XQuAD-R sentences (${docs.length} in 11 languages), ${threads} threads`);
  const home = join(root, "home");
  let t = performance.now();
  const bm25 = await Collection.openOrCreate("bm25", { home, model: "bm25" });
  await addDocuments(bm25, docs, { batchSize: 1000 });
  await bm25.close();
  let s = (performance.now() - t) / 1000;
  console.log(
    `bm25                      ${docs.length} docs  ${fmt(s)} s  ${fmt(docs.length / s, 0)} docs/s`,
  );

  if (denseDocs <= 0) return;
  const enc = await Encoder.load(e5SmallDir(docs.map((d) => d.text)), {
    threads,
    batchSize: 32,
    warn: () => {},
  });
  // a spread of all languages: every k-th sentence
  const step = Math.max(1, Math.floor(docs.length / denseDocs));
  const subset = docs.filter((_, i) => i % step === 0).slice(0, denseDocs);
  const tokens = enc
    .tokenize(
      subset.map((d) => d.text),
      { role: "passage" },
    )
    .reduce((a, r) => a + r.length, 0);
  t = performance.now();
  const dense = await Collection.openOrCreate("dense", { home, model: enc });
  await addDocuments(dense, subset, { batchSize: 256 });
  await dense.close();
  s = (performance.now() - t) / 1000;
  t = performance.now();
  await enc.embed(
    subset.map((d) => d.text),
    { role: "passage" },
  );
  const encodeOnly = (performance.now() - t) / 1000;
  await enc.close();
  console.log(
    `e5-small-shaped (random)  ${subset.length} docs  ${fmt(s)} s  ${fmt(subset.length / s)} docs/s  ` +
      `(${fmt(tokens / subset.length, 0)} tokens/doc; encoding alone ${fmt(subset.length / encodeOnly)} docs/s, ${fmt((100 * encodeOnly) / s, 0)}% of the time)`,
  );
}

// ---------------------------------------------------------------------------------------------
// 2./3. Exact and ANN search over random vectors
// ---------------------------------------------------------------------------------------------

function randomUnit(n: number, seed: number): Float32Array {
  const r = new Rng(seed);
  const v = new Float32Array(n * DIM);
  for (let i = 0; i < v.length; i++) v[i] = r.normal();
  return normalizeRows(v, DIM);
}

async function lanceTable(vectors: Float32Array, n: number): Promise<lancedb.Table> {
  const db = await lancedb.connect(join(root, `lance-${n}`));
  const schema = new arrow.Schema([
    new arrow.Field("id", new arrow.Int32(), false),
    new arrow.Field("vector", vectorType(DIM), false),
  ]);
  const table = await db.createEmptyTable("v", schema, { mode: "overwrite" });
  const per = 100_000;
  for (let s = 0; s < n; s += per) {
    const m = Math.min(per, n - s);
    await table.add(
      tableOf(schema, m, [
        { int32: Int32Array.from({ length: m }, (_, i) => s + i) },
        { vectors: vectors.subarray(s * DIM, (s + m) * DIM) },
      ]),
    );
  }
  return table;
}

async function timeQueries(
  qs: Float32Array,
  run: (q: Float32Array) => Promise<unknown> | unknown,
): Promise<number[]> {
  const ms: number[] = [];
  for (let i = 0; i < qs.length / DIM; i++) {
    const q = qs.subarray(i * DIM, (i + 1) * DIM);
    const t = performance.now();
    await run(q);
    ms.push(performance.now() - t);
  }
  return ms;
}

async function searching(): Promise<void> {
  console.log(
    `\n## Dense search over random ${DIM}-dim unit vectors, top 10, ${queries} queries, one query at a time`,
  );
  const qs = randomUnit(queries, 99);
  for (const n of sizes) {
    const vectors = randomUnit(n, n);
    const chunkDoc = Int32Array.from({ length: n }, (_, i) => i);
    const scores = new Float64Array(n);
    const exact = (q: Float32Array) =>
      topDocs(dotAll(vectors, DIM, q, scores), chunkDoc, n, MAX_SCORE, 10, null);
    exact(qs.subarray(0, DIM)); // warm-up (JIT)
    const ms = await timeQueries(qs, exact);
    console.log(
      `exact (xlir, TypeScript)   N=${n}  median ${fmt(median(ms), 2)} ms  ${fmt(1000 / median(ms))} QPS`,
    );
    const truth = Array.from({ length: queries }, (_, i) => {
      const s = dotAll(vectors, DIM, qs.subarray(i * DIM, (i + 1) * DIM));
      return new Set(
        topK(
          Array.from({ length: n }, (_, j) => j),
          (j) => s[j],
          10,
        ),
      );
    });

    const wantLance = n <= Math.max(...annSizes);
    if (!wantLance) continue;
    let t = performance.now();
    const table = await lanceTable(vectors, n);
    console.log(`  LanceDB table written in ${fmt((performance.now() - t) / 1000)} s`);
    const flat = await timeQueries(qs.subarray(0, 10 * DIM), (q) =>
      table.vectorSearch(q).distanceType("dot").limit(10).select(["id", "_distance"]).toArray(),
    );
    console.log(
      `flat (LanceDB, no index)   N=${n}  median ${fmt(median(flat), 2)} ms  ${fmt(1000 / median(flat))} QPS  (xlir exact is ${fmt(median(flat) / median(ms))}x faster)`,
    );

    const recallOf = async (label: string, run: (q: Float32Array) => Promise<{ id: number }[]>) => {
      let hit = 0;
      const found: { id: number }[][] = [];
      const times = await timeQueries(qs, async (q) => found.push(await run(q)));
      found.forEach((f, i) => (hit += f.filter((x) => truth[i].has(x.id)).length));
      console.log(
        `${label.padEnd(42)} recall@10 ${fmt(hit / (10 * queries), 3)}  median ${fmt(median(times), 2)} ms  ${fmt(1000 / median(times))} QPS`,
      );
    };
    t = performance.now();
    await table.createIndex("vector", {
      config: lancedb.Index.ivfPq({
        distanceType: "dot",
        numPartitions: Math.round(Math.sqrt(n)),
        numSubVectors: DIM / 8,
      }),
    });
    console.log(
      `  IVF-PQ (${Math.round(Math.sqrt(n))} partitions, ${DIM / 8} sub-vectors) built in ${fmt((performance.now() - t) / 1000)} s`,
    );
    for (const [nprobes, refine] of [
      [20, 1],
      [20, 10],
      [50, 10],
      [100, 20],
    ]) {
      await recallOf(`ivf_pq nprobes ${nprobes} refine ${refine}`, (q) =>
        table
          .vectorSearch(q)
          .distanceType("dot")
          .limit(10)
          .nprobes(nprobes)
          .refineFactor(refine)
          .select(["id", "_distance"])
          .toArray(),
      );
    }
    t = performance.now();
    await table.createIndex("vector", {
      // cosine: LanceDB 0.30's HNSW-SQ under "dot" returns unrelated rows (the vectors are unit length)
      config: lancedb.Index.hnswSq({
        distanceType: "cosine",
        numPartitions: Math.max(1, Math.round(n / 100_000)),
      }),
      replace: true,
    });
    console.log(`  HNSW-SQ built in ${fmt((performance.now() - t) / 1000)} s`);
    for (const ef of [40, 100, 300]) {
      await recallOf(`hnsw_sq ef ${ef}`, (q) =>
        table.vectorSearch(q).distanceType("cosine").limit(10).ef(ef).select(["id", "_distance"]).toArray(),
      );
    }
    table.close();
  }
}

await indexing();
await searching();
