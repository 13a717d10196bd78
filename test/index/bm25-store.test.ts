import assert from "node:assert/strict";
import { mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, describe, it } from "node:test";
import {
  addDocuments,
  addTerms,
  bm25Stats,
  createBm25Index,
  deleteDocument,
  searchBm25,
  searchTerms,
  type Bm25Index,
} from "../../src/index/bm25.ts";
import { BM25_FILE, hasBm25Index, loadBm25Index, saveBm25Index } from "../../src/index/bm25-store.ts";
import { analyzerConfig } from "../../src/text/analyzer.ts";

const root = mkdtempSync(join(tmpdir(), "xlir-bm25-"));
after(() => rmSync(root, { recursive: true, force: true }));
let n = 0;
const freshDir = () => join(root, `idx${n++}`);

function sample(): Bm25Index {
  const index = createBm25Index({
    analyzer: analyzerConfig({ stopwords: false }),
    bm25: { k1: 1.2, b: 0.75 },
  });
  addDocuments(index, [
    { id: "en-1", text: "The Panthers defense gave up just 308 points.", lang: "en" },
    { id: "en-2", text: "Denver's defense ranked first in the league.", lang: "en" },
    { id: "de-1", text: "Die Verteidigung der Panthers gab nur 308 Punkte ab.", lang: "de" },
    { id: "zh-1", text: "黑豹队的防守只丢了308分。", lang: "zh" },
    { id: "th-1", text: "แนวรับของแพนเธอร์เสียเพียง 308 แต้ม", lang: "th" },
    { id: "empty", text: "" },
    { id: "ünïcødé id \u{1F600}", text: "emoji in the id", lang: "en" },
  ]);
  return index;
}

const QUERIES: [string, string | undefined][] = [
  ["defense points", "en"],
  ["Verteidigung Punkte", "de"],
  ["防守", "zh"],
  ["308", undefined],
  ["id", "en"],
];

function sameResults(a: Bm25Index, b: Bm25Index): void {
  for (const [q, lang] of QUERIES)
    assert.deepEqual(searchBm25(a, q, { lang, k: 20 }), searchBm25(b, q, { lang, k: 20 }), q);
  assert.deepEqual(bm25Stats(a), bm25Stats(b));
}

describe("BM25 index on disk", () => {
  it("round-trips documents, statistics, analyzer and parameters", () => {
    const dir = freshDir();
    const index = sample();
    assert.equal(hasBm25Index(dir), false);
    saveBm25Index(index, dir);
    assert.equal(hasBm25Index(dir), true);
    assert.deepEqual(readdirSync(dir), [BM25_FILE]);
    const loaded = loadBm25Index(dir);
    assert.deepEqual(loaded.analyzer, index.analyzer);
    assert.deepEqual(loaded.params, index.params);
    assert.deepEqual(loaded.ids, index.ids);
    sameResults(loaded, index);
    assert.ok(searchBm25(loaded, "defense", { lang: "en" }).length === 2);
  });

  it("keeps exact-length scoring through a round trip", () => {
    const dir = freshDir();
    const index = createBm25Index({ bm25: { lengths: "exact" } });
    addTerms(index, "long", ["x", ...Array<string>(99).fill("y")]);
    addTerms(index, "short", ["x", "z"]);
    saveBm25Index(index, dir);
    const loaded = loadBm25Index(dir);
    assert.equal(loaded.params.lengths, "exact");
    assert.deepEqual(searchTerms(loaded, ["x"]), searchTerms(index, ["x"]));
  });

  it("saves updates and deletes, and reloads to the same results as a fresh build", () => {
    const dir = freshDir();
    const index = sample();
    saveBm25Index(index, dir);
    const reopened = loadBm25Index(dir);
    deleteDocument(reopened, "de-1");
    addDocuments(reopened, [{ id: "en-2", text: "Denver's defense allowed 296 points.", lang: "en" }]);
    saveBm25Index(reopened, dir);

    const fresh = sample();
    deleteDocument(fresh, "de-1");
    addDocuments(fresh, [{ id: "en-2", text: "Denver's defense allowed 296 points.", lang: "en" }]);
    const loaded = loadBm25Index(dir);
    sameResults(loaded, fresh);
    assert.equal(loaded.deleted, 0);
    assert.deepEqual(
      searchBm25(loaded, "Verteidigung", { lang: "de" }).map((h) => h.id),
      [],
    );
  });

  it("is untouched by a crashed writer's temporary file, which the next save removes", () => {
    const dir = freshDir();
    saveBm25Index(sample(), dir);
    const before = readFileSync(join(dir, BM25_FILE));
    // What a writer killed mid-save leaves: a half-written temporary file beside the index.
    const tmp = join(dir, `.${BM25_FILE}.99999.deadbeef.tmp`);
    writeFileSync(tmp, before.subarray(0, before.length >> 1));
    sameResults(loadBm25Index(dir), sample());
    saveBm25Index(sample(), dir);
    assert.deepEqual(readdirSync(dir), [BM25_FILE]);
  });

  it("names the folder when there is no index", () => {
    const dir = freshDir();
    assert.throws(
      () => loadBm25Index(dir),
      new RegExp(`no BM25 index in .*idx\\d+ \\(${BM25_FILE} is missing\\)`),
    );
  });

  it("refuses a damaged file with a one-line error", () => {
    const dir = freshDir();
    saveBm25Index(sample(), dir);
    const file = join(dir, BM25_FILE);
    const good = readFileSync(file);
    const expectError = (bytes: Buffer, pattern: RegExp) => {
      writeFileSync(file, bytes);
      assert.throws(
        () => loadBm25Index(dir),
        (e: Error) => pattern.test(e.message) && !e.message.includes("\n"),
      );
    };
    const flipped = Buffer.from(good);
    flipped[flipped.length - 20] ^= 0x40;
    expectError(flipped, /corrupt BM25 index \(checksum mismatch.*rebuild it/);
    expectError(good.subarray(0, good.length - 8), /corrupt BM25 index \(checksum mismatch/);
    expectError(good.subarray(0, 40), /corrupt BM25 index \(truncated header\)/);
    expectError(Buffer.from("not an index at all"), /is not an xlir BM25 index \(bad magic bytes\)/);
    expectError(Buffer.alloc(0), /is not an xlir BM25 index/);

    const future = Buffer.from(good);
    future.writeUInt32LE(2, 8);
    expectError(
      future,
      /BM25 format version 2, this xlir reads version 1: upgrade xlir or rebuild the index/,
    );

    // The header is outside the checksum, so a changed header must fail its own checks.
    const otherAnalyzer = Buffer.from(
      good.toString("latin1").replace('"version":1,"normalization"', '"version":7,"normalization"'),
      "latin1",
    );
    expectError(
      otherAnalyzer,
      /built with analyzer version 7, this xlir analyzes with version 1: rebuild the index/,
    );
    const badCount = Buffer.from(good.toString("latin1").replace(/"documents":7/, '"documents":8'), "latin1");
    expectError(badCount, /corrupt BM25 index/);
    const badJson = Buffer.from(good);
    badJson[17] = 0x7b; // '{' where '"' was: the header no longer parses
    expectError(badJson, /corrupt BM25 index \(unreadable header\)/);

    writeFileSync(file, good);
    sameResults(loadBm25Index(dir), sample());
  });
});
