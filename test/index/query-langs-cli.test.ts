// `xlir search --json` says which languages the query was read in, and `xlir search` warns on stderr
// when analysis leaves no word of the query (stop words only), on the README's quick start.
import assert from "node:assert/strict";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, it } from "node:test";
import { runXlir } from "../helpers/cli.ts";
import { repoRoot } from "../helpers/shared.ts";

const home = mkdtempSync(join(tmpdir(), "xlir-query-langs-cli-"));
after(() => rmSync(home, { recursive: true, force: true }));
const xlir = (...args: string[]) =>
  runXlir(args, { timeout: 120_000, env: { ...process.env, XLIR_HOME: home } });
const lines = (stdout: string) =>
  stdout
    .split("\n")
    .filter((l) => l !== "")
    .map((l) => JSON.parse(l) as { id: string; score: number; lang: string; queryLangs: string[] });

it("reports the query's languages in --json and warns when only stop words are left", () => {
  const input = join(repoRoot, "data", "flores-sample", "passages.jsonl");
  const made = xlir("index", "flores", "--model", "bm25", "--input", input);
  assert.equal(made.status, 0, made.stderr);

  const auto = xlir("search", "flores", "diabetes", "--json");
  assert.equal(auto.status, 0, auto.stderr);
  const hits = lines(auto.stdout);
  const english = lines(xlir("search", "flores", "diabetes", "--lang", "en", "--json").stdout);
  assert.ok(english.length > 0);
  assert.equal(hits[0].id, english[0].id);
  assert.equal(hits[0].score, english[0].score);
  for (const h of hits) {
    assert.equal(h.queryLangs.length, 10);
    assert.ok(h.queryLangs.includes("eng_Latn") && h.queryLangs.includes("spa_Latn"));
  }
  for (const h of english) assert.deepEqual(h.queryLangs, ["eng_Latn"]);

  const stop = xlir("search", "flores", "the of and", "--lang", "en", "--json");
  assert.equal(stop.status, 0, stop.stderr);
  assert.equal(stop.stdout, "");
  assert.match(stop.stderr, /warning: .*no words to search for in eng_Latn/);
  assert.doesNotMatch(auto.stderr, /warning/);
});
