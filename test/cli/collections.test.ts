// `xlir collections list | info | check [--repair]` and `xlir search` on damaged collections, as a
// user runs them: list goes on past a broken collection, every command that opens a damaged one
// fails in one line naming the damaged file, check names it (text and --json), repair fixes BM25.
import assert from "node:assert/strict";
import { rmSync, mkdtempSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, before, it } from "node:test";
import { Collection } from "../../src/index/collection.ts";
import { addDocuments } from "../../src/index/indexer.ts";
import { tableFiles } from "../../src/index/lance-files.ts";
import { type LanceStore, tableDir } from "../../src/index/lance-store.ts";
import { runXlir } from "../helpers/cli.ts";

const root = mkdtempSync(join(tmpdir(), "xlir-cli-collections-"));
after(() => rmSync(root, { recursive: true, force: true }));
const home = join(root, "home");
const xlir = (...args: string[]) => runXlir(args, { env: { ...process.env, XLIR_HOME: home } });
const dirOf = (name: string) => join(home, "collections", name);

let lostFile = "";
before(async () => {
  // built in this process: every xlir run below is a process start
  const texts = [
    "Mount Etna is the most active volcano in Europe.",
    "Bees make honey from the nectar of flowers.",
    "Lava from the volcano reached the village.",
  ];
  for (const name of ["alpha", "broken", "lost"]) {
    const col = await Collection.openOrCreate(name, { home, model: "bm25" });
    try {
      await addDocuments(
        col,
        texts.map((text, i) => ({ id: "abc"[i], text, lang: "en", source: `test:${i}` })),
      );
    } finally {
      await col.close();
    }
  }
});

it("list reports a collection with a corrupt collection.json or a lost data file and lists the rest", async () => {
  writeFileSync(join(dirOf("broken"), "collection.json"), "{ not json");
  const col = await Collection.open("lost", { home });
  try {
    const version = await (col.store as LanceStore).docs.version();
    [lostFile] = tableFiles(tableDir(col.dir, "documents"), version).data;
  } finally {
    await col.close();
  }
  rmSync(lostFile);

  const r = xlir("collections", "list");
  assert.equal(r.status, 1, r.stderr);
  const lines = r.stdout.trim().split("\n");
  assert.equal(lines.length, 3, r.stdout);
  assert.equal(lines[0], "alpha\t3 documents\tbm25 (lexical only)");
  assert.match(lines[1], /^broken\tdamaged: .*broken\/collection\.json is not valid JSON/);
  assert.ok(lines[2].startsWith("lost\tdamaged: ") && lines[2].includes(lostFile), lines[2]);
  const json = xlir("collections", "list", "--json")
    .stdout.trim()
    .split("\n")
    .map((l) => JSON.parse(l));
  assert.deepEqual(
    json.map((j) => [j.name, j.documents ?? null, typeof j.error]),
    [
      ["alpha", 3, "undefined"],
      ["broken", null, "string"],
      ["lost", null, "string"],
    ],
  );
});

it("info, search and check name the lost data file in one line", () => {
  for (const args of [
    ["collections", "info", "lost"],
    ["search", "lost", "volcano", "--lang", "en"],
  ]) {
    const r = xlir(...args);
    assert.equal(r.status, 1, args.join(" "));
    assert.equal(r.stdout, "");
    const err = r.stderr.trimEnd();
    assert.ok(!err.includes("\n") && err.startsWith("xlir: "), err);
    assert.ok(err.includes(lostFile), err);
    assert.ok(err.includes("xlir collections check lost --repair"), err);
  }
  const check = xlir("collections", "check", "lost", "--json");
  assert.equal(check.status, 1);
  const report = JSON.parse(check.stdout);
  assert.deepEqual(
    report.problems.map((p: { kind: string; file: string }) => [p.kind, p.file]),
    [["table", lostFile]],
  );
  const repair = xlir("collections", "check", "lost", "--repair");
  assert.equal(repair.status, 1);
  const lines = repair.stdout.trim().split("\n");
  assert.ok(lines[0].startsWith(`${lostFile} is missing: cannot repair`), repair.stdout);
  assert.ok(lines[1].startsWith(`left: ${lostFile} is missing: cannot repair`), repair.stdout);
  assert.match(lines[1], /: re-index the collection from the source with xlir index lost --input FILE/);
});

it("check --repair rebuilds a lost BM25 file; search answers as before", () => {
  const query = ["search", "alpha", "volcano lava", "--lang", "en", "--json"];
  const want = xlir(...query).stdout;
  rmSync(join(dirOf("alpha"), "bm25.xlir"));
  const check = xlir("collections", "check", "alpha");
  assert.equal(check.status, 1);
  assert.match(check.stdout, /alpha\/bm25\.xlir is missing .*: --repair rebuilds it/);
  const repair = xlir("collections", "check", "alpha", "--repair");
  assert.equal(repair.status, 0, repair.stdout + repair.stderr);
  assert.match(repair.stdout, /^repaired: rebuilt and saved the BM25 index over 3 chunks$/m);
  assert.match(repair.stdout, /collection "alpha" is sound: 3 documents, 3 chunks\n$/);
  assert.equal(xlir(...query).stdout, want);
  assert.notEqual(want, "");
});
