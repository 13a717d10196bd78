// Tatoeba, FLORES-200 devtest and NLLB-Seed on the real files in ../shared/data: the languages
// each folder has, line counts from ../shared/data/README.md, alignment, and the errors.
import assert from "node:assert/strict";
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, describe, test } from "node:test";
import { readBitext, readLines } from "../../src/eval/datasets/bitext.ts";
import { listFloresLangs, loadFlores } from "../../src/eval/datasets/flores.ts";
import { listNllbSeedLangs, loadNllbSeed } from "../../src/eval/datasets/nllb-seed.ts";
import { listTatoebaLangs, loadTatoeba } from "../../src/eval/datasets/tatoeba.ts";
import { sharedDir } from "../helpers/shared.ts";

const data = join(sharedDir, "data");
const tmp = mkdtempSync(join(tmpdir(), "xlir-bitext-"));
after(() => rmSync(tmp, { recursive: true, force: true }));

describe("Tatoeba", () => {
  const dir = join(data, "tatoeba");
  const langs = listTatoebaLangs(dir);

  test("80 xx-eng pairs, 66,504 sentence pairs, every pair aligned", () => {
    assert.equal(langs.length, 80);
    assert.ok(langs.includes("deu") && langs.includes("tzl") && !langs.includes("eng"));
    let total = 0;
    for (const l of langs) {
      const b = loadTatoeba(dir, l);
      assert.equal(b.src.length, b.tgt.length, l);
      assert.ok(b.src.every((s) => s !== "") && b.tgt.every((s) => s !== ""), `${l}: no empty lines`);
      total += b.src.length;
    }
    assert.equal(total, 66504);
  });

  test("deu-eng: 1000 lines, the README's first pair; 'de' finds deu", () => {
    const b = loadTatoeba(dir, "deu");
    assert.deepEqual([b.srcLang, b.tgtLang, b.src.length], ["deu", "eng", 1000]);
    assert.equal(b.src[0], "Maria sagte, sie wisse nicht, wo Tom sei.");
    assert.equal(b.tgt[0], "Mary said she didn't know where Tom was.");
    assert.deepEqual(loadTatoeba(dir, "de"), b);
  });

  test("small pairs have the README's counts", () => {
    const want = { arz: 477, ast: 127, swg: 112, tzl: 104, orv: 835 };
    for (const [l, n] of Object.entries(want)) assert.equal(loadTatoeba(dir, l).src.length, n, l);
  });

  test("an unknown pair lists the pairs there", () =>
    assert.throws(() => loadTatoeba(dir, "xyz"), /no Tatoeba pair "xyz-eng" .*pairs there: afr, ara, arq/));
});

describe("FLORES-200 devtest", () => {
  const dir = join(data, "flores200");
  const langs = listFloresLangs(dir);

  test("41 languages, 1012 lines each, all line-aligned", () => {
    assert.equal(langs.length, 41);
    assert.ok(langs.includes("eng_Latn") && langs.includes("zho_Hans"));
    for (const l of langs) {
      const b = loadFlores(dir, l, "eng_Latn");
      assert.equal(b.src.length, 1012, l);
      assert.equal(b.tgt.length, 1012, l);
    }
  });

  test("hin_Deva-eng_Latn: codes, the README's first English line, short codes resolve", () => {
    const b = loadFlores(dir, "hin_Deva", "eng_Latn");
    assert.deepEqual([b.srcLang, b.tgtLang], ["hin_Deva", "eng_Latn"]);
    assert.equal(
      b.tgt[0],
      '"We now have 4-month-old mice that are non-diabetic that used to be diabetic," he added.',
    );
    assert.deepEqual(loadFlores(dir, "hi", "en"), b);
    assert.deepEqual(loadFlores(join(dir, "devtest"), "hin_Deva", "eng_Latn"), b, "the split folder itself");
  });

  test("a language not in the subset, or a split not there, is a clear error", () => {
    assert.throws(
      () => loadFlores(dir, "fra_Latn", "eng_Latn"),
      /no language "fra_Latn"; languages there: amh_Ethi/,
    );
    assert.throws(() => listFloresLangs(dir, { split: "dev" }), /no <lang>\.dev files/);
  });
});

describe("NLLB-Seed", () => {
  const dir = join(data, "nllb-seed");
  const langs = listNllbSeedLangs(dir);

  test("40 languages, 6193 lines each, all line-aligned", () => {
    assert.equal(langs.length, 40);
    for (const l of langs) assert.equal(readLines(join(dir, l)).length, 6193, l);
  });

  test("fur_Latn-eng_Latn: the README's first lines", () => {
    const b = loadNllbSeed(dir, "fur", "eng_Latn");
    assert.deepEqual(
      [b.srcLang, b.tgtLang, b.src.length, b.tgt.length],
      ["fur_Latn", "eng_Latn", 6193, 6193],
    );
    assert.ok(b.src[0].startsWith("Lillian Diana Gish (14 di Otubar 1893"));
    assert.ok(b.tgt[0].startsWith("Lillian Diana Gish (October 14, 1893"));
  });

  test("an unknown language lists those there", () =>
    assert.throws(
      () => loadNllbSeed(dir, "deu_Latn", "eng_Latn"),
      /no language "deu_Latn"; languages there: ace_Arab/,
    ));
});

describe("line files", () => {
  test("CRLF, a BOM and a missing final newline are not part of the lines; spaces are", () => {
    const f = join(tmp, "crlf.txt");
    writeFileSync(f, "\ufeffone \r\ntwo\r\nthree");
    assert.deepEqual(readLines(f), ["one ", "two", "three"]);
    writeFileSync(f, "");
    assert.deepEqual(readLines(f), []);
  });

  test("unequal line counts name both files", () => {
    const d = join(tmp, "tatoeba");
    mkdirSync(d);
    writeFileSync(join(d, "tatoeba.abc-eng.abc"), "a\nb\n");
    writeFileSync(join(d, "tatoeba.abc-eng.eng"), "a\n");
    assert.throws(
      () => loadTatoeba(d, "abc"),
      /tatoeba\.abc-eng\.abc has 2 lines but .*tatoeba\.abc-eng\.eng has 1: line-aligned files must have equal line counts/,
    );
  });

  test("missing files and folders are named", () => {
    assert.throws(
      () => readBitext(join(tmp, "x"), join(tmp, "y"), "x", "y"),
      /x: cannot read \(no such file\)/,
    );
    assert.throws(() => listTatoebaLangs(join(tmp, "nope")), /nope: no such folder; pass the Tatoeba/);
    assert.throws(() => listNllbSeedLangs(tmp), /no <lang>_<Script> files/);
  });
});
