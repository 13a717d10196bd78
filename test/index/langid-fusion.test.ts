// Small pure pieces of the retrieval engine: language identification (src/text/langid.ts) on
// FLORES-200 sentences, rank fusion, filters and document scores.
import assert from "node:assert/strict";
import { readFileSync } from "node:fs";
import { join } from "node:path";
import { describe, it } from "node:test";
import { docsFromChunks, parseDocScore } from "../../src/index/doc-score.ts";
import { allowedDocs, parseFilters } from "../../src/index/filter.ts";
import { langWhere } from "../../src/index/lance-store.ts";
import { minMax, reciprocalRankFusion, weightedFusion } from "../../src/index/fusion.ts";
import {
  loadLanguageDetector,
  loadLanguageGuesser,
  scriptLanguage,
  wordCount,
} from "../../src/text/langid.ts";
import { sharedDir } from "../helpers/shared.ts";

describe("language identification", () => {
  it("names FLORES-200 sentences' languages as NLLB codes, and says und when it cannot tell", async () => {
    const detect = await loadLanguageDetector();
    const flores = (code: string) =>
      readFileSync(join(sharedDir, "data", "flores200", "devtest", `${code}.devtest`), "utf8")
        .split("\n")
        .slice(0, 50);
    for (const code of [
      "eng_Latn",
      "deu_Latn",
      "spa_Latn",
      "rus_Cyrl",
      "arb_Arab",
      "hin_Deva",
      "zho_Hans",
      "jpn_Jpan",
      "tha_Thai",
      "ell_Grek",
      "kor_Hang",
      "tur_Latn",
      "vie_Latn",
    ]) {
      const right = flores(code).filter((s) => detect(s) === code).length;
      assert.ok(right >= 45, `${code}: ${right}/50`);
    }
    // Khmer: not one of ELD's languages, but only Khmer is written in its script
    assert.ok(flores("khm_Khmr").filter((s) => detect(s) === "khm_Khmr").length >= 45);
    // Zulu: ELD does not know it and says so; no wrong guess
    assert.ok(flores("zul_Latn").filter((s) => detect(s) === "und").length >= 45);
    assert.equal(detect(""), "und");
    assert.equal(scriptLanguage("ສະບາຍດີ"), "lao_Laoo");
    assert.equal(scriptLanguage("hello"), "und");
  });

  it("trusts its answer on sentences, never on a word or three (search then reads every language)", async () => {
    const detect = await loadLanguageDetector();
    const guess = await loadLanguageGuesser();
    const flores = (code: string) =>
      readFileSync(join(sharedDir, "data", "flores200", "devtest", `${code}.devtest`), "utf8")
        .split("\n")
        .slice(0, 50);
    for (const code of ["eng_Latn", "spa_Latn", "deu_Latn", "rus_Cyrl", "zho_Hans", "jpn_Jpan", "hin_Deva"]) {
      const sentences = flores(code);
      const sure = sentences.filter((s) => {
        const g = guess(s);
        assert.equal(g.lang, detect(s), s);
        return g.confident && g.lang === code;
      }).length;
      assert.ok(sure >= 45, `${code}: confident and right on ${sure}/50`);
      if (!code.endsWith("Latn") && !code.endsWith("Cyrl")) continue;
      for (const n of [1, 2, 3]) {
        for (const s of sentences) {
          const words = s.split(/\s+/).slice(0, n).join(" ");
          if (wordCount(words) < 4) assert.equal(guess(words).confident, false, words);
        }
      }
    }
    // ELD calls "diabetes" reliably Dutch; one word is not enough to act on
    assert.deepEqual(guess("diabetes"), { lang: detect("diabetes"), confident: false });
    // an answer it cannot give ("und": Zulu is not one of ELD's languages) is never confident
    assert.ok(flores("zul_Latn").filter((s) => !guess(s).confident).length >= 45);
    assert.equal(wordCount("the city, of 2 towns"), 5);
  });
});

describe("fusion", () => {
  const dense = [
    { id: "a", score: 0.9 },
    { id: "b", score: 0.5 },
    { id: "c", score: 0.1 },
  ];
  const bm25 = [
    { id: "c", score: 12 },
    { id: "d", score: 6 },
  ];
  it("RRF adds 1 / (60 + rank) over the lists", () => {
    const f = reciprocalRankFusion([dense, bm25]);
    assert.deepEqual(
      f.map((x) => x.id),
      ["c", "a", "b", "d"],
    );
    assert.equal(f[0].score, 1 / 63 + 1 / 61);
    assert.deepEqual(f[0].parts, [0.1, 12]);
    assert.deepEqual(f[3].parts, [undefined, 6]);
  });
  it("weighted fusion min-max normalises each list", () => {
    assert.deepEqual(
      minMax([0.9, 0.5, 0.1]).map((x) => +x.toFixed(12)),
      [1, 0.5, 0],
    );
    assert.deepEqual(minMax([3]), [1]);
    const f = weightedFusion([dense, bm25], [0.25, 0.75]);
    assert.deepEqual(
      f.map((x) => [x.id, +x.score.toFixed(12)]),
      [
        ["c", 0.75],
        ["a", 0.25],
        ["b", 0.125],
        ["d", 0],
      ],
    );
    assert.throws(() => weightedFusion([dense], [0.5, 0.5]), /fusion weights must be 1 numbers/);
  });
});

describe("filters and document scores", () => {
  it("parses conditions, resolves language codes and matches metadata", () => {
    const f = parseFilters(["lang=de,ru", "topic!=sports", "source.site=wiki"]);
    assert.deepEqual(f[0], { field: "lang", negate: false, values: ["deu_Latn", "rus_Cyrl"] });
    const mask = allowedDocs(
      f,
      ["deu_Latn", "rus_Cyrl", "deu_Latn", "eng_Latn"],
      [
        JSON.stringify({ topic: "news", source: { site: "wiki" } }),
        JSON.stringify({ topic: ["sports", "news"], source: { site: "wiki" } }),
        JSON.stringify({ source: { site: "blog" } }),
        JSON.stringify({ source: { site: "wiki" } }),
      ],
    );
    assert.deepEqual([...mask!], [1, 0, 0, 0]);
    assert.deepEqual(
      [...allowedDocs(parseFilters(["year=2020"]), ["und", "und"], ['{"year":2020}', '{"year":"2021"}'])!],
      [1, 0],
    );
    assert.equal(langWhere(f), "lang IN ('deu_Latn', 'rus_Cyrl')");
    assert.throws(() => parseFilters(["lang=xx-nope"]), /xx-nope/);
    assert.throws(() => parseFilters(["topic"]), /write FIELD=VALUE/);
  });
  it("aggregates chunks into documents by max or by the sum of the best k", () => {
    const chunks = [
      { chunk: 0, score: 0.2 },
      { chunk: 1, score: 0.9 },
      { chunk: 2, score: 0.8 },
      { chunk: 3, score: 0.5 },
      { chunk: 4, score: 0.45 },
    ];
    const docOf = (c: number) => [0, 0, 1, 1, 1][c];
    assert.deepEqual(docsFromChunks(chunks, docOf, parseDocScore("max"), 5), [
      { doc: 0, score: 0.9, chunk: 1 },
      { doc: 1, score: 0.8, chunk: 2 },
    ]);
    const sum = docsFromChunks(chunks, docOf, parseDocScore("sum:2"), 5);
    assert.deepEqual(
      sum.map((d) => [d.doc, +d.score.toFixed(9), d.chunk]),
      [
        [1, 1.3, 2],
        [0, 1.1, 1],
      ],
    );
    assert.equal(docsFromChunks(chunks, docOf, parseDocScore("sum"), 1)[0].score.toFixed(9), "1.750000000");
    assert.throws(() => parseDocScore("avg"), /use max, sum or sum:K/);
  });
});
