// Long documents (figures printed, never asserted): characters per second of
//   - BM25 analysis (makeAnalyzer: NFC, windowed Intl.Segmenter words, NFKC, stop words, stemming),
//   - BM25 indexing through the real indexer into a fresh BM25 collection (LanceDB commits included),
//   - dense chunking (chunkDocumentsAsync into 512-token windows, overlap 64, counted by a WordPiece
//     tokenizer over the corpus' own words),
// for one document of 10K, 100K and 1M characters of English-like text (FLORES-200 English) and of
// a script without spaces (FLORES-200 Chinese, sentences joined with no space), and the ratio
// time(10x text) / time(text): about 10 when the cost is linear (the bound is 15).
// Baseline, same run: Intl.Segmenter over the whole text (what the analyzer and the chunker did),
// at sizes below its cliff, next to the windowed segmentation of the same text.
//
//   npm run bench:long-docs -- [--sizes 10000,100000,1000000] [--rounds 3]

import { mkdtempSync, readFileSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { dirname, join, resolve } from "node:path";
import { fileURLToPath } from "node:url";
import { chunkDocumentsAsync, type TokenCounter } from "../src/index/chunker.ts";
import { Collection } from "../src/index/collection.ts";
import { addDocuments } from "../src/index/indexer.ts";
import { makeAnalyzer } from "../src/text/analyzer.ts";
import { segmentWords } from "../src/text/segment.ts";
import { tokenizerFromJson } from "../src/text/tokenizer.ts";
import { BERT_POST, BERT_SPECIALS, wordPieceJson } from "../src/text/wordpiece-json.ts";
import { fmt, median, onExit, parseOptions, printTable } from "./util.ts";

const REPO = resolve(dirname(fileURLToPath(import.meta.url)), "..");
const FLORES = resolve(REPO, "..", "shared", "data", "flores200", "devtest");

const { opts, int } = parseOptions(process.argv.slice(2), ["sizes", "rounds"]);
const sizes = (opts.sizes ?? "10000,100000,1000000").split(",").map(Number);
if (!sizes.every((n) => Number.isInteger(n) && n > 0))
  throw new Error(`--sizes takes positive integers separated by commas, got "${opts.sizes}"`);
const rounds = int("rounds", 3);

const root = mkdtempSync(join(tmpdir(), "xlir-bench-long-"));
onExit(() => rmSync(root, { recursive: true, force: true }));

/** FLORES-200 sentences joined by `sep`, repeated to `length` characters. */
function flores(lang: string, sep: string, length: number): string {
  const lines = readFileSync(join(FLORES, `${lang}.devtest`), "utf8")
    .split("\n")
    .filter(Boolean);
  let text = "";
  for (let i = 0; text.length < length; i++) text += lines[i % lines.length] + sep;
  return text.slice(0, length);
}

/** A WordPiece counter whose vocabulary is the texts' words and characters (BERT pre-tokenizer). */
function wordPieceCounter(texts: string[]): TokenCounter {
  const words = new Set<string>();
  for (const t of texts)
    for (const w of t.toLowerCase().match(/[\p{L}\p{N}]+|[^\s\p{L}\p{N}]/gu) ?? []) {
      words.add(w);
      for (const c of w) words.add(c).add(`##${c}`);
    }
  const tok = tokenizerFromJson(
    wordPieceJson(BERT_SPECIALS, [...words], "[UNK]", BERT_POST),
    { model_max_length: 512, unk_token: "[UNK]", cls_token: "[CLS]", sep_token: "[SEP]", pad_token: "[PAD]" },
    "bench wordpiece",
  );
  const extra = tok.prefixIds.length + tok.suffixIds.length;
  return { count: (ts) => ts.map((t) => tok.encodeText(t).length + extra) };
}

/** Median seconds of `rounds` runs of `f` (at most 2 for texts of 1M characters and up). */
async function seconds(size: number, f: () => unknown): Promise<number> {
  const times: number[] = [];
  for (let r = 0; r < (size >= 1_000_000 ? Math.min(2, rounds) : rounds); r++) {
    const t = performance.now();
    await f();
    times.push((performance.now() - t) / 1000);
  }
  return median(times);
}

const LANGS = [
  { name: "English", flores: "eng_Latn", sep: " ", lang: "en" },
  { name: "Chinese (no spaces)", flores: "zho_Hans", sep: "", lang: "zh" },
];

let collections = 0;
const rows: string[][] = [
  ["text", "work", ...sizes.map((n) => `${n / 1000}K chars/s`), "time ratios (10x text)"],
];
const json: Record<string, unknown>[] = [];

for (const l of LANGS) {
  const texts = sizes.map((n) => flores(l.flores, l.sep, n));
  const counter = wordPieceCounter([flores(l.flores, l.sep, 200_000)]);
  const analyzer = makeAnalyzer(l.lang);
  const work: [string, (text: string) => Promise<unknown> | unknown][] = [
    ["BM25 analysis", (text) => analyzer(text)],
    [
      "BM25 indexing (collection)",
      async (text) => {
        const col = await Collection.openOrCreate(`c${collections++}`, { home: root, model: "bm25" });
        try {
          await addDocuments(col, [{ id: "doc", text, lang: l.lang, source: "bench" }]);
        } finally {
          await col.close();
        }
      },
    ],
    [
      "dense chunking (512 tokens)",
      (text) => chunkDocumentsAsync([{ text }], counter, { tokens: 512, overlap: 64 }),
    ],
  ];
  for (const [what, f] of work) {
    await f(texts[0]); // warm-up: compiled code and a first collection, outside the figures
    const secs: number[] = [];
    for (const text of texts) secs.push(await seconds(text.length, () => f(text)));
    const ratios = secs.slice(1).map((s, i) => s / secs[i]);
    rows.push([
      l.name,
      what,
      ...secs.map((s, i) => fmt(sizes[i] / s, 0)),
      ratios.map((r, i) => `${sizes[i + 1] / 1000}K/${sizes[i] / 1000}K ${fmt(r, 1)}`).join(", "),
    ]);
    json.push({ text: l.name, work: what, sizes, seconds: secs, ratios });
    console.error(`${l.name}, ${what}: ${secs.map((s) => fmt(s, 3)).join(" s, ")} s`);
  }
}

console.log("\n## Long documents: characters per second, one document per size");
printTable(rows);

// Baseline: the whole text in one Intl.Segmenter call, below the cliff where it stops being usable.
const whole = new Intl.Segmenter("und", { granularity: "word" });
const base: string[][] = [
  ["English text", "whole-text Intl.Segmenter chars/s", "windowed (segment.ts) chars/s"],
];
const baseJson: Record<string, unknown>[] = [];
for (const n of [10_000, 30_000, 60_000]) {
  const text = flores("eng_Latn", " ", n);
  const w = await seconds(n, () => {
    for (const s of whole.segment(text)) void s.isWordLike;
  });
  const s = await seconds(n, () => {
    for (const x of segmentWords(text)) void x.isWordLike;
  });
  base.push([`${n / 1000}K chars`, fmt(n / w, 0), fmt(n / s, 0)]);
  baseJson.push({ chars: n, whole_s: w, windowed_s: s });
}
console.log("\n## Baseline: segmentation of one text, whole vs windowed");
printTable(base);
console.log(JSON.stringify({ bench: "long-docs", rounds, results: json, baseline: baseJson }));
