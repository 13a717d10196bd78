// `xlir mine` as a user runs it: a BM25 collection of real XQuAD-R sentences, questions paired with
// the sentence that answers them, negatives mined within --ranks and checked against what
// `xlir search` ranks for the same queries; near-duplicates of the positive never come back.
import assert from "node:assert/strict";
import { existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, before, describe, it } from "node:test";
import { nearDuplicate } from "../../src/index/mine.ts";
import { runXlir } from "../helpers/cli.ts";
import { sharedDir } from "../helpers/shared.ts";
import { tinyBertDir } from "../helpers/tiny-models.ts";

const root = mkdtempSync(join(tmpdir(), "xlir-cli-mine-"));
after(() => rmSync(root, { recursive: true, force: true }));
const home = join(root, "home");
const xlir = (...args: string[]) => runXlir(args, { home });

interface Paragraph {
  context: string;
  sentences: string[];
  sentence_breaks: [number, number][];
  qas: { question: string; answers: { answer_start: number }[] }[];
}
const squad = JSON.parse(readFileSync(join(sharedDir, "data", "xquad-r", "en.json"), "utf8")) as {
  data: { paragraphs: Paragraph[] }[];
};
const paragraphs = squad.data.flatMap((a) => a.paragraphs).slice(0, 6);

// documents: every sentence of six paragraphs, plus two near-duplicates of the first positive
const docs = new Map<string, string>(); // id -> text
const idOfText = new Map<string, string>();
const addDoc = (id: string, text: string) => {
  if (idOfText.has(text)) return;
  docs.set(id, text);
  idOfText.set(text, id);
};
const pairs = paragraphs.map((p, pi) => {
  p.sentences.forEach((s, si) => addDoc(`p${pi}s${si}`, s));
  const q = p.qas[0];
  const at = q.answers[0].answer_start;
  const si = Math.max(
    0,
    p.sentence_breaks.findIndex(([a, b]) => at >= a && at < b),
  );
  return { id: `q${pi}`, query: q.question, positive: p.sentences[si], lang: "en" };
});
const firstPositive = pairs[0].positive;
addDoc("dup-case", `  ${firstPositive.toUpperCase().replace(/ /g, "   ")}`);
addDoc("dup-contains", `${firstPositive} ${paragraphs[5].sentences[0]}`);

const corpus = join(root, "docs.jsonl");
writeFileSync(corpus, [...docs].map(([id, text]) => JSON.stringify({ id, text })).join("\n") + "\n");
const data = join(root, "pairs.jsonl");
writeFileSync(data, pairs.map((p) => JSON.stringify(p)).join("\n") + "\n");

type Row = { id?: string; query: string; positive: string; negatives: string[]; lang?: string };
const readJsonl = (path: string): Row[] =>
  readFileSync(path, "utf8")
    .trim()
    .split("\n")
    .map((l) => JSON.parse(l) as Row);

describe("xlir mine", () => {
  let ranked: Map<string, string[]>; // query id -> doc ids by rank (xlir search --topics)

  before(() => {
    const r = xlir("index", "sents", "--model", "bm25", "--input", corpus, "--lang", "en");
    assert.equal(r.status, 0, r.stderr);
    const topics = join(root, "topics.jsonl");
    writeFileSync(
      topics,
      pairs.map((p) => JSON.stringify({ id: p.id, text: p.query, lang: "en" })).join("\n"),
    );
    const run = join(root, "run.trec");
    const s = xlir("search", "sents", "--topics", topics, "--run", run, "--k", "8");
    assert.equal(s.status, 0, s.stderr);
    ranked = new Map();
    for (const line of readFileSync(run, "utf8").trim().split("\n")) {
      const [qid, , doc, rank] = line.split(" ");
      const list = ranked.get(qid) ?? [];
      assert.equal(Number(rank), list.length + 1);
      list.push(doc);
      ranked.set(qid, list);
    }
  });

  it("mines negatives ranked within --ranks, from the collection, never the positive or a near-duplicate", () => {
    const out = join(root, "mined.jsonl");
    const r = xlir(
      "mine",
      "--collection",
      "sents",
      "--data",
      data,
      "--ranks",
      "1-8",
      "--num",
      "3",
      "--out",
      out,
    );
    assert.equal(r.status, 0, r.stderr);
    assert.match(r.stderr, /xlir: wrote .*mined\.jsonl: 6 rows, \d+ negatives/);
    assert.equal(r.stdout, "");
    assert.ok(!existsSync(`${out}.partial`));
    const rows = readJsonl(out);
    assert.equal(rows.length, pairs.length);
    // a query whose words only its own sentence holds gets none (and is reported); most get 3
    assert.ok(rows.filter((row) => row.negatives.length === 3).length >= 4);
    const short = rows.filter((row) => row.negatives.length < 3).length;
    if (short) assert.match(r.stderr, new RegExp(`; ${short} rows got fewer than 3 \\(widen --ranks`));
    // the first query's top ranks hold its positive and both near-duplicates: the exclusion is tested
    const top0 = ranked.get("q0")!;
    for (const id of ["dup-case", "dup-contains", idOfText.get(firstPositive)!])
      assert.ok(top0.includes(id), `${id} ranks within 1-8 for q0: ${top0.join(" ")}`);

    rows.forEach((row, i) => {
      const { id, query, positive, lang } = pairs[i];
      assert.deepEqual(
        { id: row.id, query: row.query, positive: row.positive, lang: row.lang },
        { id, query, positive, lang },
      );
      assert.ok(row.negatives.length <= 3, JSON.stringify(row.negatives));
      const ids = row.negatives.map((n) => {
        const d = idOfText.get(n);
        assert.ok(d !== undefined, `negative not in the collection: ${n}`);
        assert.notEqual(n, positive);
        assert.ok(!nearDuplicate(n, positive), `near-duplicate of the positive: ${n}`);
        return d!;
      });
      assert.ok(!ids.includes("dup-case") && !ids.includes("dup-contains"));
      // --sampling top: the best-ranked hits in range that are not the positive or near it, in order
      const expected = ranked
        .get(id)!
        .filter((d) => !nearDuplicate(docs.get(d)!, positive))
        .slice(0, 3);
      assert.deepEqual(ids, expected, query);
    });
  });

  it("respects the lower rank too, reads TSV, and agrees with a single xlir search", () => {
    const tsv = join(root, "pairs.tsv");
    writeFileSync(tsv, "query\tpositive\n" + pairs.map((p) => `${p.query}\t${p.positive}`).join("\n") + "\n");
    const out = join(root, "mined-tsv.jsonl");
    const r = xlir(
      "mine",
      "--collection",
      "sents",
      "--data",
      tsv,
      "--ranks",
      "4-6",
      "--num",
      "5",
      "--lang",
      "en",
      "--out",
      out,
    );
    assert.equal(r.status, 0, r.stderr);
    const rows = readJsonl(out);
    assert.deepEqual(Object.keys(rows[0]), ["query", "positive", "negatives", "lang"]);
    assert.equal(rows[0].lang, "eng_Latn");
    assert.ok(rows.filter((row) => row.negatives.length > 0).length >= 4);
    const one = xlir("search", "sents", pairs[1].query, "--lang", "en", "--k", "8", "--json");
    assert.equal(one.status, 0, one.stderr);
    const hits = one.stdout
      .trim()
      .split("\n")
      .map((l) => JSON.parse(l) as { id: string; rank: number });
    assert.deepEqual(
      hits.map((h) => h.id),
      ranked.get("q1"),
    );
    rows.forEach((row, i) => {
      const list = ranked.get(pairs[i].id)!;
      assert.ok(row.negatives.length <= 3);
      for (const n of row.negatives) {
        const rank = list.indexOf(idOfText.get(n)!) + 1;
        assert.ok(rank >= 4 && rank <= 6, `rank ${rank} outside 4-6: ${n}`);
      }
    });
  });

  it("mines a dense collection by its own encoder, dropping chunks of the positive's document", () => {
    // a tiny BERT with 16-token windows: hits are chunks, and a chunk of the positive is contained in it
    const model = tinyBertDir({ parent: root, seed: 3 });
    const r = xlir("index", "dense", "--model", model, "--input", corpus, "--lang", "en", "--threads", "1");
    assert.equal(r.status, 0, r.stderr);
    const topics = join(root, "topics.jsonl");
    const run = join(root, "dense.trec");
    const s = xlir("search", "dense", "--topics", topics, "--run", run, "--k", "6", "--threads", "1");
    assert.equal(s.status, 0, s.stderr);
    const list = (qid: string) =>
      readFileSync(run, "utf8")
        .trim()
        .split("\n")
        .map((l) => l.split(" "))
        .filter((f) => f[0] === qid)
        .map((f) => f[2]);
    const out = join(root, "mined-dense.jsonl");
    const m = xlir(
      "mine",
      "--collection",
      "dense",
      "--data",
      data,
      "--ranks",
      "2-6",
      "--num",
      "2",
      "--out",
      out,
    );
    assert.equal(m.status, 0, m.stderr);
    assert.match(m.stderr, /mining 6 pairs in "dense" \(dense\), ranks 2-6/);
    const rows = readJsonl(out);
    assert.ok(rows.filter((row) => row.negatives.length === 2).length >= 4);
    rows.forEach((row, i) => {
      const ranked = list(pairs[i].id).slice(1); // ranks 2-6
      for (const n of row.negatives) {
        assert.ok(!nearDuplicate(n, pairs[i].positive), n);
        assert.ok(!pairs[i].positive.includes(n), n);
        const from = [...docs].filter(([, text]) => text.includes(n)).map(([id]) => id);
        assert.ok(from.length > 0, `negative not in the collection: ${n}`);
        assert.ok(
          from.some((id) => ranked.includes(id)),
          `${n} is from ${from.join(", ")}, not ranked 2-6: ${ranked.join(" ")}`,
        );
      }
    });
  });

  it("refuses bad --ranks, an unknown collection and a missing data file in one line", () => {
    const out = join(root, "never.jsonl");
    const run = (...extra: string[]) => {
      const r = xlir("mine", "--collection", "sents", "--data", data, "--out", out, ...extra);
      assert.equal(r.status, 1);
      assert.equal(r.stdout, "");
      assert.equal(r.stderr.trim().split("\n").length, 1, r.stderr);
      assert.ok(r.stderr.startsWith("xlir: "), r.stderr);
      return r.stderr;
    };
    assert.match(run("--ranks", "50-10"), /--ranks.*'50-10' is invalid.*FROM <= TO/);
    assert.match(run("--ranks", "abc"), /--ranks.*'abc' is invalid.*give the ranks as FROM-TO/);
    assert.match(run("--ranks", "0-5"), /ranks start at 1/);
    const unknown = xlir("mine", "--collection", "nope", "--data", data, "--ranks", "1-5", "--out", out);
    assert.match(unknown.stderr, /^xlir: no collection "nope" in .*: the collections there are .*sents/);
    const missing = join(root, "missing.jsonl");
    const m = xlir("mine", "--collection", "sents", "--data", missing, "--ranks", "1-5", "--out", out);
    assert.equal(m.stderr, `xlir: training pairs ${missing}: file not found; check --data\n`);
    assert.ok(!existsSync(out) && !existsSync(`${out}.partial`));
  });
});
