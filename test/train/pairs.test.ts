// readPairs: every format it takes (xlir JSONL, SWIM-IR, sentence-transformers, FlagEmbedding, TSV),
// how passages are flattened, how languages resolve, and the file:line error of each malformed row.
import assert from "node:assert/strict";
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, describe, it } from "node:test";
import { loadLanguageDetector } from "../../src/text/langid.ts";
import { loadPairs, readPairRecords, readPairs, resolveLanguage } from "../../src/train/pairs.ts";

const root = mkdtempSync(join(tmpdir(), "xlir-pairs-"));
after(() => rmSync(root, { recursive: true, force: true }));

let n = 0;
/** A file of these lines (objects become JSON lines). */
function file(ext: string, ...lines: (string | object)[]): string {
  const path = join(root, `f${n++}.${ext}`);
  writeFileSync(path, lines.map((l) => (typeof l === "string" ? l : JSON.stringify(l))).join("\n") + "\n");
  return path;
}

describe("formats", () => {
  it("reads xlir JSONL: string and {title,text} positives, mixed negatives, language aliases", () => {
    const p = file(
      "jsonl",
      { query: "Where is Etna?", positive: "Etna is in Sicily.", lang: "en" },
      "",
      {
        query: "  আগ্নেয়গিরি কোথায়? ",
        positive: { title: "Etna", text: " Mount Etna is in Sicily. " },
        negatives: [
          "Vesuvius is near Naples.",
          { title: "Fuji", text: "Fuji is in Japan." },
          { text: "No title." },
        ],
        lang: "bn",
      },
      { query: "Volcano ya Etna iko wapi?", positive: { title: "", text: "Etna." }, lang: "sw" },
      { query: "एटना कहाँ है?", positive: { title: null, text: "Etna." }, lang: "hin_Deva" },
      { query: "no language", positive: "text" },
    );
    const ex = readPairs([p]);
    assert.deepEqual(ex[0], {
      query: "Where is Etna?",
      positive: "Etna is in Sicily.",
      negatives: [],
      lang: "eng_Latn",
      where: `${p}:1`,
    });
    assert.deepEqual(ex[1], {
      query: "আগ্নেয়গিরি কোথায়?",
      positive: "Etna Mount Etna is in Sicily.",
      negatives: ["Vesuvius is near Naples.", "Fuji Fuji is in Japan.", "No title."],
      lang: "ben_Beng",
      where: `${p}:3`,
    });
    assert.equal(ex[2].positive, "Etna.");
    assert.equal(ex[2].lang, "swh_Latn");
    assert.equal(ex[3].positive, "Etna.");
    assert.equal(ex[3].lang, "hin_Deva");
    assert.equal(ex[4].lang, undefined);
    assert.ok(!("lang" in ex[4]));
    assert.equal(ex.length, 5);
  });

  it("reads SWIM-IR rows as they are: title+text positive, language from code, else from the name", () => {
    const p = file(
      "jsonl",
      {
        _id: "409962#2",
        lang: "Bengali",
        code: "bn",
        query: "কোন শহরে এটনা অবস্থিত?",
        title: "Mount Etna",
        text: "Mount Etna is an active stratovolcano on the east coast of Sicily.",
      },
      { _id: "1", lang: "Bengali", code: "bn-XX-unknown", query: "q", title: "T", text: "x" },
      { _id: "2", lang: "Swahili", query: "q", title: "T", text: "x" },
      { _id: "3", lang: "Chinese", code: "zh", query: "q", title: "T", text: "x" },
      { _id: "4", lang: "Telugu", code: "te", query: "q", text: "no title" },
    );
    const ex = readPairs([p]);
    assert.deepEqual(ex[0], {
      query: "কোন শহরে এটনা অবস্থিত?",
      positive: "Mount Etna Mount Etna is an active stratovolcano on the east coast of Sicily.",
      negatives: [],
      lang: "ben_Beng",
      where: `${p}:1`,
    });
    assert.deepEqual(
      ex.map((e) => e.lang),
      ["ben_Beng", "ben_Beng", "swh_Latn", "zho_Hans", "tel_Telu"],
    );
    assert.equal(ex[4].positive, "no title");
  });

  it("maps the English names of the SWIM-IR languages to NLLB-200 codes", () => {
    const names: Record<string, string> = {
      Arabic: "arb_Arab",
      Bengali: "ben_Beng",
      German: "deu_Latn",
      Spanish: "spa_Latn",
      Persian: "pes_Arab",
      Finnish: "fin_Latn",
      French: "fra_Latn",
      Hindi: "hin_Deva",
      Indonesian: "ind_Latn",
      Japanese: "jpn_Jpan",
      Korean: "kor_Hang",
      Russian: "rus_Cyrl",
      Swahili: "swh_Latn",
      Telugu: "tel_Telu",
      Thai: "tha_Thai",
      Yoruba: "yor_Latn",
      Chinese: "zho_Hans",
      english: "eng_Latn",
      "Traditional Chinese": "zho_Hant",
      Odia: "ory_Orya",
      Oriya: "ory_Orya",
      Marathi: "mar_Deva",
      Tamil: "tam_Taml",
    };
    for (const [name, code] of Object.entries(names)) assert.equal(resolveLanguage(name), code, name);
    assert.throws(() => resolveLanguage("Klingon"), /unknown language code "Klingon"/);
  });

  it("reads the sentence-transformers and FlagEmbedding shapes", () => {
    const p = file(
      "jsonl",
      { anchor: "a1", positive: "p1", negative: "n1" },
      { query: "q2", positive: "p2", negative: "n2" },
      { query: "q3", pos: ["p3a", "p3b"], neg: ["n3a", "n3b"] },
      { sentence1: "s1", sentence2: "s2" },
      { query: "q5", positive: "p5", negative_1: "n5a", negative_2: { title: "T", text: "n5b" } },
      { question: "q6", answer: "p6", score: 1.0 },
    );
    const ex = readPairs([p]);
    const short = ex.map((e) => [e.query, e.positive, e.negatives, e.where.slice(p.length)]);
    assert.deepEqual(short, [
      ["a1", "p1", ["n1"], ":1"],
      ["q2", "p2", ["n2"], ":2"],
      ["q3", "p3a", ["n3a", "n3b"], ":3"], // one example per positive, same negatives
      ["q3", "p3b", ["n3a", "n3b"], ":3"],
      ["s1", "s2", [], ":4"],
      ["q5", "p5", ["n5a", "T n5b"], ":5"],
      ["q6", "p6", [], ":6"],
    ]);
    // the records keep each row as it was, all positives together
    const rec = readPairRecords([p]);
    assert.equal(rec.length, 6);
    assert.deepEqual(rec[2].positives, ["p3a", "p3b"]);
    assert.deepEqual(rec[2].row, { query: "q3", pos: ["p3a", "p3b"], neg: ["n3a", "n3b"] });
  });

  it("reads TSV query<TAB>positive[<TAB>negative...], skipping a header row", () => {
    const withHeader = file(
      "tsv",
      "anchor\tpositive\tnegative",
      "q1\tp1\tn1",
      "q2\tp2\t",
      "",
      "q3\t p3 \tn3a\tn3b",
    );
    const ex = readPairs([withHeader], { defaultLang: "de" });
    assert.deepEqual(ex[0], {
      query: "q1",
      positive: "p1",
      negatives: ["n1"],
      lang: "deu_Latn",
      where: `${withHeader}:2`,
    });
    assert.deepEqual(ex[1].negatives, []);
    assert.deepEqual(
      [ex[2].positive, ex[2].negatives, ex[2].where],
      ["p3", ["n3a", "n3b"], `${withHeader}:5`],
    );
    const plain = file("tsv", "query one\tpassage one");
    assert.deepEqual(readPairs([plain]), [
      { query: "query one", positive: "passage one", negatives: [], where: `${plain}:1` },
    ]);
    // several files, in order; a .txt sniffed as TSV, an unknown extension with JSON lines as JSONL
    const txt = file("txt", "x\ty");
    const other = file("data", { query: "j", positive: "k" });
    assert.deepEqual(
      readPairs([plain, txt, other]).map((e) => e.query),
      ["query one", "x", "j"],
    );
  });
});

describe("languages", () => {
  it('detects "auto" rows and the default language with the detect function given', () => {
    const seen: string[] = [];
    const detect = (t: string) => {
      seen.push(t);
      return t.startsWith("Der") ? "de" : t.startsWith("???") ? "und" : "fra_Latn";
    };
    const p = file(
      "jsonl",
      { query: "Der Ätna ist ein Vulkan auf Sizilien.", positive: "x", lang: "auto" },
      { query: "Où se trouve l'Etna ?", positive: "x" },
      { query: "??? !!!", positive: "x", lang: "auto" },
      { query: "Where is Etna?", positive: "x", lang: "en" },
    );
    const ex = readPairs([p], { detect, defaultLang: "auto" });
    assert.deepEqual(
      ex.map((e) => e.lang),
      ["deu_Latn", "fra_Latn", undefined, "eng_Latn"],
    );
    assert.equal(seen.length, 3); // rows with their own code are not detected
    assert.deepEqual(
      readPairs([p], { detect, defaultLang: "Spanish" }).map((e) => e.lang),
      ["deu_Latn", "spa_Latn", undefined, "eng_Latn"],
    );
    assert.throws(
      () => readPairs([p], { detect, defaultLang: "xx" }),
      /language for rows without one: unknown language code "xx"/,
    );
  });

  it("detects with the real language detector", async () => {
    const detect = await loadLanguageDetector();
    const p = file("jsonl", {
      query: "Der Ätna ist der aktivste Vulkan Europas und liegt an der Ostküste Siziliens.",
      positive: "Mount Etna is on the east coast of Sicily.",
      lang: "auto",
    });
    assert.equal(readPairs([p], { detect })[0].lang, "deu_Latn");
    // loadPairs loads the detector itself when a row needs one
    assert.equal((await loadPairs([p]))[0].lang, "deu_Latn");
    throwsMessage(() => readPairs([p]), new RegExp(`${esc(p)}:1: lang "auto" needs a language detector`));
  });
});

describe("errors name file:line and what to do", () => {
  const cases: [string, (string | object)[], RegExp][] = [
    [
      "invalid JSON",
      ['{"query": "q", "positive": '],
      /:1: not valid JSON .*; each line must be one JSON object/,
    ],
    [
      "not an object",
      [{ query: "q", positive: "p" }, '["q", "p"]'],
      /:2: expected a JSON object, got a list/,
    ],
    ["missing query", [{ positive: "p" }], /:1: no query: each row needs a query \("query", "anchor"/],
    ["missing positive", [{ query: "q" }], /:1: no positive passage: each row needs/],
    [
      "empty query",
      [{ query: "  ", positive: "p" }],
      /:1: "query" is empty: give the query text or remove the row/,
    ],
    ["empty positive", [{ query: "q", positive: "" }], /:1: "positive" is empty/],
    [
      "empty negative",
      [{ query: "q", positive: "p", negatives: ["n", " "] }],
      /:1: "negatives"\[1\] is empty/,
    ],
    [
      "query not a string",
      [{ query: 7, positive: "p" }],
      /:1: "query" must be a string \(the query text\), got number 7/,
    ],
    [
      "positive of a wrong type",
      [{ query: "q", positive: 3 }],
      /:1: "positive" must be a passage \(a string or \{"title","text"\}\), got number 3/,
    ],
    ["passage without text", [{ query: "q", positive: { title: "T" } }], /:1: "positive" has no "text"/],
    [
      "title not a string",
      [{ query: "q", positive: { title: 1, text: "t" } }],
      /:1: "positive" "title" must be a string/,
    ],
    [
      "negatives not a list",
      [{ query: "q", positive: "p", negatives: "n" }],
      /:1: "negatives" must be a list of passages/,
    ],
    ["empty pos list", [{ query: "q", pos: [] }], /:1: "pos" is an empty list/],
    [
      "lang not a string",
      [{ query: "q", positive: "p", lang: 5 }],
      /:1: "lang" must be a language code string/,
    ],
    [
      "unknown language",
      [
        { query: "q", positive: "p" },
        { query: "q", positive: "p", lang: "xx" },
      ],
      /:2: unknown language code "xx": did you mean .*Give an NLLB-200 code/,
    ],
    [
      "unknown SWIM-IR code",
      [{ query: "q", title: "t", text: "x", code: "brx" }],
      /:1: unknown language code "brx"/,
    ],
    [
      "language in several scripts",
      [{ query: "q", positive: "p", lang: "ace" }],
      /:1: language code "ace" is written in several scripts in NLLB-200: use ace_Arab or ace_Latn/,
    ],
  ];
  for (const [name, lines, message] of cases) {
    it(name, () => {
      const p = file("jsonl", ...lines);
      assert.throws(
        () => readPairs([p]),
        (e: Error) => {
          assert.ok(e.message.startsWith(p + ":"), e.message);
          assert.match(e.message, message);
          assert.ok(!e.message.includes("\n"), "one line");
          return true;
        },
      );
    });
  }

  it("TSV rows", () => {
    const one = file("tsv", "q\tp", "only a query");
    throwsMessage(
      () => readPairs([one]),
      new RegExp(`^${esc(one)}:2: expected query<TAB>positive\\[<TAB>negative...\\], got one column`),
    );
    const empty = file("tsv", "q\t\tn");
    throwsMessage(() => readPairs([empty]), new RegExp(`^${esc(empty)}:1: column 2 \\(positive\\) is empty`));
  });

  it("empty and missing files", () => {
    const empty = file("jsonl", "", "  ");
    throwsMessage(
      () => readPairs([empty]),
      new RegExp(`^training pairs ${esc(empty)} hold no pairs: give JSONL rows`),
    );
    const header = file("tsv", "query\tpositive");
    assert.throws(() => readPairs([header]), /hold no pairs/);
    const missing = join(root, "missing.jsonl");
    throwsMessage(
      () => readPairs([missing]),
      new RegExp(`^training pairs ${esc(missing)}: file not found; check --data`),
    );
    assert.throws(() => readPairs([]), /no training pairs given/);
  });
});

/** Throws an Error whose message matches `re` (anchors apply to the message, not "Error: ..."). */
function throwsMessage(fn: () => unknown, re: RegExp): void {
  assert.throws(fn, (e: Error) => {
    assert.match(e.message, re);
    return true;
  });
}

function esc(s: string): string {
  return s.replace(/[.*+?^${}()|[\]\\]/g, "\\$&");
}
