// Where an encoder's query/passage prefixes come from: the checkpoint's own files first, so a
// model folder copied under another name embeds exactly as before; the hub id (also when loaded
// by its cache path); the caller's prefixes over everything; the name only as a guess, said out
// loud; and a warning when nothing is known. Tiny random BERTs the test makes.

import assert from "node:assert/strict";
import { cpSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, before, test } from "node:test";
import { Encoder, type EncoderOptions } from "../../src/encode/encoder.ts";
import { writeNllbE5Folder } from "../../src/models/nllb-e5-folder.ts";
import { resolveModel } from "../../src/weights/hub.ts";
import { isolateHubEnv, sha1Hex, startFakeHub, type FakeHub } from "../helpers/hub-server.ts";
import { tinyBertDir, tinyNllbDir, wordE5Dir } from "../helpers/tiny-models.ts";

const root = mkdtempSync(join(tmpdir(), "xlir-prompts-"));
const bert = tinyBertDir({ parent: root });
const e5Named = join(root, "multilingual-e5-tiny");
cpSync(bert, e5Named, { recursive: true });
const texts = ["the cat sat on the mat", "dog"];

async function embedBoth(dir: string, opts: EncoderOptions = {}) {
  const warnings: string[] = [];
  const enc = await Encoder.load(dir, { threads: 1, warn: (m) => warnings.push(m), ...opts });
  try {
    const q = await enc.embed(texts, { role: "query" });
    const p = await enc.embed(texts, { role: "passage" });
    return { q: q.data, p: p.data, warnings, settings: enc.settings };
  } finally {
    await enc.close();
  }
}
const same = (a: Float32Array, b: Float32Array) => a.every((v, i) => Math.abs(v - b[i]) < 1e-6);

let hub: FakeHub;
let restoreEnv: () => void;
before(async () => {
  restoreEnv = isolateHubEnv();
  const files = Object.fromEntries(readdirSync(bert).map((f) => [f, readFileSync(join(bert, f))]));
  hub = await startFakeHub([
    { id: "org/tiny-e5", commits: [{ sha: sha1Hex("e5-1"), files }], refs: { main: sha1Hex("e5-1") } },
  ]);
});
after(async () => {
  await hub?.close();
  restoreEnv?.();
  rmSync(root, { recursive: true, force: true });
});

test("a name-hinted E5 folder gets query:/passage:, with a warning that they were guessed", async () => {
  const e = await embedBoth(e5Named);
  assert.deepEqual(e.settings.prompts, { query: "query: ", passage: "passage: " });
  assert.equal(e.settings.promptSource, "name");
  assert.equal(e.warnings.length, 1);
  assert.match(
    e.warnings[0],
    /^xlir: prefixes "query: "\/"passage: " for .*multilingual-e5-tiny were guessed from its name: set them with --query-prefix\/--passage-prefix/,
  );
});

test("config_sentence_transformers.json prompts: a renamed copy embeds as the E5-named folder", async () => {
  const renamed = join(root, "my-retriever");
  cpSync(bert, renamed, { recursive: true });
  writeFileSync(
    join(renamed, "config_sentence_transformers.json"),
    JSON.stringify({ prompts: { query: "query: ", passage: "passage: " }, default_prompt_name: null }),
  );
  const [named, copy] = [await embedBoth(e5Named), await embedBoth(renamed)];
  assert.equal(copy.settings.promptSource, "sentence-transformers");
  assert.deepEqual(copy.warnings, []);
  assert.ok(same(named.q, copy.q) && same(named.p, copy.p), "the copy must embed as the original");
  // the same weights without the config: no prefixes, other vectors, and a warning saying so
  const bare = await embedBoth(bert);
  assert.ok(!same(bare.q, copy.q));
  assert.deepEqual(bare.settings.prompts, { query: "", passage: "" });
  assert.equal(bare.warnings.length, 1);
  assert.match(
    bare.warnings[0],
    /^xlir: no query\/passage prefixes known for .*xlir-bert-\w+: give --query-prefix\/--passage-prefix if it expects them$/,
  );
});

test("a config's default_prompt_name applies to a role it names no prompt for; 'document' is the passage", async () => {
  const dir = join(root, "st-default");
  cpSync(bert, dir, { recursive: true });
  writeFileSync(
    join(dir, "config_sentence_transformers.json"),
    JSON.stringify({
      prompts: { retrieval: "query: ", document: "passage: " },
      default_prompt_name: "retrieval",
    }),
  );
  const e = await embedBoth(dir);
  assert.deepEqual(e.settings.prompts, { query: "query: ", passage: "passage: " });
  const named = await embedBoth(e5Named);
  assert.ok(same(e.q, named.q) && same(e.p, named.p));
});

test("prefixes given by the caller win, one role at a time", async () => {
  const given = await embedBoth(bert, { prompts: { query: "query: ", passage: "passage: " } });
  const named = await embedBoth(e5Named);
  assert.equal(given.settings.promptSource, "given");
  assert.deepEqual(given.warnings, []);
  assert.ok(same(given.q, named.q) && same(given.p, named.p));
  const onlyQuery = await embedBoth(e5Named, { prompts: { query: "" } });
  assert.deepEqual(onlyQuery.settings.prompts, { query: "", passage: "passage: " });
  assert.ok(!same(onlyQuery.q, named.q) && same(onlyQuery.p, named.p));
});

test("a hub model keeps its id's prefixes when loaded by its cache snapshot path, with no warning", async () => {
  const hubOpts = { endpoint: hub.url, cacheDir: join(root, "hub-cache") };
  const byId = await embedBoth("org/tiny-e5", { hub: hubOpts });
  assert.equal(byId.settings.promptSource, "hub id");
  assert.deepEqual(byId.settings.prompts, { query: "query: ", passage: "passage: " });
  const snapshot = await resolveModel("org/tiny-e5", hubOpts);
  assert.match(snapshot, /models--org--tiny-e5[/\\]snapshots[/\\][0-9a-f]{40}$/);
  const byPath = await embedBoth(snapshot);
  assert.equal(byPath.settings.promptSource, "hub id");
  assert.deepEqual([...byId.warnings, ...byPath.warnings], []);
  assert.ok(same(byId.q, byPath.q) && same(byId.p, byPath.p));
});

test("an NLLB-E5 folder records its E5 prefixes and needs no guess, whatever it is named", async () => {
  const nllb = tinyNllbDir({ parent: root });
  const e5 = wordE5Dir(["hello", "world"], { parent: root, d: 16 });
  const vocab = JSON.parse(readFileSync(join(e5, "tokenizer.json"), "utf8")).model.vocab;
  const [dN, hidden, dE] = [16, 8, 16];
  const t = (dims: number[]) => ({
    data: new Float32Array(dims.reduce((a, b) => a * b, 1)).fill(0.01),
    dims,
  });
  const out = join(root, "student-without-a-hint");
  writeNllbE5Folder(out, {
    nllbDir: nllb,
    e5Dir: e5,
    studentEncoder: nllb,
    teacher: e5,
    spec: {
      projectionDims: [dN, hidden, dE],
      projectionActivation: "none",
      prefixIds: { query: [2, vocab.query, vocab[":"]], passage: [2, vocab.passage, vocab[":"]] },
      sepId: 3,
      lora: null,
      maxNllbTokens: 32,
    },
    projection: new Map([
      ["proj.0.weight", t([hidden, dN])],
      ["proj.0.bias", t([hidden])],
      ["proj.1.weight", t([dE, hidden])],
      ["proj.1.bias", t([dE])],
    ]),
  });
  assert.deepEqual(JSON.parse(readFileSync(join(out, "nllb_e5.json"), "utf8")).prefixes, {
    query: "query: ",
    passage: "passage: ",
  });
  const e = await embedBoth(out);
  assert.equal(e.settings.promptSource, "recorded");
  assert.deepEqual(e.warnings, []);
});
