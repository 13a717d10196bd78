// Multi-vector search at scale (src/index/multi-vector.ts): exact MaxSim over every document vs
// PLAID-style candidate generation + re-scoring, on >= 20k real sentences (XQuAD-R candidates in 11
// languages, then FLORES-200 devtest lines) with XQuAD-R questions as queries.
//
// Token vectors come from a tiny random ColBERT (BERT backbone, hidden 64, 2 layers, a whole-word
// vocabulary of the corpus, linear.weight [32, 64]) loaded by ColbertModel: the vectors carry real
// text structure (same word, similar context → similar vector), not trained semantics, so the
// recall figures measure how well PLAID approximates exact MaxSim, not retrieval quality.
//
//   npm run bench:colbert [-- --quick] [--docs N] [--queries N] [--centroids N]

import { mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { dirname, join, resolve } from "node:path";
import { fileURLToPath } from "node:url";
import { ColbertModel, type TokenVectors } from "../src/encode/colbert.ts";
import { loadLareqa } from "../src/eval/datasets/lareqa.ts";
import {
  buildPlaidIndex,
  defaultCentroids,
  exactMaxSim,
  packDocuments,
  plaidBytesPerToken,
  plaidIndexBytes,
  searchPlaid,
  topK,
} from "../src/index/multi-vector.ts";
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

function wordsByCount(texts: string[]): string[] {
  const counts = new Map<string, number>();
  for (const t of texts)
    for (const w of t.toLowerCase().match(/[\p{L}\p{N}]+|[^\s\p{L}\p{N}]/gu) ?? [])
      counts.set(w, (counts.get(w) ?? 0) + 1);
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
const m = packDocuments(docVecs, DIM);
const nTokens = m.dims[0];
console.log(
  `${texts.length} documents, ${nTokens} tokens (${fmt(nTokens / texts.length)} per doc), ${questions.length} queries x 32 tokens; encoded in ${fmt(encodeS)} s`,
);

const centroids = int("centroids", Math.min(2048, defaultCentroids(nTokens)));
t = performance.now();
const index = buildPlaidIndex(m.tokens, m.dims, m.docOffsets, { centroids, seed: 1 });
const buildS = secs(t);
console.log(
  `PLAID index: ${centroids} centroids (PLAID default ${defaultCentroids(nTokens)}), 2 bits, built in ${fmt(buildS)} s`,
);

t = performance.now();
const exact = qVecs.map((q) => topK(exactMaxSim(q, m), 10));
const exactS = secs(t);
const exactQps = qVecs.length / exactS;

interface Setting {
  nprobe: number;
  candidates: number;
  rescore: "decompressed" | "exact";
}
const settings: Setting[] = [
  { nprobe: 2, candidates: 128, rescore: "decompressed" },
  { nprobe: 4, candidates: 256, rescore: "decompressed" },
  { nprobe: 8, candidates: 1024, rescore: "decompressed" },
  { nprobe: 4, candidates: 256, rescore: "exact" },
];
const results = settings.map((s) => {
  let hit = 0;
  let generated = 0;
  const t0 = performance.now();
  const runs = qVecs.map((q) => searchPlaid(index, q, 10, { ...s, exactTokens: m.tokens }));
  const elapsed = secs(t0);
  runs.forEach((r, i) => {
    const want = new Set(exact[i].ids);
    hit += [...r.ids].filter((d) => want.has(d)).length;
    generated += r.generated;
  });
  return {
    ...s,
    qps: qVecs.length / elapsed,
    recall_at_10: hit / (qVecs.length * 10),
    generated_per_query: generated / qVecs.length,
  };
});

const bytesExact = 4 * DIM;
const bytesPlaid = plaidBytesPerToken(index);
printTable([
  ["method", "bytes/token", "QPS", "recall@10 vs exact", "docs generated / rescored"],
  ["exact MaxSim (f32)", String(bytesExact), fmt(exactQps, 2), "1.000", `${texts.length} / ${texts.length}`],
  ...results.map((r) => [
    `PLAID nprobe ${r.nprobe}, ${r.rescore}`,
    r.rescore === "exact" ? `${bytesPlaid} (+${bytesExact} kept)` : String(bytesPlaid),
    fmt(r.qps, 1),
    fmt(r.recall_at_10, 3),
    `${fmt(r.generated_per_query, 0)} / ${Math.min(r.candidates, Math.round(r.generated_per_query))}`,
  ]),
]);
const c = cpu();
console.log(`CPU: ${c.model} [${c.flags.join(" ")}]`);
console.log(
  JSON.stringify({
    bench: "colbert",
    docs: texts.length,
    tokens: nTokens,
    queries: qVecs.length,
    dim: DIM,
    centroids,
    encode_s: encodeS,
    build_s: buildS,
    bytes_per_token_exact: bytesExact,
    bytes_per_token_plaid: bytesPlaid,
    plaid_index_bytes: plaidIndexBytes(index),
    exact_qps: exactQps,
    plaid: results,
    cpu: c,
    options: opts,
  }),
);
