// `xlir search NAME --topics FILE --run OUT.trec`: every topic in one process, the same hits as one
// `xlir search` per query, resumable; and the warnings a script would otherwise never see.
import assert from "node:assert/strict";
import { existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, before, it } from "node:test";
import { readTopics } from "../../src/eval/topics.ts";
import { runXlir } from "../helpers/cli.ts";
import { repoRoot } from "../helpers/shared.ts";

const root = mkdtempSync(join(tmpdir(), "xlir-search-topics-"));
after(() => rmSync(root, { recursive: true, force: true }));
const home = join(root, "home");
const xlir = (...args: string[]) => runXlir(args, { home, timeout: 120_000 });
const passages = join(repoRoot, "data", "flores-sample", "passages.jsonl");
const queries: [string, string][] = [
  ["q1", "diabetes research on mice"],
  ["q2", "earthquake near Tonga"],
  ["q3", "Olympic swimmer Commonwealth Games"],
];

before(() => {
  const r = xlir("index", "flores", "--model", "bm25", "--input", passages);
  assert.equal(r.status, 0, r.stderr);
});

/** One `xlir search --json` per query, as TREC lines. */
function oneByOne(k: number): string {
  return queries
    .map(([qid, q]) => {
      const r = xlir("search", "flores", q, "--lang", "en", "--k", String(k), "--json");
      assert.equal(r.status, 0, r.stderr);
      return r.stdout
        .trim()
        .split("\n")
        .map((l) => JSON.parse(l))
        .map((h) => `${qid} Q0 ${h.id} ${h.rank} ${h.score} xlir\n`)
        .join("");
    })
    .join("");
}

it("a TSV or JSONL topics file gives the run one search per query would", () => {
  const expected = oneByOne(5);
  const tsv = join(root, "topics.tsv");
  writeFileSync(tsv, queries.map(([id, q]) => `${id}\t${q}\n`).join(""));
  const jsonl = join(root, "queries.jsonl");
  writeFileSync(jsonl, queries.map(([id, q]) => JSON.stringify({ _id: id, text: q }) + "\n").join(""));
  for (const topics of [tsv, jsonl]) {
    const run = join(root, `run-${topics.endsWith("tsv") ? "tsv" : "jsonl"}.trec`);
    const r = xlir("search", "flores", "--topics", topics, "--run", run, "--lang", "en", "--k", "5");
    assert.equal(r.status, 0, r.stderr);
    assert.equal(readFileSync(run, "utf8"), expected);
    assert.equal(existsSync(`${run}.partial`), false);
  }
});

it("a run cut short resumes after the queries already written", () => {
  const expected = oneByOne(5);
  const tsv = join(root, "topics.tsv");
  const run = join(root, "resumed.trec");
  // what a crash leaves: q1 whole, and half a line of q2
  const q1 = expected.split("\n").filter((l) => l.startsWith("q1 "));
  writeFileSync(`${run}.partial`, q1.join("\n") + "\nq2 Q0 12");
  const r = xlir("search", "flores", "--topics", tsv, "--run", run, "--lang", "en", "--k", "5");
  assert.equal(r.status, 0, r.stderr);
  assert.match(r.stderr, /3 topics \(1 resumed/);
  assert.equal(readFileSync(run, "utf8"), expected);
});

it("topics files with problems get one line naming the line", () => {
  const bad = join(root, "bad.tsv");
  writeFileSync(bad, "q1\tfine\nq2 no tab here\n");
  assert.throws(() => readTopics(bad), /bad\.tsv:2: write qid<TAB>query text/);
  writeFileSync(bad, "q1\tfine\nq1\tagain\n");
  assert.throws(() => readTopics(bad), /bad\.tsv:2: topic id "q1" appears twice/);
  const r = xlir("search", "flores", "--topics", bad);
  assert.equal(r.status, 1);
  assert.match(r.stderr, /^xlir: --topics needs --run OUT\.trec/);
});

it("a filter on a field no document has is warned about", () => {
  const r = xlir("search", "flores", "diabetes", "--lang", "en", "--filter", "topc=science");
  assert.equal(r.status, 0, r.stderr);
  assert.match(r.stderr, /warning: --filter topc: no document has a metadata field "topc"/);
  const ok = xlir("search", "flores", "diabetes", "--lang", "en", "--filter", "lang=en");
  assert.equal(ok.stderr, "");
});
