// XQuAD-R (LAReQA format) on the real files in ../shared/data/xquad-r: the counts of its README,
// the answer sentence of known questions, both task settings, and the errors a user can cause.
import assert from "node:assert/strict";
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, describe, test } from "node:test";
import {
  lareqaPairTask,
  lareqaPooledTask,
  listLareqaLangs,
  loadXquadR,
  parseLareqa,
  type LareqaLang,
} from "../../src/eval/datasets/lareqa.ts";
import { sharedDir } from "../helpers/shared.ts";

const dir = join(sharedDir, "data", "xquad-r");
const tmp = mkdtempSync(join(tmpdir(), "xlir-lareqa-"));
after(() => rmSync(tmp, { recursive: true, force: true }));

// The table of ../shared/data/README.md (and of the LAReQA README): candidates per language.
// prettier-ignore
const CANDIDATES: Record<string, number> = {
  ar: 1222, de: 1276, el: 1234, en: 1180, es: 1215, hi: 1244, ru: 1219, th: 852, tr: 1167, vi: 1209, zh: 1196,
};
const LANGS = Object.keys(CANDIDATES);

const all: LareqaLang[] = loadXquadR(dir);
const byLang = new Map(all.map((l) => [l.lang, l]));

describe("XQuAD-R per language", () => {
  test("the folder lists the 11 languages", () => assert.deepEqual(listLareqaLangs(dir), LANGS));

  for (const lang of LANGS) {
    test(`${lang}: 1190 questions, ${CANDIDATES[lang]} candidates, every gold a candidate of ${lang}`, () => {
      const l = byLang.get(lang)!;
      assert.equal(l.questions.length, 1190);
      assert.equal(l.candidates.length, CANDIDATES[lang]);
      const ids = new Set(l.candidates.map((c) => c.id));
      assert.equal(ids.size, l.candidates.length, "candidate ids are unique");
      for (const q of l.questions) assert.ok(ids.has(q.gold), `${q.id} -> ${q.gold}`);
      assert.ok(l.questions.every((q) => q.id.startsWith(`${lang}/`) && q.lang === lang));
    });
  }

  test("a known question: its gold sentence holds its answer, in English, German and Chinese", () => {
    const want = { en: "711,988", de: "711.988", zh: "711,988" };
    for (const [lang, answer] of Object.entries(want)) {
      const l = byLang.get(lang)!;
      const q = l.questions.find((x) => x.squadId === "57338007d058e614000b5bdb")!;
      assert.equal(q.id, `${lang}/57338007d058e614000b5bdb`);
      assert.equal(q.answer, answer);
      // Article 1 (Warsaw), paragraph 2, sentence 1: positions are parallel across languages here.
      assert.equal(q.gold, `${lang}/1.2.1`);
      const gold = l.candidates.find((c) => c.id === q.gold)!;
      assert.ok(gold.text.includes(answer), gold.text);
      assert.equal(gold.title, "Warsaw");
      assert.ok(gold.context.includes(gold.text));
    }
    assert.equal(
      byLang.get("en")!.questions.find((x) => x.squadId === "57338007d058e614000b5bdb")!.text,
      "What was Warsaw's population in 1901?",
    );
  });

  test("nearly every gold sentence contains its answer text (the rest run past the sentence end)", () => {
    for (const l of all) {
      const text = new Map(l.candidates.map((c) => [c.id, c.text]));
      const misses = l.questions.filter((q) => !text.get(q.gold)!.includes(q.answer)).length;
      assert.ok(misses <= 21, `${l.lang}: ${misses} answers outside their sentence`);
    }
  });

  test("a subset of languages loads in the order asked", () =>
    assert.deepEqual(
      loadXquadR(dir, ["zh", "en"]).map((l) => l.lang),
      ["zh", "en"],
    ));
});

describe("XQuAD-R tasks", () => {
  test("per pair (de queries, zh candidates): 1190 queries, one relevant zh sentence each", () => {
    const t = lareqaPairTask(byLang.get("de")!, byLang.get("zh")!);
    assert.equal(t.queries.length, 1190);
    assert.equal(t.corpus.length, CANDIDATES.zh);
    assert.ok(t.corpus.every((d) => d.lang === "zh") && t.queries.every((q) => q.lang === "de"));
    const docs = new Set(t.corpus.map((d) => d.id));
    for (const q of t.queries) {
      const rel = t.qrels.get(q.id)!;
      assert.equal(rel.size, 1);
      const [doc, grade] = [...rel][0];
      assert.ok(docs.has(doc) && grade === 1);
    }
    assert.deepEqual([...t.qrels.get("de/57338007d058e614000b5bdb")!], [["zh/1.2.1", 1]]);
  });

  test("per pair with X_Q = X_C is the monolingual task", () => {
    const en = byLang.get("en")!;
    const t = lareqaPairTask(en, en);
    for (const q of en.questions) assert.deepEqual([...t.qrels.get(q.id)!.keys()], [q.gold]);
  });

  test("pooled: 13,090 queries over 13,014 candidates, 11 relevant per query, one per language", () => {
    const t = lareqaPooledTask(all);
    assert.equal(t.queries.length, 13090);
    assert.equal(t.corpus.length, 13014);
    assert.equal(new Set(t.corpus.map((d) => d.id)).size, 13014);
    assert.equal(t.qrels.size, 13090);
    for (const [qid, rel] of t.qrels) {
      assert.equal(rel.size, 11, qid);
      assert.deepEqual(new Set([...rel.keys()].map((d) => d.split("/")[0])), new Set(LANGS));
    }
    // The same question in two languages has the same relevant set.
    assert.deepEqual(t.qrels.get("en/57338007d058e614000b5bdb"), t.qrels.get("th/57338007d058e614000b5bdb"));
  });

  test("a question missing from the candidate language (MLQA-R) is left out of that pair", () => {
    const para = (ids: string[]) => ({
      data: [
        {
          title: "t",
          paragraphs: [
            {
              context: "One. Two.",
              sentences: ["One.", "Two."],
              sentence_breaks: [
                [0, 4],
                [5, 9],
              ],
              qas: ids.map((id) => ({ id, question: "?", answers: [{ text: "Two", answer_start: 5 }] })),
            },
          ],
        },
      ],
    });
    const x = parseLareqa(para(["a", "b"]), "x");
    const y = parseLareqa(para(["b"]), "y");
    const t = lareqaPairTask(x, y);
    assert.deepEqual(
      t.queries.map((q) => q.id),
      ["x/b"],
    );
    assert.deepEqual([...t.qrels.get("x/b")!], [["y/0.0.1", 1]]);
    const pooled = lareqaPooledTask([x, y]);
    assert.deepEqual([...pooled.qrels.get("x/a")!.keys()], ["x/0.0.1"]);
    assert.deepEqual([...pooled.qrels.get("y/b")!.keys()], ["x/0.0.1", "y/0.0.1"]);
  });
});

describe("LAReQA errors", () => {
  const file = (name: string, body: string) => {
    writeFileSync(join(tmp, name), body);
    return name.replace(/\.json$/, "");
  };
  const one = (qa: object, breaks = [[0, 4]]) =>
    JSON.stringify({
      data: [
        {
          title: "t",
          paragraphs: [{ context: "One.", sentences: ["One."], sentence_breaks: breaks, qas: [qa] }],
        },
      ],
    });

  test("a missing folder or language names it and what there is", () => {
    assert.throws(() => loadXquadR(join(tmp, "nope")), /nope: no such folder/);
    assert.throws(() => loadXquadR(dir, ["en", "xx"]), /no xx\.json; languages there: ar, de, el, en/);
    assert.throws(() => loadXquadR(dir, ["en", "en"]), /"en" asked for twice/);
  });

  test("invalid JSON names the file and the line", () => {
    const l = file("bad.json", '{"data": [\n  {"title": "t",,}\n]}');
    assert.throws(() => loadXquadR(tmp, [l]), /bad\.json:2:\d+: invalid JSON/);
  });

  test("a SQuAD file without sentence breaks is named as not LAReQA", () => {
    const l = file(
      "squad.json",
      JSON.stringify({ data: [{ title: "t", paragraphs: [{ context: "x", qas: [] }] }] }),
    );
    assert.throws(
      () => loadXquadR(tmp, [l]),
      /squad\.json: data\[0\]\.paragraphs\[0\]: "sentences" is not a list of strings; this is not a LAReQA/,
    );
  });

  test("an answer start outside every sentence names the question", () => {
    const l = file("far.json", one({ id: "q1", question: "?", answers: [{ text: "x", answer_start: 40 }] }));
    assert.throws(
      () => loadXquadR(tmp, [l]),
      /far\.json: data\[0\]\.paragraphs\[0\]\.qas\[0\]: answer_start 40 of question "q1"/,
    );
  });

  test("duplicate question ids are an error", () => {
    const qa = { id: "q1", question: "?", answers: [{ text: "O", answer_start: 0 }] };
    const body = JSON.stringify({
      data: [
        {
          title: "t",
          paragraphs: [{ context: "One.", sentences: ["One."], sentence_breaks: [[0, 4]], qas: [qa, qa] }],
        },
      ],
    });
    assert.throws(() => loadXquadR(tmp, [file("dup.json", body)]), /qas\[1\]: question id "q1" occurs twice/);
  });

  test("the pooled task refuses a language given twice", () =>
    assert.throws(() => lareqaPooledTask([byLang.get("en")!, byLang.get("en")!]), /"en" given twice/));
});
