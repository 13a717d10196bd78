// Windowed word segmentation gives whole-text segmentation's words and offsets: on FLORES-200 in
// all its languages (with and without whitespace between sentences) and on random texts mixing
// scripts, marks, emoji and spaces, with small windows so that every text is cut many times.
import assert from "node:assert/strict";
import { readdirSync, readFileSync } from "node:fs";
import { join } from "node:path";
import { describe, it } from "node:test";
import { segmentWords, segmentWordsAsync, type WordSegment } from "../../src/text/segment.ts";
import { sharedDir } from "../helpers/shared.ts";

const FLORES = join(sharedDir, "data", "flores200", "devtest");
const WHOLE = new Intl.Segmenter("und", { granularity: "word" });

// Texts below ~60K characters, where whole-text segmentation is fast, are the reference.
function whole(text: string): WordSegment[] {
  const out: WordSegment[] = [];
  // for-of, not [...]: keeping V8's own segment objects makes this test 30x slower
  for (const s of WHOLE.segment(text))
    out.push({ segment: s.segment, index: s.index, isWordLike: s.isWordLike === true });
  return out;
}

function assertSame(text: string, window: number, what: string): void {
  const got = [...segmentWords(text, window)];
  const want = whole(text);
  const i = want.findIndex((s, k) => JSON.stringify(s) !== JSON.stringify(got[k]));
  assert.ok(
    i < 0 && got.length === want.length,
    `${what}, window ${window}: segment ${i} is ${JSON.stringify(got[i])}, whole-text ${JSON.stringify(want[i])}`,
  );
}

let seed = 12345;
const rand = (n: number) => ((seed = (seed * 1103515245 + 12345) % 2 ** 31), seed % n);

// Pieces that exercise UAX #29 and ICU's dictionaries: letters of many scripts, Thai and Chinese
// runs, combining marks, ZWJ emoji, flags, digits with separators, apostrophes, CR LF, NBSP.
// prettier-ignore
const PIECES = [
  "word", "Ünïcödé", "e\u0301", "don't", "3.14", "1,000", "a.b", "_x_", "İstanbul", "Ｈｅｌｌｏ",
  "привет", "नमस्ते", "مرحبا", "שָׁלוֹם", "γειά", "ภาษาไทยง่ายนิดเดียว", "我们今天去北京大学", "カタカナ",
  "ひらがな", "한국어", "ខ្មែរ", "မြန်မာ", "👩‍👩‍👧", "👍🏽", "🇯🇵🇫🇷", "\u200b", "\u00ad", "\ufeff",
  "。", "！", "？", "、", "，", "．", ":", ".", "!", "?", "-", "'", "\u0301", "\u200d",
];
const SPACES = [" ", "  ", "\n", "\r\n", "\t", "\u00a0", "\u3000"];

function randomText(length: number): string {
  let s = "";
  while (s.length < length) {
    // whitespace at least every third piece: rule 1 or 2 always finds a cut in half a window
    for (let k = 1 + rand(3); k > 0; k--) s += PIECES[rand(PIECES.length)];
    s += SPACES[rand(SPACES.length)];
  }
  return s;
}

describe("segmentWords", () => {
  it("equals whole-text segmentation on FLORES-200 in every language", () => {
    const files = readdirSync(FLORES).filter((f) => f.endsWith(".devtest"));
    assert.ok(files.length >= 40, `FLORES-200 devtest files in ${FLORES}`);
    for (const f of files) {
      const lines = readFileSync(join(FLORES, f), "utf8").split("\n").slice(0, 120);
      // "" joins sentences with no space: Chinese, Japanese and Thai text then has none for pages
      for (const sep of ["\n", " ", ""]) {
        const text = lines.join(sep).slice(0, 8000);
        for (const window of [64, 500]) assertSame(text, window, `${f} joined by ${JSON.stringify(sep)}`);
      }
    }
  });

  it("equals whole-text segmentation on random mixed-script texts", () => {
    for (let t = 0; t < 60; t++) {
      const text = randomText(200 + rand(3000));
      for (const window of [128, 301, 1000]) assertSame(text, window, `random text ${t}`);
    }
  });

  it("is whole-text segmentation itself for a text up to one window", () => {
    const text = randomText(900);
    assert.deepEqual([...segmentWords(text, 1000)], whole(text));
  });

  it("cuts a word longer than a window between graphemes, covering the text", () => {
    const word = "é".normalize("NFD").repeat(500) + "x".repeat(700); // 1700 characters, one word
    const text = `start ${word} end`;
    const got = [...segmentWords(text, 64)];
    assert.equal(got.map((s) => s.segment).join(""), text);
    got.forEach((s, k) => assert.equal(s.index, k === 0 ? 0 : got[k - 1].index + got[k - 1].segment.length));
    // never between a letter and its accent
    for (const s of got) assert.ok(!/^\u0301/.test(s.segment), `piece at ${s.index} starts with a mark`);
    assert.ok(got.filter((s) => s.isWordLike).length > 10);
  });

  it("gives the same segments a window at a time, letting timers run in between", async () => {
    const text = randomText(20000);
    let ticks = 0;
    const timer = setInterval(() => ticks++, 0);
    const batches: WordSegment[][] = [];
    try {
      for await (const batch of segmentWordsAsync(text, 256)) batches.push(batch);
    } finally {
      clearInterval(timer);
    }
    assert.deepEqual(batches.flat(), [...segmentWords(text, 256)]);
    assert.ok(batches.length > 50);
    assert.ok(ticks > 0, "a timer fired while segmenting");
  });
});
