// `xlir eval run --query-prefix/--passage-prefix`: the prefixes reach the encoder, and embeddings
// made with them are cached apart from those made without (a cache hit would report the other
// model's numbers).
import assert from "node:assert/strict";
import { mkdtempSync, readFileSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, test } from "node:test";
import { runXlir } from "../helpers/cli.ts";
import { sharedDir } from "../helpers/shared.ts";
import { tinyBertDir } from "../helpers/tiny-models.ts";

const root = mkdtempSync(join(tmpdir(), "xlir-eval-prefix-"));
after(() => rmSync(root, { recursive: true, force: true }));
const model = tinyBertDir({ parent: root });

const evalRun = (out: string, ...extra: string[]) => {
  // prettier-ignore
  const args = [
    "eval", "run", "tatoeba", "--model", model, "--data", join(sharedDir, "data"),
    "--langs", "deu", "--limit", "4", "--threads", "1", "--no-runs",
    "--cache", join(root, "cache"), "--output", join(root, out), ...extra,
  ];
  const r = runXlir(args, { timeout: 120_000 });
  assert.equal(r.status, 0, r.stderr);
  return {
    stderr: r.stderr,
    modelKey: JSON.parse(readFileSync(join(root, out, "metrics.json"), "utf8")).modelKey,
  };
};

test("prefixed embeddings are their own cache entries and their own model key", () => {
  const plain = evalRun("plain");
  assert.equal(evalRun("plain-again").modelKey, plain.modelKey);
  const prefixed = evalRun("prefixed", "--query-prefix", "query: ", "--passage-prefix", "passage: ");
  assert.notEqual(prefixed.modelKey, plain.modelKey);
  assert.match(prefixed.stderr, /embeddings: 0 cached, \d+ encoded/);
  assert.doesNotMatch(prefixed.stderr, /no query\/passage prefixes known/);
});
