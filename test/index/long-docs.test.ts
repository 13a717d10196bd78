// Long documents: a 300K-character document indexes through the real indexer (BM25 and dense
// chunking) in normal test time, and the event loop keeps running meanwhile (a timer scheduled
// during indexing fires before indexing ends). Without windowed segmentation this takes minutes
// and no timer fires until it is over.
import assert from "node:assert/strict";
import { spawn } from "node:child_process";
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, before, describe, it } from "node:test";
import { Encoder } from "../../src/encode/encoder.ts";
import { bm25Stats } from "../../src/index/bm25.ts";
import { chunkDocumentsAsync } from "../../src/index/chunker.ts";
import { Collection } from "../../src/index/collection.ts";
import { addDocuments, encoderCounter } from "../../src/index/indexer.ts";
import type { InputDoc } from "../../src/index/ingest.ts";
import { search } from "../../src/index/search.ts";
import { analyze } from "../../src/text/analyzer.ts";
import { repoRoot, sharedDir } from "../helpers/shared.ts";
import { wordE5Dir, wordsOf } from "../helpers/tiny-models.ts";

const root = mkdtempSync(join(tmpdir(), "xlir-long-"));
after(() => rmSync(root, { recursive: true, force: true }));

/** FLORES-200 sentences of one language joined by `sep`, repeated to `length` characters. */
function flores(lang: string, sep: string, length: number): string {
  const lines = readFileSync(join(sharedDir, "data", "flores200", "devtest", `${lang}.devtest`), "utf8")
    .split("\n")
    .filter(Boolean);
  let text = "";
  for (let i = 0; text.length < length; i++) text += lines[i % lines.length] + sep;
  return text.slice(0, length);
}

/** Runs `work` with a 1 ms timer armed; how often the timer fired before `work` ended. */
async function ticksDuring<T>(work: () => Promise<T>): Promise<{ value: T; ticks: number }> {
  let ticks = 0;
  const timer = setInterval(() => ticks++, 1);
  try {
    const value = await work();
    return { value, ticks };
  } finally {
    clearInterval(timer);
  }
}

describe("long documents", () => {
  it("index a 300K-character document into a BM25 collection, yielding to timers", async () => {
    // English with a closing word found nowhere else, and Thai with no spaces between sentences
    const english = flores("eng_Latn", " ", 300_000) + " zanzibarite";
    const thai = flores("tha_Thai", "", 300_000);
    const docs: InputDoc[] = [
      { id: "en", text: english, lang: "en", source: "test:1" },
      { id: "th", text: thai, lang: "th", source: "test:2" },
    ];
    const col = await Collection.openOrCreate("long-bm25", { home: root, model: "bm25" });
    try {
      const { value: p, ticks } = await ticksDuring(() => addDocuments(col, docs, { batchSize: 1 }));
      assert.equal(p.added, 2);
      assert.ok(ticks > 0, "a timer fired while the documents were indexed");
      const hits = await search(col, "zanzibarite", { lang: "en", k: 3 });
      assert.deepEqual(
        hits.map((h) => h.id),
        ["en"],
      );
      // every term of both documents is in the index: the analysis is the analyzer's own
      const stats = bm25Stats(await col.bm25());
      assert.equal(stats.sumTotalTermFreq, analyze(english, "en").length + analyze(thai, "th").length);
      assert.ok(stats.sumTotalTermFreq > 60_000);
    } finally {
      await col.close();
    }
  });

  describe("dense chunking", () => {
    let enc: Encoder;
    const text = flores("eng_Latn", " ", 300_000);
    before(async () => {
      enc = await Encoder.load(wordE5Dir(wordsOf([text], 3000), { d: 16, parent: root }), {
        threads: 1,
        warn: () => {},
      });
    });
    after(() => enc.close());

    it("cuts a 300K-character document into windows, yielding to timers", async () => {
      const { value, ticks } = await ticksDuring(() =>
        chunkDocumentsAsync([{ text }], encoderCounter(enc), { tokens: 128, overlap: 16 }),
      );
      const chunks = value[0];
      assert.ok(ticks > 0, "a timer fired while the document was chunked");
      assert.ok(chunks.length > 300, `${chunks.length} chunks`);
      assert.equal(chunks[0].start, 0);
      assert.equal(chunks.at(-1)!.end, text.trimEnd().length);
      for (let i = 1; i < chunks.length; i++) {
        // consecutive windows overlap or touch: no text is left out
        assert.ok(
          chunks[i].start <= chunks[i - 1].end && chunks[i].start > chunks[i - 1].start,
          `chunk ${i}`,
        );
      }
    });
  });

  it("xlir index stops on Ctrl-C in the middle of long documents, keeping what it committed", async () => {
    const input = join(root, "long.jsonl");
    const docs = [0, 1, 2, 3, 4].map((i) => ({
      id: `d${i}`,
      text: flores("eng_Latn", " ", 300_000 + i),
      lang: "en",
    }));
    writeFileSync(input, docs.map((d) => JSON.stringify(d)).join("\n") + "\n");
    const xlir = join(repoRoot, "bin", "xlir.js");
    const args = [
      "index",
      "sigint",
      "--model",
      "bm25",
      "--input",
      input,
      "--batch-size",
      "1",
      "--home",
      root,
      "--json",
    ];
    const child = spawn(process.execPath, [xlir, ...args], { stdio: ["ignore", "pipe", "pipe"] });
    const lines: Record<string, unknown>[] = [];
    let out = "";
    let err = "";
    child.stderr.on("data", (b: Buffer) => (err += b.toString()));
    child.stdout.on("data", (b: Buffer) => {
      out += b.toString();
      const parts = out.split("\n");
      out = parts.pop()!;
      for (const l of parts) {
        const event = JSON.parse(l) as Record<string, unknown>;
        // Ctrl-C while the next long document is being analysed
        if (event.event === "progress" && !lines.some((x) => x.event === "progress")) child.kill("SIGINT");
        lines.push(event);
      }
    });
    const code = await new Promise((resolve, reject) => {
      child.on("error", reject);
      child.on("exit", resolve);
    });
    // a run stopped after committing exits 130, as a shell reports SIGINT
    assert.ok(code === 130 || code === 0, `exit ${code}: ${err}`);
    const done = lines.find((l) => l.event === "done")!;
    assert.equal(done.stopped, true, JSON.stringify(done));
    assert.ok((done.read as number) < docs.length && done.added === done.read, JSON.stringify(done));
    const col = await Collection.open("sigint", { home: root });
    try {
      assert.equal((await col.store.committedDocs()).size, done.added);
    } finally {
      await col.close();
    }
  });
});
