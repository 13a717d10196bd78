// A collection remembers how its documents were embedded: the prefixes (given with
// --query-prefix/--passage-prefix, or decided from the model) and a fingerprint of the model's
// weights. Later searches and additions use those prefixes; a model at the same path with other
// weights is refused (one line naming the path and the fix) unless --allow-model-change; older
// collections that record neither still load and search as before. Real child processes.
import assert from "node:assert/strict";
import { cpSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, it } from "node:test";
import { Encoder } from "../../src/encode/encoder.ts";
import { Collection } from "../../src/index/collection.ts";
import { manifestPath } from "../../src/index/manifest.ts";
import { collectionPath } from "../../src/index/home.ts";
import { writeRandomCheckpoint } from "../../src/models/random.ts";
import { runXlir } from "../helpers/cli.ts";
import { tinyBertDir } from "../helpers/tiny-models.ts";

const root = mkdtempSync(join(tmpdir(), "xlir-collection-model-"));
after(() => rmSync(root, { recursive: true, force: true }));
const home = join(root, "home");
const model = tinyBertDir({ parent: root, seed: 3 });
const docs = ["the cat sat on the mat", "a dog ran far", "hello world"];
const input = join(root, "docs.jsonl");
writeFileSync(
  input,
  docs.map((text, i) => JSON.stringify({ id: `d${i}`, text, lang: "en" })).join("\n") + "\n",
);
const more = join(root, "more.jsonl");
writeFileSync(more, JSON.stringify({ id: "d9", text: "small big cat", lang: "en" }) + "\n");

const xlir = (...args: string[]) => runXlir(args, { home, timeout: 120_000 });
/** Runs xlir and expects success (stderr in the message when not). */
const ok = (...args: string[]) => {
  const r = xlir(...args);
  assert.equal(r.status, 0, `xlir ${args.join(" ")}: ${r.stderr}${r.error ?? ""}`);
  return r;
};
const oneLine = (stderr: string) => {
  assert.equal(stderr.trim().split("\n").length, 1, stderr);
  return stderr;
};
const encoderOf = async (name: string) => {
  const col = await Collection.open(name, { home });
  try {
    const e = col.manifest.encoder;
    assert.equal(e.kind, "dense");
    return e.kind === "dense" ? e : assert.fail();
  } finally {
    await col.close();
  }
};
const hits = (name: string, query: string, ...extra: string[]) => {
  const s = ok("search", name, query, "--json", "--threads", "1", ...extra);
  return s.stdout
    .trim()
    .split("\n")
    .map((l) => JSON.parse(l) as { id: string; score: number });
};

it("--query-prefix/--passage-prefix are recorded and every later search and addition uses them", async () => {
  const prompts = { query: "query: ", passage: "passage: " };
  const prefixFlags = ["--query-prefix", prompts.query, "--passage-prefix", prompts.passage];
  const r = ok("index", "pre", "--model", model, "--input", input, "--threads", "1", ...prefixFlags);
  assert.doesNotMatch(r.stderr, /prefixes/, "given prefixes need no advice");
  const spec = await encoderOf("pre");
  assert.deepEqual(spec.prompts, prompts);
  assert.match(spec.fingerprint ?? "", /^sha256:[0-9a-f]{64}$/);
  // search scores = cosine of the prefixed query and the prefixed documents
  const enc = await Encoder.load(model, { threads: 1, prompts });
  const q = await enc.embed(["cat on a mat"], { role: "query" });
  const d = await enc.embed(docs, { role: "passage" });
  await enc.close();
  const dim = q.dims[1];
  const cos = (i: number) =>
    d.data.subarray(i * dim, (i + 1) * dim).reduce((s, v, k) => s + v * q.data[k], 0);
  const got = hits("pre", "cat on a mat", "--k", "3");
  for (const h of got) assert.ok(Math.abs(h.score - cos(Number(h.id.slice(1)))) < 1e-4, h.id);
  // the same through --model (the collection's prefixes, not the model's guess)
  assert.deepEqual(hits("pre", "cat on a mat", "--k", "3", "--model", model), got);
  // additions use them too; other prefixes are refused
  ok("index", "pre", "--input", more, "--threads", "1");
  const bad = xlir("index", "pre", "--input", more, "--query-prefix", "search: ");
  assert.equal(bad.status, 1);
  assert.match(
    oneLine(bad.stderr),
    /cannot use collection "pre" with prefixes query "search: " \/ passage "passage: ": it was built with query "query: " \/ passage "passage: "; leave --query-prefix\/--passage-prefix out/,
  );
  // without prefixes, the same model and documents score differently: the record is what matched
  ok("index", "plain", "--model", model, "--input", input, "--threads", "1");
  assert.deepEqual((await encoderOf("plain")).prompts, { query: "", passage: "" });
  assert.notDeepEqual(hits("plain", "cat on a mat", "--k", "3"), got);
});

it("a model whose weights changed at the same path is refused for search and indexing, unless allowed", async () => {
  const m = join(root, "changing-model");
  cpSync(model, m, { recursive: true });
  ok("index", "fp", "--model", m, "--input", input, "--threads", "1");
  const before = hits("fp", "cat");
  // retrained: the same config and shapes, other values
  const config = JSON.parse(readFileSync(join(m, "config.json"), "utf8"));
  writeRandomCheckpoint(m, config, 99);
  const fix = new RegExp(
    `^xlir: the model at ${m.replace(/[.*+?^${}()|[\]\\]/g, "\\$&")} has changed since collection "fp" was built \\(its config\\.json or weights differ\\): restore that model, index into a new collection, or pass --allow-model-change to .* it anyway\\n$`,
  );
  for (const r of [
    xlir("search", "fp", "cat"),
    xlir("search", "fp", "cat", "--model", m),
    xlir("index", "fp", "--input", more),
    xlir("index", "fp", "--model", m, "--input", more),
  ]) {
    assert.equal(r.status, 1);
    assert.match(oneLine(r.stderr), fix);
  }
  const allowed = hits("fp", "cat", "--allow-model-change");
  assert.notDeepEqual(allowed, before);
  // the collection was not touched by the refused additions
  const col = await Collection.open("fp", { home });
  assert.deepEqual((await col.store.readDocs()).ids.sort(), ["d0", "d1", "d2"]);
  await col.close();
  ok("index", "fp", "--input", more, "--allow-model-change", "--threads", "1");
});

it("an older collection without prefixes or fingerprint loads and searches as before", async () => {
  const m = join(root, "old-e5-model");
  cpSync(model, m, { recursive: true });
  ok("index", "old", "--model", m, "--input", input, "--threads", "1");
  const before = hits("old", "cat");
  const file = manifestPath(collectionPath("old", home));
  const manifest = JSON.parse(readFileSync(file, "utf8"));
  delete manifest.encoder.prompts;
  delete manifest.encoder.fingerprint;
  writeFileSync(file, JSON.stringify(manifest, null, 2));
  // the name-guessed prefixes, as before: the same results
  assert.deepEqual(hits("old", "cat"), before);
  // no fingerprint recorded: new weights are not checked
  writeRandomCheckpoint(m, JSON.parse(readFileSync(join(m, "config.json"), "utf8")), 98);
  ok("search", "old", "cat");
});
