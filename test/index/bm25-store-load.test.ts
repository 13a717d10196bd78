// Loading bm25.xlir without a copy per term: postings stay views of the file's bytes until read.
// A loaded index must behave as the one saved in every way, also where its bytes sit unaligned
// in memory (a store's blob), and the structural checks that moved (distinct terms and ids) must
// still refuse a damaged file whose checksum was made to match.
import assert from "node:assert/strict";
import { createHash } from "node:crypto";
import { describe, it } from "node:test";
import {
  addTerms,
  bm25Stats,
  compactBm25,
  createBm25Index,
  deleteDocument,
  searchTerms,
  type Bm25Index,
} from "../../src/index/bm25.ts";
import { decodeBm25, encodeBm25 } from "../../src/index/bm25-store.ts";

function sample(): Bm25Index {
  const index = createBm25Index();
  addTerms(index, "d1", ["aa", "bb", "aa", "cc"]);
  addTerms(index, "d2", ["bb", "dd"]);
  addTerms(index, "d3", ["aa", "dd", "dd", "ee"]);
  return index;
}

const TERMS = ["aa", "bb", "cc", "dd", "ee", "ff"];
const same = (a: Bm25Index, b: Bm25Index) => {
  for (const t of TERMS) assert.deepEqual(searchTerms(a, [t], { k: 10 }), searchTerms(b, [t], { k: 10 }), t);
  assert.deepEqual(bm25Stats(a), bm25Stats(b));
};

/** The file with its body changed by `edit` (same length), and its checksum made to match. */
function rewritten(file: Buffer, edit: (body: string) => string): Buffer {
  const headerLength = file.readUInt32LE(12);
  const start = Math.ceil((16 + headerLength) / 8) * 8;
  const body = Buffer.from(edit(file.subarray(start).toString("latin1")), "latin1");
  assert.equal(body.length, file.length - start);
  const header = JSON.parse(file.toString("utf8", 16, 16 + headerLength));
  header.sha256 = createHash("sha256").update(body).digest("hex");
  const json = Buffer.from(JSON.stringify(header));
  assert.equal(json.length, headerLength);
  return Buffer.concat([file.subarray(0, 16), json, file.subarray(16 + headerLength, start), body]);
}

describe("loading bm25.xlir", () => {
  it("gives postings as arrays, the same at every offset in memory", () => {
    const bytes = encodeBm25(sample());
    // at byte 1 of a larger buffer: the u32 sections cannot be viewed in place there
    const unaligned = Buffer.alloc(bytes.length + 1).fill(0xff);
    bytes.copy(unaligned, 1);
    for (const buf of [bytes, unaligned.subarray(1)]) {
      const loaded = decodeBm25(buf, "bm25.xlir");
      same(loaded, sample());
      const p = loaded.postings.get("dd")!;
      assert.ok(Array.isArray(p.docs) && Array.isArray(p.freqs));
      assert.deepEqual(
        [p.docs, p.freqs],
        [
          [1, 2],
          [1, 2],
        ],
      );
    }
  });

  it("takes updates, deletes and compaction as a freshly built index does, and saves them", () => {
    const loaded = decodeBm25(encodeBm25(sample()), "bm25.xlir");
    const fresh = sample();
    for (const index of [loaded, fresh]) {
      addTerms(index, "d4", ["bb", "ff", "aa"]); // onto loaded postings of bb and aa
      deleteDocument(index, "d2");
      addTerms(index, "d1", ["ee"]); // replaces d1
      compactBm25(index);
    }
    same(loaded, fresh);
    same(decodeBm25(encodeBm25(loaded), "bm25.xlir"), fresh);
    assert.deepEqual(encodeBm25(loaded), encodeBm25(fresh));
  });

  it("refuses repeated terms or ids even when the checksum matches", () => {
    const good = encodeBm25(sample());
    const bad = (edit: (body: string) => string, what: RegExp) =>
      assert.throws(() => decodeBm25(rewritten(good, edit), "bm25.xlir"), what);
    bad((b) => b.replace('"bb"', '"aa"'), /corrupt BM25 index \(duplicate terms\): rebuild it/);
    bad((b) => b.replace('"d2"', '"d1"'), /corrupt BM25 index \(duplicate ids\): rebuild it/);
  });
});
