// Multi-vector search at scale (src/index/multi-vector.ts): exact MaxSim over every document vs
// PLAID-style candidate generation + re-scoring, on >= 20k real sentences (XQuAD-R candidates in 11
// languages, then FLORES-200 devtest lines) with XQuAD-R questions as queries.
//
// Two token-vector sets over the same texts (the recall figures measure how well PLAID approximates
// exact MaxSim, not retrieval quality):
//
// * "random-colbert": a tiny random ColBERT (BERT backbone, hidden 64, 2 layers, a whole-word
//   vocabulary of the corpus, linear.weight [32, 64]) loaded by ColbertModel. Untrained, its token
//   vectors are nearly parallel (mean pairwise cosine printed below), so MaxSim scores of different
//   documents nearly tie and the exact top 10 is decided by tiny margins: a stress test.
// * "word-hash": a tiny "model" whose vectors are spread like a trained one's: each word type gets a
//   fixed random unit vector w (seeded by a hash of the word), and token t of a text is
//   normalize(w_t + 0.3 (w_{t-1} + w_{t+1})), a little context mixing.
//
//   npm run bench:colbert [-- --quick] [--docs N] [--queries N] [--centroids N]

import { mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { dirname, join, resolve } from "node:path";
import { fileURLToPath } from "node:url";
import { ColbertModel, type TokenVectors } from "../src/encode/colbert.ts";
import { loadLareqa } from "../src/eval/datasets/lareqa.ts";
import {
  type MultiVectors,
  type TokenMatrix,
  buildPlaidIndex,
  defaultCentroids,
  exactMaxSim,
  packDocuments,
  plaidBytesPerToken,
  plaidIndexBytes,
  PLAID_SEARCH_DEFAULTS as D,
  searchPlaid,
  toFloat16,
  topK,
} from "../src/index/multi-vector.ts";
import { normalizeRows } from "../src/index/kmeans.ts";
import { Rng } from "../src/models/random.ts";
import { readSafetensors, writeSafetensors } from "../src/weights/safetensors.ts";
import { cpu, fmt, onExit, parseOptions, printTable, wordBertDir } from "./util.ts";

const SHARED = resolve(dirname(fileURLToPath(import.meta.url)), "..", "..", "shared", "data");
const { opts, int } = parseOptions(
  process.argv.slice(2).filter((a) => a !== "--quick"),
  ["docs", "queries", "centroids"],
);
const quick = process.argv.includes("--quick");
const nDocs = int("docs", quick ? 4000 : 20000);
const nQueries = int("queries", quick ? 30 : 100);
const DIM = 32;

const root = mkdtempSync(join(tmpdir(), "xlir-bench-colbert-"));
onExit(() => rmSync(root, { recursive: true, force: true }));

/** XQuAD-R candidate sentences, then FLORES-200 devtest lines, until `n` texts. */
function corpus(n: number): string[] {
  const texts = loadLareqa(join(SHARED, "xquad-r")).flatMap((l) => l.candidates.map((c) => c.text));
  const flores = join(SHARED, "flores200", "devtest");
  for (const f of readdirSync(flores).sort()) {
    if (texts.length >= n) break;
    texts.push(...readFileSync(join(flores, f), "utf8").split("\n").filter(Boolean));
  }
  if (texts.length < n) throw new Error(`only ${texts.length} texts in ${SHARED}; ask for fewer --docs`);
  return texts.slice(0, n);
}

const words = (t: string) => t.toLowerCase().match(/[\p{L}\p{N}]+|[^\s\p{L}\p{N}]/gu) ?? [];

function wordsByCount(texts: string[]): string[] {
  const counts = new Map<string, number>();
  for (const t of texts) for (const w of words(t)) counts.set(w, (counts.get(w) ?? 0) + 1);
  return [...counts].sort((a, b) => b[1] - a[1] || (a[0] < b[0] ? -1 : 1)).map(([w]) => w);
}

/** A random BERT folder plus a ColBERT head (linear.weight) and artifact.metadata. */
function tinyColbert(texts: string[]): string {
  const dir = wordBertDir(
    join(root, "colbert"),
    { hidden: 64, layers: 2, heads: 2, ffn: 128 },
    wordsByCount(texts),
    11,
  );
  const file = join(dir, "model.safetensors");
  const tensors = readSafetensors(file);
  const rng = new Rng(12);
  const w = Float32Array.from({ length: DIM * 64 }, () => rng.normal() / 8);
  tensors.set("linear.weight", { dims: [DIM, 64], data: w });
  writeSafetensors(file, tensors, { metadata: { format: "pt" } });
  writeFileSync(
    join(dir, "artifact.metadata"),
    JSON.stringify({ dim: DIM, query_maxlen: 32, doc_maxlen: 180 }),
  );
  // ColbertModel defaults to XLM-R's special tokens; these are BERT's
  const specials = {
    cls_token: "[CLS]",
    sep_token: "[SEP]",
    pad_token: "[PAD]",
    mask_token: "[MASK]",
    unk_token: "[UNK]",
  };
  writeFileSync(join(dir, "special_tokens_map.json"), JSON.stringify(specials));
  return dir;
}

const secs = (t: number) => (performance.now() - t) / 1000;

/** FNV-1a hash of a word: the seed of its vector. */
function hash(w: string): number {
  let h = 0x811c9dc5;
  for (let i = 0; i < w.length; i++) h = Math.imul(h ^ w.charCodeAt(i), 0x01000193);
  return h >>> 0;
}

/** The "word-hash" token vectors of `text` (at most `maxLen` words), see the file comment. */
function wordHashVectors(text: string, maxLen: number, cache: Map<string, Float32Array>): MultiVectors {
  const ws = words(text).slice(0, maxLen);
  const w = ws.map((word) => {
    let v = cache.get(word);
    if (!v) {
      const rng = new Rng(hash(word) + 1);
      v = Float32Array.from({ length: DIM }, () => rng.normal());
      normalizeRows(v, 1, DIM);
      cache.set(word, v);
    }
    return v;
  });
  const out = new Float32Array(ws.length * DIM);
  for (let t = 0; t < ws.length; t++)
    for (let d = 0; d < DIM; d++)
      out[t * DIM + d] = w[t][d] + 0.3 * ((w[t - 1]?.[d] ?? 0) + (w[t + 1]?.[d] ?? 0));
  normalizeRows(out, ws.length, DIM);
  return { vectors: out, dims: [ws.length, DIM] };
}

const texts = corpus(nDocs);
const questions = loadLareqa(join(SHARED, "xquad-r"))
  .flatMap((l) => l.questions)
  .filter((_, i, all) => i % Math.floor(all.length / nQueries) === 0)
  .slice(0, nQueries)
  .map((q) => q.text);
let t = performance.now();
const model = await ColbertModel.load(tinyColbert(texts), { batchSize: 64 });
const docVecs: TokenVectors[] = await model.encodeDocuments(texts);
const qVecs = await model.encodeQueries(questions);
await model.close();
const encodeS = secs(t);
const cache = new Map<string, Float32Array>();
const sets = [
  {
    name: "random-colbert",
    what: "tiny random (untrained) ColBERT, queries padded to 32 tokens: near-parallel vectors, a stress test",
    docs: packDocuments(docVecs, DIM),
    queries: qVecs as MultiVectors[],
  },
  {
    name: "word-hash",
    what: "random unit vector per word type + 0.3 x neighbours: vectors spread like a trained model's",
    docs: packDocuments(
      texts.map((x) => wordHashVectors(x, 180, cache)),
      DIM,
    ),
    queries: questions.map((x) => wordHashVectors(x, 32, cache)),
  },
];
console.log(
  `${texts.length} documents, ${questions.length} queries; random ColBERT encoded in ${fmt(encodeS)} s`,
);

/** Mean cosine of `pairs` random token pairs (deterministic). */
function meanPairwiseCosine(m: TokenMatrix, pairs = 100_000): number {
  const rng = new Rng(3);
  const [n, dim] = m.dims;
  let s = 0;
  for (let p = 0; p < pairs; p++) {
    const a = Math.floor(rng.next() * n);
    const b = Math.floor(rng.next() * n);
    let c = 0;
    for (let d = 0; d < dim; d++) c += m.tokens[a * dim + d] * m.tokens[b * dim + d];
    s += c;
  }
  return s / pairs;
}

const median = (xs: number[]) => {
  const s = [...xs].sort((a, b) => a - b);
  return s[Math.floor(s.length / 2)];
};

const json: Record<string, unknown>[] = [];
for (const set of sets) {
  const m = set.docs;
  const nTokens = m.dims[0];
  const queries = set.queries;
  console.log(`\n=== ${set.name}: ${set.what}`);
  console.log(
    `${nTokens} tokens (${fmt(nTokens / texts.length)} per doc), ${fmt(queries.reduce((a, q) => a + q.dims[0], 0) / queries.length)} tokens per query`,
  );

  const centroids = int("centroids", Math.min(2048, defaultCentroids(nTokens)));
  t = performance.now();
  const index = buildPlaidIndex(m.tokens, m.dims, m.docOffsets, { centroids, seed: 1 });
  const buildS = secs(t);
  // the same index plus float16 copies (same k-means, so same codes and residuals)
  const indexF16 = { ...index, float16: toFloat16(m.tokens) };
  searchPlaid(index, queries[0], 10); // derives the decompressed norms once, outside the timings
  console.log(
    `PLAID index: ${centroids} centroids (PLAID default ${defaultCentroids(nTokens)}), 2 bits, built in ${fmt(buildS)} s`,
  );

  t = performance.now();
  const exactScores = queries.map((q) => exactMaxSim(q, m));
  const exactS = secs(t);
  const exactQps = queries.length / exactS;
  const exact = exactScores.map((s) => topK(s, 11));

  // near-tie statistics: how far apart exact ranks 10 and 11 are, against the top-10 spread
  const cos = meanPairwiseCosine(m);
  const gaps = exact.map((h) => h.scores[9] - h.scores[10]);
  const rel = exact.map((h) => (h.scores[9] - h.scores[10]) / Math.max(h.scores[0] - h.scores[10], 1e-9));
  const nq = queries.map((q) => q.dims[0]);
  const stats = {
    mean_pairwise_cosine: cos,
    median_score_rank1: median(exact.map((h) => h.scores[0])),
    median_gap_rank10_11: median(gaps),
    median_gap_per_query_token: median(gaps.map((g, i) => g / nq[i])),
    median_gap_over_top_spread: median(rel),
  };
  console.log(
    `near ties: mean pairwise token cosine ${fmt(cos, 3)}; median exact score at rank 1 ${fmt(stats.median_score_rank1, 3)}, ` +
      `median gap rank 10 - rank 11 ${fmt(stats.median_gap_rank10_11, 4)} (${fmt(stats.median_gap_per_query_token, 5)} per query token, ` +
      `${fmt(100 * stats.median_gap_over_top_spread, 1)}% of the rank 1 - rank 11 spread)`,
  );

  const recallOf = (runs: { ids: Uint32Array }[]) => {
    let hit = 0;
    runs.forEach((r, i) => {
      const want = new Set(exact[i].ids.subarray(0, 10));
      hit += [...r.ids].filter((d) => want.has(d)).length;
    });
    return hit / (runs.length * 10);
  };

  // where the exact top 10 gets lost: candidate generation alone (every generated document
  // re-scored exactly), then the centroid-interaction cut to C (the C re-scored exactly); the
  // table's rows without f16 add the 2-bit re-scoring, those with f16 the float16 pass
  const stages: Record<string, number> = {};
  for (const nprobe of [4, 8, 16]) {
    const all = { nprobe, candidates: Infinity, rescore: "exact" as const, exactTokens: m.tokens };
    stages[`generated nprobe ${nprobe}`] = recallOf(queries.map((q) => searchPlaid(index, q, 10, all)));
  }
  for (const candidates of [512, 2048, 4096]) {
    const o = { nprobe: 8, candidates, rescore: "exact" as const, exactTokens: m.tokens };
    stages[`nprobe 8 + centroid top ${candidates}`] = recallOf(
      queries.map((q) => searchPlaid(index, q, 10, o)),
    );
  }
  console.log(
    "recall@10 by stage: " +
      Object.entries(stages)
        .map(([k, v]) => `${k} ${fmt(v, 3)}`)
        .join("; "),
  );

  interface Setting {
    nprobe: number;
    candidates: number;
    rerank: number;
    /** "float16": every candidate re-scored over float16 copies, as a collection searches. */
    rescore?: "float16";
  }
  const settings: Setting[] = [
    { nprobe: 4, candidates: 512, rerank: 0 },
    { nprobe: 8, candidates: 2048, rerank: 0 },
    { nprobe: 4, candidates: 512, rerank: 40 },
    { nprobe: 8, candidates: 2048, rerank: 100 },
    { nprobe: 8, candidates: 4096, rerank: 100 },
    { nprobe: 8, candidates: 1024, rerank: 0, rescore: "float16" },
    { nprobe: 8, candidates: 2048, rerank: 0, rescore: "float16" },
  ];
  const results = settings.map((s) => {
    const ix = s.rerank || s.rescore ? indexF16 : index;
    const t0 = performance.now();
    const runs = queries.map((q) => searchPlaid(ix, q, 10, s));
    const elapsed = secs(t0);
    return {
      ...s,
      bytes_per_token: plaidBytesPerToken(ix),
      qps: queries.length / elapsed,
      recall_at_10: recallOf(runs),
      generated_per_query: runs.reduce((a, r) => a + r.generated, 0) / runs.length,
      rescored_per_query: runs.reduce((a, r) => a + r.rescored, 0) / runs.length,
    };
  });
  const bytesExact = 4 * DIM;
  printTable([
    ["method", "bytes/token", "QPS", "recall@10 vs exact", "docs generated / 2-bit / f16 scored"],
    ["exact MaxSim (f32)", String(bytesExact), fmt(exactQps, 2), "1.000", `${texts.length}`],
    ...results.map((r) => [
      `PLAID nprobe ${r.nprobe}, C ${r.candidates}` +
        (r.rerank ? `, f16 top ${r.rerank}` : "") +
        (r.rescore ? ", f16 all" : "") +
        (r.nprobe === D.nprobe && r.candidates === D.candidates && [0, 10 * D.rerankPerK].includes(r.rerank)
          ? r.rescore
            ? " (collections' default)"
            : " (default)"
          : ""),
      String(r.bytes_per_token),
      fmt(r.qps, 1),
      fmt(r.recall_at_10, 3),
      r.rescore
        ? `${fmt(r.generated_per_query, 0)} / 0 / ${fmt(r.rescored_per_query, 0)}`
        : `${fmt(r.generated_per_query, 0)} / ${fmt(r.rescored_per_query, 0)} / ${r.rerank}`,
    ]),
  ]);
  const ok = results.filter((r) => r.recall_at_10 >= 0.95 && r.qps > exactQps);
  console.log(
    ok.length
      ? `recall@10 >= 0.95 faster than exact on ${set.name}: ` +
          ok
            .map(
              (r) =>
                `nprobe ${r.nprobe} C ${r.candidates} f16 ${r.rescore ? "all" : r.rerank} (${fmt(r.qps / exactQps, 1)}x)`,
            )
            .join(", ")
      : `no setting reaches recall@10 >= 0.95 faster than exact on ${set.name}`,
  );
  json.push({
    set: set.name,
    tokens: nTokens,
    centroids,
    build_s: buildS,
    bytes_per_token_exact: bytesExact,
    plaid_index_bytes: plaidIndexBytes(index),
    exact_qps: exactQps,
    near_ties: stats,
    stage_recall: stages,
    plaid: results,
  });
}

const c = cpu();
console.log(`\nCPU: ${c.model} [${c.flags.join(" ")}]`);
console.log(
  JSON.stringify({
    bench: "colbert",
    docs: texts.length,
    queries: questions.length,
    dim: DIM,
    encode_s: encodeS,
    sets: json,
    cpu: c,
    options: opts,
  }),
);
