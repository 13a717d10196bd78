// Bad input to `xlir index` / `xlir search`: one line on stderr naming the input and the fix, exit
// code 1, and nothing that was indexed before is lost.
import assert from "node:assert/strict";
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, it } from "node:test";
import { Collection } from "../../src/index/collection.ts";
import { addDocuments } from "../../src/index/indexer.ts";
import { readDocuments } from "../../src/index/ingest.ts";
import { runXlir } from "../helpers/cli.ts";
import { tinyBertDir } from "../helpers/tiny-models.ts";

const root = mkdtempSync(join(tmpdir(), "xlir-index-errors-"));
after(() => rmSync(root, { recursive: true, force: true }));
const home = join(root, "home");

const xlir = (...args: string[]) => runXlir(args, { home });
const file = (name: string, lines: string[]) => {
  const p = join(root, name);
  writeFileSync(p, lines.join("\n") + "\n");
  return p;
};
const doc = (id: string, text: string, extra: object = {}) =>
  JSON.stringify({ id, text, lang: "en", ...extra });
const oneLine = (stderr: string) => {
  assert.equal(stderr.trim().split("\n").length, 1, stderr);
  return stderr;
};
const count = async (name: string) => {
  const col = await Collection.open(name, { home });
  try {
    return (await col.store.readDocs()).ids.sort();
  } finally {
    await col.close();
  }
};

it("a malformed JSONL line names the file and line, and keeps every document indexed before it", async () => {
  const first = file("first.jsonl", [doc("a", "the cat sat on the mat"), doc("b", "a dog ran far")]);
  assert.equal(xlir("index", "c1", "--model", "bm25", "--input", first).status, 0);
  const bad = file("bad.jsonl", [
    doc("c", "small big cat"),
    doc("d", "mat on the floor"),
    '{"id": "e", "text": "broken',
    doc("f", "never read"),
  ]);
  const r = xlir("index", "c1", "--input", bad, "--batch-size", "1");
  assert.equal(r.status, 1);
  assert.match(oneLine(r.stderr), /bad\.jsonl:3: not valid JSON .*each line must be one JSON object/);
  assert.deepEqual(await count("c1"), ["a", "b", "c", "d"]);
  // with a big batch the lines before the bad one are committed too
  const r2 = xlir("index", "c1", "--input", file("bad2.jsonl", [doc("g", "one more text"), "[1, 2]"]));
  assert.match(oneLine(r2.stderr), /bad2\.jsonl:2: not a JSON object/);
  assert.deepEqual(await count("c1"), ["a", "b", "c", "d", "g"]);
  const s = xlir("search", "c1", "cat", "--lang", "en", "--json");
  assert.equal(s.status, 0, s.stderr);
  assert.deepEqual(
    s.stdout
      .trim()
      .split("\n")
      .map((l) => JSON.parse(l).id)
      .sort(),
    ["a", "c"],
  );
});

it("a missing text field, an empty document and a bad language name the line", async () => {
  const noText = file("notext.jsonl", [doc("a", "fine"), JSON.stringify({ id: "b", body: "x" })]);
  assert.match(
    oneLine(xlir("index", "c2", "--model", "bm25", "--input", noText).stderr),
    /notext\.jsonl:2: document "b" has no string field "text"/,
  );
  const empty = file("empty.jsonl", [doc("c", "fine too"), doc("d", "   ")]);
  const r = xlir("index", "c2", "--input", empty);
  assert.equal(r.status, 1);
  assert.match(
    oneLine(r.stderr),
    /empty\.jsonl:2: document "d" has empty text: give it text, drop it, or pass --skip-empty/,
  );
  assert.equal(xlir("index", "c2", "--input", empty, "--skip-empty").status, 0);
  assert.deepEqual(await count("c2"), ["a", "c"]);
  // the same checks in-process (no process start per case): ids, languages, TSV columns
  const read = async (p: string) => {
    for await (const d of readDocuments(p)) void d;
  };
  await assert.rejects(
    read(file("noid.jsonl", [JSON.stringify({ text: "x" })])),
    /noid\.jsonl:1: no "id" \(or "_id"\) field/,
  );
  await assert.rejects(
    read(file("bad.tsv", ["x1\tok", "just one column"])),
    /bad\.tsv:2: expected "id<TAB>text"/,
  );
  const col = await Collection.open("c2", { home });
  try {
    const lang = file("lang.jsonl", [doc("e", "text", { lang: "klingon" })]);
    await assert.rejects(
      addDocuments(col, readDocuments(lang)),
      /lang\.jsonl:1: "lang" of document "e": .*klingon/,
    );
  } finally {
    await col.close();
  }
  assert.deepEqual(await count("c2"), ["a", "c"]);
});

it("an encoder other than the collection's is refused, for indexing and for search", async () => {
  const m1 = tinyBertDir({ parent: root, seed: 1 });
  const m2 = tinyBertDir({ parent: root, seed: 2, d: 32 });
  const input = file("pets.jsonl", [doc("a", "the cat sat on the mat"), doc("b", "dog ran far")]);
  assert.equal(xlir("index", "dense", "--model", m1, "--input", input, "--threads", "1").status, 0);
  const r = xlir("index", "dense", "--model", m2, "--input", input);
  assert.equal(r.status, 1);
  assert.match(
    oneLine(r.stderr),
    /cannot index into collection "dense" with .*xlir-bert-.* \(32 dims.*it was built with .*\(16 dims, cosine, max 16 tokens\); use that model \(or leave --model out\), or create a new collection/,
  );
  assert.match(
    oneLine(xlir("index", "dense", "--model", "bm25", "--input", input).stderr),
    /cannot index into collection "dense" with bm25/,
  );
  assert.match(
    oneLine(xlir("search", "dense", "cat", "--model", m2).stderr),
    /cannot search collection "dense" with .*32 dims/,
  );
  // the collection is untouched, and its own encoder still searches it
  const s = xlir("search", "dense", "cat", "--json", "--k", "1");
  assert.equal(s.status, 0, s.stderr);
  assert.ok(["a", "b"].includes(JSON.parse(s.stdout).id));
  // a lexical collection takes no dense queries
  assert.equal(xlir("index", "lex", "--model", "bm25", "--input", input).status, 0);
  assert.match(
    oneLine(xlir("search", "lex", "cat", "--mode", "dense").stderr),
    /collection "lex" is lexical only .*use --mode bm25/,
  );
});

it("an unknown collection is named with the ones that exist", () => {
  for (const r of [
    xlir("search", "nope", "cat"),
    xlir("collections", "info", "nope"),
    xlir("index", "nope", "--delete", "a"),
  ]) {
    assert.equal(r.status, 1);
    assert.match(
      oneLine(r.stderr),
      /no collection "nope" in .*collections: the collections there are c1, c2/,
    );
  }
  assert.match(
    oneLine(xlir("index", "new", "--input", join(root, "pets.jsonl")).stderr),
    /collection "new" does not exist yet: give --model/,
  );
  assert.match(
    oneLine(xlir("index", "../x", "--model", "bm25", "--input", join(root, "pets.jsonl")).stderr),
    /collection name "\.\.\/x" is not allowed/,
  );
  assert.match(
    oneLine(xlir("search", "c1", "cat", "--filter", "lang").stderr),
    /--filter "lang": write FIELD=VALUE/,
  );
});
