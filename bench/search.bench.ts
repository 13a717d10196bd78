// Exact and ANN dense search figures (printed, never asserted), on clustered synthetic vectors: a
// mixture of Gaussians around n/500 random unit centres (2000 at 1M), each point centre + noise of
// norm ~sigma (default 0.5: cosine ~0.9 to its centre), unit-normalised; queries are fresh points of
// the same mixture. Uniform random vectors have no neighbourhoods for an index to find; embeddings
// do, and this is the simplest set that has them.
//
//   1. the machine's read bandwidth: a plain sum over as many bytes as the vectors (TypeScript, one
//      thread; ONNX Runtime ReduceSum, one thread, and one per core in processes at once: ReduceSum
//      runs on one thread), the best of them is "bandwidth";
//   2. exact search (scan-search.ts): one query at a time and batched, ms/query, GB/s of vectors
//      read, and the fraction of bandwidth; beside the double-precision TypeScript loop it replaced;
//      and documents scored by the sum of their best 2 chunks (searchDocs), before and now;
//   3. the int8 option (int8-scan.ts): speed and recall@10 against exact, by re-scoring depth;
//   4. ANN through LanceDB (lance-store.ts vectorIndexConfig, ANN_DEFAULTS, queried as search.ts
//      does: 4x over-fetch, exact re-scoring): build time, recall@10, QPS and its ratio to exact.
//
//   npm run bench:search -- [--n 1000000] [--queries 100] [--single 10] [--sigma 0.5]
//        [--ann ivf_pq,hnsw_sq|none] [--sweep] [--threads N]

import { mkdtempSync, rmSync } from "node:fs";
import { availableParallelism, tmpdir } from "node:os";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import * as lancedb from "@lancedb/lancedb";
import { arrow, int32sOf, tableOf, vectorType, vectorsOf } from "../src/index/arrow.ts";
import { MAX_SCORE } from "../src/index/doc-score.ts";
import { dotAll, normalizeRows, topDocs } from "../src/index/exact-search.ts";
import { Int8Scan, quantizeRows } from "../src/index/int8-scan.ts";
import { ANN_DEFAULTS, annQuery, vectorIndexConfig } from "../src/index/lance-store.ts";
import { ScanSearch, searchDocs, type TopK } from "../src/index/scan-search.ts";
import { Rng } from "../src/models/random.ts";
import { Graph } from "../src/tensor/graph.ts";
import { reduceSum } from "../src/tensor/ops.ts";
import { Session } from "../src/tensor/session.ts";
import { cpu, fmt, median, onExit, parseOptions, printTable } from "./util.ts";
import { forkChild, WorkerHandle } from "./worker.ts";

const { opts, int } = parseOptions(process.argv.slice(2), [
  "n",
  "queries",
  "single",
  "sigma",
  "ann",
  "sweep",
  "threads",
]);
const N = int("n", 1_000_000);
const QUERIES = int("queries", 100);
const SINGLE = int("single", 10);
const SIGMA = Number(opts.sigma ?? 0.5);
const ANN = (opts.ann ?? "ivf_pq,hnsw_sq").split(",").filter((t) => t === "ivf_pq" || t === "hnsw_sq");
const SWEEP = opts.sweep === "1" || opts.sweep === "true";
const THREADS = int("threads", availableParallelism());
const DIM = 384;
const K = 10;
const BYTES = N * DIM * 4;

const root = mkdtempSync(join(tmpdir(), "xlir-bench-search-"));
onExit(() => rmSync(root, { recursive: true, force: true }));

/** `n` points of the mixture (the centres drawn once from `rng`'s start). */
function clustered(rng: Rng, centres: Float32Array, n: number): Float32Array {
  const c = centres.length / DIM;
  const v = new Float32Array(n * DIM);
  const noise = SIGMA / Math.sqrt(DIM);
  for (let r = 0; r < n; r++) {
    const at = Math.floor(rng.next() * c) * DIM;
    for (let j = 0; j < DIM; j++) v[r * DIM + j] = centres[at + j] + noise * rng.normal();
  }
  return normalizeRows(v, DIM);
}

/** Milliseconds of each call of `f` (after one warm-up call). */
async function times(count: number, f: (i: number) => Promise<unknown> | unknown): Promise<number[]> {
  await f(0);
  const ms: number[] = [];
  for (let i = 0; i < count; i++) {
    const t = performance.now();
    await f(i);
    ms.push(performance.now() - t);
  }
  return ms;
}

const gbps = (bytes: number, ms: number) => bytes / ms / 1e6;

/** recall@10 of `found` (row ids per query) against the exact top 10. */
function recall(truth: TopK, found: (q: number) => ArrayLike<number>, queries: number): number {
  let hit = 0;
  for (let q = 0; q < queries; q++) {
    const want = new Set(truth.index.subarray(q * truth.k, q * truth.k + K));
    for (const r of Array.from(found(q)).slice(0, K)) if (want.has(r)) hit++;
  }
  return hit / (K * queries);
}

const { model, flags } = cpu();
console.log(`# Dense search, ${N} x ${DIM} clustered vectors (sigma ${SIGMA}), top ${K}, ${THREADS} threads`);
console.log(`CPU: ${model}; flags: ${flags.join(" ")}`);
console.log(
  `avx512_vnni: ${flags.includes("avx512_vnni") ? "yes" : "no"}, avx512_bf16: ${flags.includes("avx512_bf16") ? "yes" : "no"}`,
);

let t = performance.now();
const rng = new Rng(17);
const centres = normalizeRows(
  Float32Array.from({ length: Math.max(1, Math.round(N / 500)) * DIM }, () => rng.normal()),
  DIM,
);
const vectors = clustered(rng, centres, N);
const queries = clustered(rng, centres, Math.max(QUERIES, SINGLE));
const query = (i: number) => queries.subarray(i * DIM, (i + 1) * DIM);
console.log(`data: ${centres.length / DIM} centres, generated in ${fmt((performance.now() - t) / 1000)} s`);

// 1. bandwidth
const sumJs = () => {
  let s0 = 0;
  let s1 = 0;
  let s2 = 0;
  let s3 = 0;
  for (let i = 0; i < vectors.length; i += 4) {
    s0 += vectors[i];
    s1 += vectors[i + 1];
    s2 += vectors[i + 2];
    s3 += vectors[i + 3];
  }
  return s0 + s1 + s2 + s3;
};
const reduceSession = async () => {
  const g = new Graph("sum");
  g.output(reduceSum(g.input("x", "float32", [N * DIM]), [0]), "s");
  const s = await Session.create(g, { threads: 1 });
  return () => s.run({ x: { dtype: "float32", dims: [N * DIM], data: vectors } });
};
/** `threads` processes summing arrays of their own (as many bytes as the vectors in all) at once. */
const parallelSum = async (threads: number) => {
  const floats = String(Math.ceil((N * DIM) / threads));
  const here = fileURLToPath(new URL("./sum-worker.ts", import.meta.url));
  const workers = Array.from(
    { length: threads },
    () => new WorkerHandle<object, { type: "ready" | "done" }>(forkChild(here, [floats])),
  );
  onExit(() => workers.forEach((w) => w.kill()));
  await Promise.all(workers.map((w) => w.ask("ready")));
  return {
    sum: () => Promise.all(workers.map((w) => w.ask("done", {}))),
    close: () => workers.forEach((w) => w.close()),
  };
};
const parallel = await parallelSum(THREADS);
const sums: [string, () => unknown][] = [
  ["TypeScript sum, 1 thread", sumJs],
  ["ReduceSum, 1 thread", await reduceSession()],
  [`ReduceSum, ${THREADS} processes at once`, parallel.sum],
];
const bwRows = [["plain sum over the vectors", "ms", "GB/s"]];
let bandwidth = 0;
for (const [label, f] of sums) {
  const ms = Math.min(...(await times(3, f)));
  bandwidth = Math.max(bandwidth, gbps(BYTES, ms));
  bwRows.push([label, fmt(ms), fmt(gbps(BYTES, ms), 2)]);
}
console.log(`\n## Read bandwidth (${fmt(BYTES / 2 ** 30, 2)} GiB of vectors): ${fmt(bandwidth, 2)} GB/s`);
printTable(bwRows);
parallel.close();

// 2. exact search
const scan = await ScanSearch.create({ threads: THREADS });
const rows = [["exact search", "ms/query", "GB/s", "% of bandwidth", "x the TS loop"]];
const chunkDoc = Int32Array.from({ length: N }, (_, i) => i);
const loop = await times(2, (i) => topDocs(dotAll(vectors, DIM, query(i)), chunkDoc, N, MAX_SCORE, K, null));
const loopMs = median(loop);
const row = (label: string, ms: number, perQueryBytes = BYTES) =>
  rows.push([
    label,
    fmt(ms, 2),
    fmt(gbps(perQueryBytes, ms), 2),
    fmt((100 * gbps(perQueryBytes, ms)) / bandwidth, 0),
    fmt(loopMs / ms, 1),
  ]);
row("TypeScript double loop + topDocs (before)", loopMs);
const single = await times(SINGLE, (i) => scan.topK(vectors, DIM, query(i), K));
const exactMs = median(single);
row("scan, one query", exactMs);
t = performance.now();
const truth = await scan.topK(vectors, DIM, queries.subarray(0, QUERIES * DIM), K);
const batchMs = (performance.now() - t) / QUERIES;
row(`scan, ${QUERIES} queries batched (GB/s: vector bytes scored)`, batchMs);
// documents scored by the sum of their best 2 chunks (4 chunks a document): the double loop before
const docOf = Int32Array.from({ length: N }, (_, i) => i % Math.ceil(N / 4));
const SUM2 = { kind: "sum", top: 2 } as const;
const sumDocs = (i: number) =>
  topDocs(dotAll(vectors, DIM, query(i)), docOf, Math.ceil(N / 4), SUM2, K, null);
row("sum:2 documents, 4 chunks each: double loop + topDocs (before)", median(await times(2, sumDocs)));
const sumScan = (i: number) => searchDocs(scan, vectors, query(i), docOf, Math.ceil(N / 4), SUM2, K, null);
row("sum:2 documents: scan + double re-score of the candidates", median(await times(SINGLE, sumScan)));
console.log(`\n## Exact search`);
printTable(rows);

// 3. int8 option
t = performance.now();
const q8 = quantizeRows(vectors, DIM);
console.log(`\n## int8 copy, then exact re-scoring (quantized in ${fmt((performance.now() - t) / 1000)} s)`);
const i8 = await Int8Scan.create({ threads: THREADS });
const i8Rows = [["int8 scan", "depth", "ms/query", "x exact", "recall@10"]];
const oneI8 = await times(SINGLE, (i) => i8.topK(q8, vectors, query(i), K));
i8Rows.push(["one query", String(10 * K), fmt(median(oneI8), 2), fmt(exactMs / median(oneI8), 2), "-"]);
for (const depth of [K, 5 * K, 10 * K, 50 * K]) {
  t = performance.now();
  const got = await i8.topK(q8, vectors, queries.subarray(0, QUERIES * DIM), K, { depth });
  const ms = (performance.now() - t) / QUERIES;
  const r = recall(truth, (q) => got.index.subarray(q * K, q * K + K), QUERIES);
  i8Rows.push([`${QUERIES} batched`, String(depth), fmt(ms, 2), fmt(batchMs / ms, 2), fmt(r, 3)]);
}
printTable(i8Rows);
await i8.close();

// 4. ANN through LanceDB
if (ANN.length) {
  console.log(`\n## ANN (LanceDB), one query at a time, ${K * 4} rows fetched and re-scored exactly`);
  console.log(`exact search: ${fmt(1000 / exactMs)} QPS (one query)`);
  const db = await lancedb.connect(join(root, "lance"));
  const schema = new arrow.Schema([
    new arrow.Field("id", new arrow.Int32(), false),
    new arrow.Field("vector", vectorType(DIM), false),
  ]);
  const table = await db.createEmptyTable("v", schema, { mode: "overwrite" });
  for (let s = 0; s < N; s += 100_000) {
    const m = Math.min(100_000, N - s);
    await table.add(
      tableOf(schema, m, [
        { int32: Int32Array.from({ length: m }, (_, i) => s + i) },
        { vectors: vectors.subarray(s * DIM, (s + m) * DIM) },
      ]),
    );
  }
  for (const type of ANN) {
    t = performance.now();
    await table.createIndex("vector", { config: vectorIndexConfig(type, N, DIM), replace: true });
    console.log(`${type} built in ${fmt((performance.now() - t) / 1000)} s`);
    const settings =
      type === "ivf_pq"
        ? [
            { nprobes: ANN_DEFAULTS.nprobes, refineFactor: ANN_DEFAULTS.refineFactor },
            ...(SWEEP
              ? [
                  { nprobes: 20, refineFactor: 10 },
                  { nprobes: 30, refineFactor: 10 },
                  { nprobes: 100, refineFactor: 10 },
                  { nprobes: ANN_DEFAULTS.nprobes, refineFactor: 30 },
                ]
              : []),
          ]
        : [{ ef: ANN_DEFAULTS.ef }, ...(SWEEP ? [{ ef: 50 }, { ef: 300 }] : [])];
    const annRows = [["index", "setting", "recall@10", "ms/query", "QPS", "x exact QPS"]];
    for (const s of settings) {
      const found: Int32Array[] = [];
      const ms = await times(QUERIES, async (i) => {
        const res = await annQuery(table, query(i), K * 4, { type, ...s })
          .select(["id", "vector"])
          .toArrow();
        const scores = dotAll(vectorsOf(res, "vector", DIM), DIM, query(i));
        const ids = int32sOf(res, "id");
        found[i] = Int32Array.from(
          Array.from(ids.keys())
            .sort((a, b) => scores[b] - scores[a] || ids[a] - ids[b])
            .slice(0, K),
          (j) => ids[j],
        );
      });
      const m = median(ms);
      annRows.push([
        type,
        Object.entries(s)
          .map(([k, v]) => `${k} ${v}`)
          .join(", "),
        fmt(
          recall(truth, (q) => found[q], QUERIES),
          3,
        ),
        fmt(m, 2),
        fmt(1000 / m),
        fmt(exactMs / m, 1),
      ]);
    }
    printTable(annRows);
  }
  table.close();
}
await scan.close();
