// PostgreSQL (pgvector HNSW) next to the embedded store (LanceDB) on the same collection (figures
// printed, never asserted):
//   - data: every XQuAD-R sentence (11 languages, 13,014) plus the FLORES-200 devtest sentences of
//     the same 11 languages (11,132): 24,146 one-chunk documents, each language 7-10% of the rows;
//     embedded by a small random BERT (hidden 128, 2 layers, 2 heads, FFN 512, WordPiece over the
//     corpus' own words: real text, real token lengths, vectors with the structure the encoder
//     gives them, not retrieval quality), cosine, 128 dims;
//   - the same collection built twice through the library (Collection.openOrCreate + addDocuments):
//     embedded, and PostgreSQL on PGlite served over the wire (test/helpers/pglite.ts), then the ANN
//     indexes: LanceDB's IVF-PQ and HNSW-SQ (one after the other: one index at a time), pgvector's
//     HNSW (m 16, ef_construction 64) and HNSW over binary-quantised vectors (hnsw_bq: Hamming
//     candidates, k x refine of them, re-ranked by the full vectors in the same query); build
//     times printed;
//   - searchDetailed, k 10, dense, XQuAD-R questions in the filter's language, one query at a time:
//     with the filter lang=<--lang> (about 10% of the rows: the queries' own language), with
//     lang=<--cross> (another ~10%: a cross-lingual search, whose allowed rows are mostly not the
//     query's nearest, the hard case for a filtered graph search) and without: exact (ann: false) and ANN
//     at a few settings in each store (IVF-PQ nprobes/refine 20/10 and 50/20; HNSW ef 40, 100,
//     200; HNSW-BQ refine 10 and 40); recall@10 of ANN against the same store's exact search, QPS, p50/p99 latency, and QPS
//     relative to the same store's exact search measured in the same rounds (each index's settings
//     and exact search take turns, --rounds times: the machine may be shared); PostgreSQL's exact
//     results are checked against the embedded store's (same ids and scores).
// The PostgreSQL here is PGlite: PostgreSQL 17 + pgvector 0.8 compiled to WebAssembly, running in
// this process (one thread, shared with the client), so its absolute figures are PGlite's, not a
// server's. Exact search scores every vector in this process in the embedded store, and runs in SQL
// in PostgreSQL (a full scan, the language filter in its WHERE, the hits re-scored here).
//
//   npm run bench:pg -- [--quick] [--docs 24146] [--queries 200] [--rounds 2] [--lang de] [--cross zh]
//        [--threads N]
// --quick: 6,000 documents and 100 queries: about a minute on 2 idle cores (the full run: about 4
// minutes, twice that on a busy machine).

import { mkdtempSync, readFileSync, rmSync } from "node:fs";
import { availableParallelism, loadavg, tmpdir } from "node:os";
import { dirname, join, resolve } from "node:path";
import { fileURLToPath } from "node:url";
import pg from "pg";
import { Encoder } from "../src/encode/encoder.ts";
import { loadLareqa } from "../src/eval/datasets/lareqa.ts";
import { Collection } from "../src/index/collection.ts";
import { addDocuments, buildAnnIndex } from "../src/index/indexer.ts";
import type { InputDoc } from "../src/index/ingest.ts";
import { searchDetailed, type SearchOptions } from "../src/index/search.ts";
import type { AnnType } from "../src/index/store.ts";
import type { LocateOptions } from "../src/index/stores.ts";
import { startPglite, type PgliteServer } from "../test/helpers/pglite.ts";
import { cpu, fmt, median, onExit, parseOptions, printTable, wordBertDir, wordsByCount } from "./util.ts";

const DATA = resolve(dirname(fileURLToPath(import.meta.url)), "..", "..", "shared", "data");
const XQUAD = join(DATA, "xquad-r");
const FLORES = join(DATA, "flores200", "devtest");
/** XQuAD-R's languages and their FLORES-200 files. */
const FLORES_OF: Record<string, string> = {
  ar: "arb_Arab",
  de: "deu_Latn",
  el: "ell_Grek",
  en: "eng_Latn",
  es: "spa_Latn",
  hi: "hin_Deva",
  ru: "rus_Cyrl",
  th: "tha_Thai",
  tr: "tur_Latn",
  vi: "vie_Latn",
  zh: "zho_Hans",
};
const SHAPE = { hidden: 128, layers: 2, heads: 2, ffn: 512 };
const K = 10;
const WARMUP = 5;

const argv = process.argv.slice(2);
const quick = argv.includes("--quick");
const { opts, int } = parseOptions(
  argv.filter((a) => a !== "--quick"),
  ["docs", "queries", "rounds", "lang", "cross", "threads"],
);
const nDocs = int("docs", quick ? 6000 : 1_000_000);
const nQueries = int("queries", quick ? 100 : 200);
const rounds = int("rounds", 2);
const lang = opts.lang ?? "de";
if (!(lang in FLORES_OF))
  throw new Error(`--lang ${lang}: give one of XQuAD-R's languages (${Object.keys(FLORES_OF).join(", ")})`);
const cross = opts.cross ?? (lang === "zh" ? "en" : "zh");
if (!(cross in FLORES_OF) || cross === lang)
  throw new Error(`--cross ${cross}: give another of XQuAD-R's languages than --lang ${lang}`);
const threads = int("threads", availableParallelism());

const root = mkdtempSync(join(tmpdir(), "xlir-bench-pg-"));
onExit(() => rmSync(root, { recursive: true, force: true }));
const log = (m: string) => console.error(`[bench:pg] ${m}`);
const seconds = (t: number) => (performance.now() - t) / 1000;

// ---------------------------------------------------------------------------------------------
// Data and model
// ---------------------------------------------------------------------------------------------

const xquad = loadLareqa(XQUAD);
/** XQuAD-R and FLORES-200 sentences; with --docs, every k-th of them (each language keeps its share). */
function corpus(): InputDoc[] {
  const all: InputDoc[] = xquad.flatMap((l) =>
    l.candidates.map((c) => ({ id: `xquad:${c.id}`, text: c.text, lang: c.lang, source: c.id })),
  );
  for (const [code, file] of Object.entries(FLORES_OF)) {
    const lines = readFileSync(join(FLORES, `${file}.devtest`), "utf8")
      .split("\n")
      .filter(Boolean);
    lines.forEach((text, i) => all.push({ id: `flores:${code}/${i}`, text, lang: code, source: file }));
  }
  if (nDocs >= all.length) return all;
  const step = all.length / nDocs;
  return Array.from({ length: nDocs }, (_, i) => all[Math.floor(i * step)]);
}

// ---------------------------------------------------------------------------------------------
// Measuring
// ---------------------------------------------------------------------------------------------

interface Run {
  /** Ids and scores of each query's hits (first round). */
  ids: string[][];
  scores: number[][];
  /** Every query's latency, all rounds. */
  ms: number[];
  /** Queries per second of each round, and their median. */
  roundQps: number[];
  qps: number;
}

/**
 * Each of `configs` over every query, one query at a time, in `rounds` interleaved rounds (config
 * A's queries, B's, ..., then again), after a few untimed queries of each (caches, compiled code):
 * a slow patch of the machine then hits every config rather than one.
 */
async function measure(col: Collection, queries: string[], configs: SearchOptions[]): Promise<Run[]> {
  const full = configs.map((o): SearchOptions => ({ k: K, mode: "dense", lang, ...o }));
  for (const o of full) for (const q of queries.slice(0, WARMUP)) await searchDetailed(col, q, o);
  const runs: Run[] = full.map(() => ({ ids: [], scores: [], ms: [], roundQps: [], qps: 0 }));
  for (let r = 0; r < rounds; r++)
    for (const [c, o] of full.entries()) {
      const t0 = performance.now();
      for (const q of queries) {
        const t = performance.now();
        const hits = (await searchDetailed(col, q, o)).hits;
        runs[c].ms.push(performance.now() - t);
        if (r === 0) {
          runs[c].ids.push(hits.map((h) => h.id));
          runs[c].scores.push(hits.map((h) => h.score));
        }
      }
      runs[c].roundQps.push(queries.length / seconds(t0));
    }
  for (const x of runs) x.qps = median(x.roundQps);
  return runs;
}

/** Found / asked over all queries: the exact top k found by the ANN search. */
function recall(ann: Run, exact: Run): number {
  let found = 0;
  let total = 0;
  exact.ids.forEach((e, i) => {
    const got = new Set(ann.ids[i]);
    found += e.filter((id) => got.has(id)).length;
    total += e.length;
  });
  return total === 0 ? NaN : found / total;
}

const p99 = (ms: number[]) =>
  [...ms].sort((a, b) => a - b)[Math.min(ms.length - 1, Math.floor(0.99 * ms.length))];

// ---------------------------------------------------------------------------------------------

async function main(): Promise<void> {
  const docs = corpus();
  const share = (l: string) => docs.filter((d) => d.lang === l).length / docs.length;
  const pool = xquad.find((l) => l.lang === lang)!.questions;
  const step = pool.length / Math.min(nQueries, pool.length);
  const queries = Array.from(
    { length: Math.min(nQueries, pool.length) },
    (_, i) => pool[Math.floor(i * step)].text,
  );
  const c = cpu();
  const loadStart = loadavg()[0];
  console.log(
    `# xlir bench:pg: ${c.model} (${c.flags.join(" ") || "no AVX flags"}), ${availableParallelism()} cores, ${threads} ORT threads, Node ${process.version}`,
  );

  log(`model: random BERT ${JSON.stringify(SHAPE)} over the corpus' words`);
  const model = wordBertDir(join(root, "mini"), SHAPE, wordsByCount(docs.map((d) => d.text)), 7);
  const enc = await Encoder.load(model, { threads, batchSize: 64, warn: () => {} });
  const server: PgliteServer = await startPglite();
  const versions = new pg.Client({ connectionString: server.url });
  await versions.connect();
  const pgVersion = (await versions.query<{ v: string }>("SELECT current_setting('server_version') AS v"))
    .rows[0].v;
  const vectorVersion = (
    await versions.query<{ v: string }>(
      "SELECT default_version AS v FROM pg_available_extensions WHERE name = 'vector'",
    )
  ).rows[0].v;
  await versions.end();
  console.log(
    `PostgreSQL ${pgVersion} + pgvector ${vectorVersion} is PGlite (WebAssembly, in this process, one thread shared with the client, over the wire via pglite-socket): absolute PostgreSQL figures are PGlite's, not a server's.`,
  );

  const stores: { name: string; loc: LocateOptions; anns: { type: AnnType; settings: SearchOptions[] }[] }[] =
    [
      {
        name: "embedded",
        loc: { home: join(root, "home"), store: "" },
        anns: [
          {
            type: "ivf_pq",
            settings: [
              { nprobes: 20, refineFactor: 10 },
              { nprobes: 50, refineFactor: 20 },
            ],
          },
          { type: "hnsw_sq", settings: [{ ef: 40 }, { ef: 100 }, { ef: 200 }] },
        ],
      },
      {
        name: "postgres",
        loc: { store: server.url },
        anns: [
          { type: "hnsw", settings: [{ ef: 40 }, { ef: 100 }, { ef: 200 }] },
          { type: "hnsw_bq", settings: [{ refineFactor: 10 }, { refineFactor: 40 }] },
        ],
      },
    ];

  const build: Record<string, number> = {};
  const buildRows: string[][] = [["store", "step", "s", "chunks/s"]];
  let t = performance.now();
  await enc.embed(
    docs.map((d) => d.text),
    { role: "passage" },
  );
  build.embed_only_s = seconds(t);
  buildRows.push([
    "-",
    "embedding alone (Encoder.embed, for reference)",
    fmt(build.embed_only_s),
    fmt(docs.length / build.embed_only_s, 0),
  ]);
  log(`embedding alone: ${fmt(build.embed_only_s)} s`);

  const cols: Collection[] = [];
  let chunks = 0;
  for (const s of stores) {
    t = performance.now();
    const col = await Collection.openOrCreate("bench", { ...s.loc, model: enc });
    cols.push(col);
    await addDocuments(col, docs, { batchSize: 1000, ann: false });
    build[`${s.name}_index_s`] = seconds(t);
    chunks = (await col.info()).chunks;
    buildRows.push([
      s.name,
      "addDocuments (embed, write, BM25)",
      fmt(build[`${s.name}_index_s`]),
      fmt(chunks / build[`${s.name}_index_s`], 0),
    ]);
    log(`${s.name}: indexed ${chunks} chunks in ${fmt(build[`${s.name}_index_s`])} s`);
  }
  const dims = enc.dim;

  const table: string[][] = [
    ["store", "search", "filter", "recall@10", "QPS", "p50 ms", "p99 ms", "QPS / exact"],
  ];
  const results: Record<string, unknown>[] = [];
  const row = (store: string, what: string, filter: string, r: Run, rc: number | null, vsExact: number) => {
    table.push([
      store,
      what,
      filter,
      rc === null ? "(exact)" : fmt(rc, 3),
      fmt(r.qps, 0),
      fmt(median(r.ms), 2),
      fmt(p99(r.ms), 2),
      fmt(vsExact, 2),
    ]);
    results.push({
      store,
      search: what,
      filter,
      recall_at_10: rc ?? 1,
      qps: r.qps,
      p50_ms: median(r.ms),
      p99_ms: p99(r.ms),
      qps_vs_exact: vsExact,
    });
    log(`${store} ${what} ${filter}: recall ${fmt(rc ?? 1, 3)}, ${fmt(r.qps, 0)} QPS`);
  };

  // Reference floor: the query embeddings alone, one at a time (every search below includes one).
  for (const q of queries.slice(0, WARMUP)) await enc.embed([q], { role: "query" });
  t = performance.now();
  for (const q of queries) await enc.embed([q], { role: "query" });
  const embedQps = queries.length / seconds(t);

  // Each ANN index in turn (a LanceDB table holds one), its settings measured in the same rounds as
  // exact search, with and without the filter: "QPS / exact" compares figures of the same rounds.
  const filters = [lang, cross, "none"];
  const filterOf = (f: string): SearchOptions => (f === "none" ? {} : { filter: [`lang=${f}`] });
  const label = (f: string) => (f === "none" ? "none" : `lang=${f}`);
  /** Per store and filter: the exact results of the first phase, and every phase's exact timings. */
  const exact: Record<string, Run>[] = [];
  for (const [i, s] of stores.entries()) {
    const col = cols[i];
    const ref: Record<string, Run> = {};
    const rowsOfStore: (() => void)[] = [];
    for (const a of s.anns) {
      t = performance.now();
      const unlock = await col.lock();
      try {
        await buildAnnIndex(col, a.type, chunks);
      } finally {
        await unlock();
      }
      const built = seconds(t);
      build[`${s.name}_${a.type}_s`] = built;
      buildRows.push([s.name, `buildAnnIndex ${a.type}`, fmt(built), fmt(chunks / built, 0)]);
      log(`${s.name}: ${a.type} built in ${fmt(built)} s`);
      const configs = [
        ...filters.map((f) => ({ f, o: { ann: false } as SearchOptions })),
        ...a.settings.flatMap((o) => filters.map((f) => ({ f, o: { ann: true, ...o } }))),
      ];
      const runs = await measure(
        col,
        queries,
        configs.map(({ f, o }) => ({ ...filterOf(f), ...o })),
      );
      const phaseExact: Record<string, Run> = {};
      configs.forEach(({ f, o }, c) => {
        if (o.ann) return;
        phaseExact[f] = runs[c];
        if (ref[f] === undefined)
          ref[f] = { ...runs[c], ms: [...runs[c].ms], roundQps: [...runs[c].roundQps] };
        else {
          ref[f].ms.push(...runs[c].ms);
          ref[f].roundQps.push(...runs[c].roundQps);
        }
      });
      configs.forEach(({ f, o }, c) => {
        if (!o.ann) return;
        const { ann: _, ...settings } = o;
        const what = `${a.type} ${Object.entries(settings)
          .map(([k, v]) => `${k === "refineFactor" ? "refine" : k} ${v}`)
          .join(" ")}`;
        const r = runs[c];
        const vsExact = r.qps / phaseExact[f].qps;
        rowsOfStore.push(() => row(s.name, what, label(f), r, recall(r, ref[f]), vsExact));
      });
    }
    for (const f of filters) {
      ref[f].qps = median(ref[f].roundQps);
      row(s.name, "exact", label(f), ref[f], null, 1);
    }
    for (const r of rowsOfStore) r();
    exact.push(ref);
  }

  // PostgreSQL's exact search against the embedded store's: the same ids in the same order, same scores
  let sameIds = 0;
  let maxScoreDiff = 0;
  for (const f of filters) {
    const [a, b] = [exact[0][f], exact[1][f]];
    a.ids.forEach((ids, i) => {
      if (ids.join() === b.ids[i].join()) sameIds++;
      ids.forEach(
        (_, j) => (maxScoreDiff = Math.max(maxScoreDiff, Math.abs(a.scores[i][j] - b.scores[i][j]))),
      );
    });
  }

  const loadEnd = loadavg()[0];
  for (const col of cols) await col.close();
  await enc.close();
  await server.stop();

  console.log(
    `\n## Build: ${docs.length} documents (${chunks} chunks; XQuAD-R + FLORES-200 sentences, 11 languages), random BERT ${SHAPE.hidden}/${SHAPE.layers} layers, ${dims} dims, cosine`,
  );
  printTable(buildRows);
  console.log(
    `\n## Dense search, k ${K}, ${queries.length} XQuAD-R questions (${lang}), one at a time; the filters lang=${lang} and lang=${cross} keep ${fmt(100 * share(lang))}% and ${fmt(100 * share(cross))}% of the rows`,
  );
  printTable(table);
  console.log(
    `QPS: median of ${rounds} rounds (exact: of every round of the store's phases, one per ANN index); p50/p99: over every query of every round. ` +
      `recall@10: against the same store's exact search. QPS / exact: against the same store's exact search, same filter, same rounds. ` +
      `Every search includes embedding its query: ${fmt(embedQps, 0)} queries/s alone. ` +
      `PostgreSQL exact vs embedded exact: ${sameIds}/${filters.length * queries.length} searches with the same ids in the same order, max score difference ${maxScoreDiff.toExponential(1)}. ` +
      `PostgreSQL figures are PGlite's (WebAssembly, in this process), not a server's.`,
  );
  console.log(`load average (1 min): ${fmt(loadStart, 2)} at the start, ${fmt(loadEnd, 2)} at the end`);
  console.log(
    JSON.stringify({
      bench: "pg",
      cpu: c,
      threads,
      rounds,
      load_average: [loadStart, loadEnd],
      postgres: `PGlite: PostgreSQL ${pgVersion}, pgvector ${vectorVersion}`,
      docs: docs.length,
      chunks,
      dims,
      model: SHAPE,
      filters: { [lang]: share(lang), [cross]: share(cross) },
      queries: queries.length,
      k: K,
      build,
      query_embed_qps: embedQps,
      exact_agreement: {
        same_ids: sameIds,
        of: filters.length * queries.length,
        max_score_diff: maxScoreDiff,
      },
      results,
    }),
  );
}

main().then(
  () => process.exit(0),
  (e) => {
    console.error(`bench:pg: ${(e as Error).stack ?? e}`);
    process.exit(1);
  },
);
