// Long documents: token windows cut on word boundaries (Latin, Thai without spaces, a word longer
// than a window), every window within the limit by the encoder's own tokenizer, the overlap, and
// a document's score as the max (or sum of the best k) of its chunks' scores, against brute force.
import assert from "node:assert/strict";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, before, describe, it } from "node:test";
import { Encoder } from "../../src/encode/encoder.ts";
import { chunkDocuments, chunkDocumentsAsync } from "../../src/index/chunker.ts";
import { Collection } from "../../src/index/collection.ts";
import { parseDocScore } from "../../src/index/doc-score.ts";
import { addDocuments, encoderCounter } from "../../src/index/indexer.ts";
import { search } from "../../src/index/search.ts";
import { wordE5Dir } from "../helpers/tiny-models.ts";
import { dot, unit } from "./brute-force.ts";

const root = mkdtempSync(join(tmpdir(), "xlir-chunk-"));
after(() => rmSync(root, { recursive: true, force: true }));

const WORDS =
  "the river city old bridge market night rain winter north road stone king ship harbour light".split(" ");
const THAI = "แม่น้ำ เมือง สะพาน ตลาด กลางคืน ฝน ฤดูหนาว ถนน หิน เรือ ท่าเรือ แสง".split(" ");
let seed = 7;
const pick = <T>(xs: T[]) => xs[(seed = (seed * 1103515245 + 12345) % 2 ** 31) % xs.length];
const prose = (n: number) =>
  Array.from({ length: n }, (_, i) => pick(WORDS) + (i % 9 === 8 ? "." : "")).join(" ");

describe("chunking", () => {
  let enc: Encoder;
  before(async () => {
    enc = await Encoder.load(wordE5Dir([...WORDS, ...THAI, "x"], { d: 16, parent: root }), {
      threads: 1,
      warn: () => {},
    });
  });
  after(() => enc.close());

  const tokens = (s: string) => enc.tokenize([s], { role: "passage" })[0].length;

  it("keeps short documents whole and cuts long ones into windows within the limit", () => {
    const long = prose(300);
    const [short, chunks] = chunkDocuments(
      [{ text: "  the old bridge  " }, { text: long, title: "river" }],
      encoderCounter(enc),
      {
        tokens: 32,
        overlap: 8,
      },
    );
    assert.deepEqual(short, [{ start: 2, end: 16, text: "the old bridge", prefix: "" }]);
    assert.ok(chunks.length > 10);
    let covered = 0;
    chunks.forEach((c, i) => {
      assert.equal(c.prefix, "river\n");
      assert.equal(long.slice(c.start, c.end), c.text);
      assert.ok(tokens(c.prefix + c.text) <= 32, `chunk ${i}: ${tokens(c.prefix + c.text)} tokens`);
      // cut between words, and the next window starts inside this one (overlap) but after its start
      assert.ok(c.start === 0 || long[c.start - 1] === " ");
      assert.ok(c.end === long.length || long[c.end] === " ");
      if (i > 0) {
        assert.ok(c.start > chunks[i - 1].start && c.start <= chunks[i - 1].end);
        const shared = long.slice(c.start, chunks[i - 1].end).trim();
        assert.ok(
          shared === "" || tokens(shared) - tokens("") <= 8,
          `overlap ${tokens(shared) - tokens("")}`,
        );
      }
      assert.ok(c.start <= covered + 1, `gap before chunk ${i}`);
      covered = Math.max(covered, c.end);
    });
    assert.equal(covered, long.length);
    // windows are packed: all but the last come within a few tokens of the limit
    assert.ok(chunks.slice(0, -1).every((c) => tokens(c.prefix + c.text) >= 26));
  });

  it("cuts Thai between words and a word longer than a window between characters", () => {
    // a counter of one token per character (+2 specials): what a character-level tokenizer does with
    // scripts the tiny WordPiece vocabulary would turn into one [UNK]
    const perChar = {
      count: (texts: readonly string[]) => texts.map((t) => 2 + [...t].length),
    };
    const thai = Array.from({ length: 120 }, () => pick(THAI)).join("");
    const huge = "x".repeat(200);
    const [t, h] = chunkDocuments([{ text: thai }, { text: `the ${huge} river` }], perChar, {
      tokens: 40,
      overlap: 0,
    });
    assert.ok(t.length > 10);
    assert.equal(t.map((c) => c.text).join(""), thai);
    const ends = new Set(
      [...new Intl.Segmenter("th", { granularity: "word" }).segment(thai)].map((s) => s.index),
    );
    for (const c of t) {
      assert.ok(ends.has(c.start) && [...c.text].length + 2 <= 40, `${c.start}: ${c.text}`);
    }
    assert.ok(h.length >= 6 && h.every((c) => [...c.text].length + 2 <= 40));
    assert.equal(
      h
        .map((c) => c.text)
        .join("")
        .replace(/\s/g, ""),
      `the${huge}river`,
    );
  });

  it("gives the same chunks sync and async, on documents longer than a segmentation window", async () => {
    const perChar = { count: (texts: readonly string[]) => texts.map((t) => 2 + [...t].length) };
    // 20K-character documents: several segmentation windows, Thai without spaces among them
    const docs = [
      { text: prose(3000) },
      { text: Array.from({ length: 3000 }, () => pick(THAI)).join(""), title: "river" },
    ];
    const opts = { tokens: 64, overlap: 16 };
    const sync = chunkDocuments(docs, perChar, opts);
    assert.deepEqual(await chunkDocumentsAsync(docs, perChar, opts), sync);
    assert.ok(docs.every((d) => d.text.length > 10_000) && sync.every((cs) => cs.length > 100));
  });

  it("scores a document by its best chunk, or by the sum of its best k", async () => {
    const docs = Array.from({ length: 12 }, (_, i) => ({
      id: `d${i}`,
      text: prose(60 + 20 * i),
      source: `d${i}`,
    }));
    const col = await Collection.openOrCreate("long", {
      home: root,
      model: enc,
      chunking: { tokens: 24, overlap: 4 },
    });
    try {
      await addDocuments(col, docs, { lang: "en" });
      assert.ok((await col.store.countChunks()) > 60);
      const chunks = chunkDocuments(docs, encoderCounter(enc), { tokens: 24, overlap: 4 });
      const rows = await enc.embed(
        chunks.flat().map((c) => c.text),
        { role: "passage" },
      );
      const query = "old stone bridge by the harbour";
      const qv = unit((await enc.embed([query], { role: "query" })).data);
      let at = 0;
      const perDoc = chunks.map((cs) =>
        cs.map(() => dot(qv, unit(rows.data.subarray(at * enc.dim, ++at * enc.dim)))),
      );
      for (const [how, agg] of [
        ["max", (s: number[]) => Math.max(...s)],
        [
          "sum:2",
          (s: number[]) =>
            [...s]
              .sort((a, b) => b - a)
              .slice(0, 2)
              .reduce((a, b) => a + b, 0),
        ],
      ] as const) {
        const want = docs
          .map((d, i) => ({ id: d.id, score: agg(perDoc[i]) }))
          .sort((a, b) => b.score - a.score);
        const hits = await search(col, query, { k: 5, docScore: parseDocScore(how) });
        assert.deepEqual(
          hits.map((h) => h.id),
          want.slice(0, 5).map((w) => w.id),
          how,
        );
        hits.forEach((h, i) =>
          assert.ok(Math.abs(h.score - want[i].score) < 1e-5, `${how}: ${h.score} vs ${want[i].score}`),
        );
        // the snippet is the best chunk's passage
        const best = perDoc[Number(hits[0].id.slice(1))].indexOf(
          Math.max(...perDoc[Number(hits[0].id.slice(1))]),
        );
        assert.equal(hits[0].chunk.index, best);
        assert.equal(hits[0].text, chunks[Number(hits[0].id.slice(1))][best].text);
      }
    } finally {
      await col.close();
    }
  });
});
