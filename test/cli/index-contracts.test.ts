// What a script can rely on from `xlir index`: counts that add up (duplicate ids included), nothing
// left behind by a run that failed before its first commit, and exit code 130 after Ctrl-C.
import assert from "node:assert/strict";
import { spawn } from "node:child_process";
import { existsSync, mkdirSync, mkdtempSync, rmSync, symlinkSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, describe, it } from "node:test";
import { Collection } from "../../src/index/collection.ts";
import { collectionPath } from "../../src/index/home.ts";
import { runXlir } from "../helpers/cli.ts";
import { repoRoot } from "../helpers/shared.ts";

const root = mkdtempSync(join(tmpdir(), "xlir-index-contracts-"));
after(() => rmSync(root, { recursive: true, force: true }));
const home = join(root, "home");
const xlir = (...args: string[]) => runXlir(args, { home });
const file = (name: string, lines: string[]) => {
  const p = join(root, name);
  writeFileSync(p, lines.join("\n") + "\n");
  return p;
};
const doc = (id: string, text: string) => JSON.stringify({ id, text, lang: "en" });
const texts = async (name: string) => {
  const col = await Collection.open(name, { home });
  try {
    // bm25 collections keep one chunk per document, "ID#0", holding its text
    const c = await col.store.readChunkTexts();
    return new Map(c.ids.map((id, i) => [id.replace(/#0$/, ""), c.texts[i]]));
  } finally {
    await col.close();
  }
};

describe("duplicate ids in one input", () => {
  const input = file("dups.jsonl", [
    doc("a", "one cat"),
    doc("b", "two dogs"),
    doc("a", "three cats"),
    doc("c", "four birds"),
    doc("b", "two dogs"),
  ]);

  it("are counted and reported, and the last one is kept by default", async () => {
    const r = xlir("index", "last", "--model", "bm25", "--input", input, "--batch-size", "2", "--json");
    assert.equal(r.status, 0, r.stderr);
    const done = JSON.parse(r.stdout.trim().split("\n").at(-1)!);
    assert.deepEqual([done.read, done.added, done.updated, done.unchanged, done.duplicates], [5, 3, 0, 0, 2]);
    assert.equal(done.read, done.added + done.updated + done.unchanged + done.duplicates);
    assert.deepEqual(
      done.duplicateExamples.map((d: { id: string; source: string }) => [d.id, d.source.split(":").at(-1)]),
      [
        ["a", "3"],
        ["b", "5"],
      ],
    );
    assert.match(
      r.stderr,
      /2 document\(s\) repeat an id .*kept the last.*"a" at .*dups\.jsonl:3 \(first at .*dups\.jsonl:1\)/,
    );
    assert.equal((await texts("last")).get("a"), "three cats");
  });

  it("--on-duplicate first keeps the first; error stops at the repeat naming both lines", async () => {
    const r = xlir("index", "first", "--model", "bm25", "--input", input, "--on-duplicate", "first");
    assert.equal(r.status, 0, r.stderr);
    assert.match(r.stdout, /5 documents read .*3 added, 0 updated, 0 unchanged, 2 duplicate ids/);
    assert.equal((await texts("first")).get("a"), "one cat");
    const e = xlir("index", "strict", "--model", "bm25", "--input", input, "--on-duplicate", "error");
    assert.equal(e.status, 1);
    assert.match(
      e.stderr,
      /dups\.jsonl:3: document id "a" was already read at .*dups\.jsonl:1: make ids unique/,
    );
    assert.deepEqual([...(await texts("strict")).keys()].sort(), ["a", "b"]); // what came before is kept
  });
});

describe("a first run that fails leaves no collection behind", () => {
  const good = file("good.jsonl", [doc("a", "some text")]);
  const cases: [string, string[], RegExp][] = [
    ["bad-lang", ["--input", good, "--lang", "xx"], /--lang xx: unknown language code "xx"/],
    [
      "bad-first-line",
      ["--input", file("bad.jsonl", ['{"id": "a", "text": "broken'])],
      /bad\.jsonl:1: not valid JSON/,
    ],
  ];
  for (const [name, args, want] of cases)
    it(name, () => {
      const r = xlir("index", name, "--model", "bm25", ...args);
      assert.equal(r.status, 1);
      assert.match(r.stderr, want);
      assert.equal(existsSync(collectionPath(name, home)), false, "collection folder left behind");
    });

  it("a broken symbolic link in an input folder", () => {
    const dir = join(root, "folder");
    mkdirSync(dir);
    writeFileSync(join(dir, "a.txt"), "hello world");
    symlinkSync(join(root, "no-such-target.txt"), join(dir, "b.txt"));
    const r = xlir("index", "linked", "--model", "bm25", "--input", dir);
    assert.equal(r.status, 1);
    assert.match(r.stderr, /folder[/\\]b\.txt cannot be read \(ENOENT: a broken link\?\): fix or remove it/);
    assert.equal(existsSync(collectionPath("linked", home)), false);
  });
});

it("Ctrl-C commits what was read, exits 130, and a rerun resumes", async () => {
  const words = ["river", "stone", "cloud", "field", "light", "north", "glass", "paper"];
  const lines = Array.from({ length: 3000 }, (_, i) =>
    doc(`d${i}`, `${words[i % 8]} ${words[(i * 3) % 8]} number ${i}`),
  );
  const input = file("many.jsonl", lines);
  const args = ["index", "interrupted", "--model", "bm25", "--input", input, "--batch-size", "10", "--json"];
  const code = await new Promise<number | null>((resolve, reject) => {
    const child = spawn(process.execPath, [join(repoRoot, "bin", "xlir.js"), ...args, "--home", home]);
    let out = "";
    let sent = false;
    child.stdout.on("data", (b: Buffer) => {
      out += b.toString();
      if (!sent && out.split("\n").filter((l) => l.includes('"progress"')).length >= 2) {
        sent = true;
        child.kill("SIGINT");
      }
    });
    child.on("error", reject);
    child.on("exit", (c) => resolve(c));
  });
  assert.equal(code, 130);
  const partial = (await texts("interrupted")).size;
  assert.ok(partial > 0 && partial < lines.length, `${partial} committed`);
  const rerun = xlir(...args);
  assert.equal(rerun.status, 0, rerun.stderr);
  const done = JSON.parse(rerun.stdout.trim().split("\n").at(-1)!);
  assert.equal(done.unchanged, partial);
  assert.equal(done.added, lines.length - partial);
});
