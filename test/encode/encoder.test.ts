// The Encoder on tiny random models the test makes: rows in the caller's order whatever the
// batching, the family conventions (E5 prefixes, sentence-transformers settings, NLLB language
// codes), truncation with one warning, empty texts, and the bad inputs a user can cause.

import assert from "node:assert/strict";
import {
  cpSync,
  mkdirSync,
  mkdtempSync,
  readFileSync,
  renameSync,
  rmSync,
  truncateSync,
  writeFileSync,
} from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, test } from "node:test";
import { Encoder } from "../../src/encode/encoder.ts";
import { Checkpoint } from "../../src/models/checkpoint.ts";
import { encoderGraph } from "../../src/models/encoder-graph.ts";
import { Session } from "../../src/tensor/session.ts";
import { tinyBertDir, tinyNllbDir } from "../helpers/tiny-models.ts";

const root = mkdtempSync(join(tmpdir(), "xlir-encode-"));
after(() => rmSync(root, { recursive: true, force: true }));
const bert = tinyBertDir({ parent: root });
const nllb = tinyNllbDir({ parent: root });
const texts = ["the cat sat on the mat", "dog", "", "a big dog ran far . the small cat sat", "hello world"];

const row = (e: { data: Float32Array; dims: [number, number] }, i: number) =>
  e.data.subarray(i * e.dims[1], (i + 1) * e.dims[1]);
const close = (a: Float32Array, b: Float32Array, tol: number) => a.every((v, i) => Math.abs(v - b[i]) <= tol);

test("rows come back in input order, the same whatever the batch size, normalised", async () => {
  const small = await Encoder.load(bert, { batchSize: 2, threads: 1 });
  const one = await Encoder.load(bert, { batchSize: 1, threads: 1 });
  const a = await small.embed(texts);
  const b = await one.embed(texts);
  assert.deepEqual(a.dims, [texts.length, 16]);
  for (let i = 0; i < texts.length; i++) {
    assert.ok(close(row(a, i), row(b, i), 1e-5), `row ${i} depends on batching`);
    const norm = Math.hypot(...row(a, i));
    assert.ok(Math.abs(norm - 1) < 1e-5);
  }
  assert.ok(!close(row(a, 0), row(a, 1), 1e-3), "different texts must give different rows");
  await Promise.all([small.close(), one.close()]);
});

test("embedding = masked mean of last_hidden_state of the tokenized text, L2-normalised", async () => {
  const enc = await Encoder.load(bert, { threads: 1 });
  const ids = enc.tokenize(["the cat sat"])[0];
  assert.deepEqual(ids.length, 5); // [CLS] the cat sat [SEP]
  const ck = Checkpoint.open(bert);
  const s = await Session.create(encoderGraph(ck, { pooling: "mean", normalize: false }), { threads: 1 });
  const dims = [1, ids.length];
  const out = await s.run({
    input_ids: { dtype: "int64", dims, data: BigInt64Array.from(ids, BigInt) },
    attention_mask: { dtype: "int64", dims, data: BigInt64Array.from(ids, () => 1n) },
    token_type_ids: { dtype: "int64", dims, data: new BigInt64Array(ids.length) },
  });
  const h = out.last_hidden_state.data as Float32Array;
  const mean = new Float32Array(16);
  for (let t = 0; t < ids.length; t++) for (let k = 0; k < 16; k++) mean[k] += h[t * 16 + k] / ids.length;
  const n = Math.hypot(...mean);
  const got = row(await enc.embed(["the cat sat"]), 0);
  assert.ok(
    close(
      got,
      mean.map((v) => v / n),
      1e-5,
    ),
  );
  await Promise.all([s.release(), enc.close()]);
  ck.close();
});

test("E5 checkpoints get query:/passage: prefixes by role", async () => {
  const e5 = join(root, "multilingual-e5-tiny");
  cpSync(bert, e5, { recursive: true });
  const enc = await Encoder.load(e5, { threads: 1 });
  const vocab = JSON.parse(readFileSync(join(e5, "tokenizer.json"), "utf8")).model.vocab;
  assert.deepEqual(enc.tokenize(["cat"], { role: "query" })[0], [2, vocab.query, vocab[":"], vocab.cat, 3]);
  assert.deepEqual(enc.tokenize(["cat"], { role: "passage" })[0], [
    2,
    vocab.passage,
    vocab[":"],
    vocab.cat,
    3,
  ]);
  const q = await enc.embed(["cat"], { role: "query" });
  const p = await enc.embed(["cat"], { role: "passage" });
  assert.ok(!close(q.data, p.data, 1e-3));
  // a plain checkpoint gets no prefix
  const plain = await Encoder.load(bert, { threads: 1 });
  assert.deepEqual(plain.tokenize(["cat"], { role: "query" })[0], [2, vocab.cat, 3]);
  await Promise.all([enc.close(), plain.close()]);
});

test("a sentence-transformers folder's pooling and normalisation are honoured", async () => {
  const st = join(root, "st-cls");
  cpSync(bert, st, { recursive: true });
  writeFileSync(
    join(st, "modules.json"),
    JSON.stringify([
      { idx: 0, name: "0", path: "", type: "sentence_transformers.models.Transformer" },
      { idx: 1, name: "1", path: "1_Pooling", type: "sentence_transformers.models.Pooling" },
    ]),
  );
  mkdirSync(join(st, "1_Pooling"));
  writeFileSync(
    join(st, "1_Pooling", "config.json"),
    JSON.stringify({
      word_embedding_dimension: 16,
      pooling_mode_cls_token: true,
      pooling_mode_mean_tokens: false,
    }),
  );
  const enc = await Encoder.load(st, { threads: 1 });
  assert.equal(enc.settings.pooling, "cls");
  assert.equal(enc.settings.normalize, false);
  const e = await enc.embed(["the cat sat"]);
  assert.ok(
    Math.abs(Math.hypot(...e.data) - 1) > 1e-3,
    "no Normalize module: the row must not be unit length",
  );
  await enc.close();
});

test("texts past the max length are truncated with one warning; empty text works", async () => {
  const warnings: string[] = [];
  const enc = await Encoder.load(bert, { threads: 1, warn: (m) => warnings.push(m) });
  const long = Array(40).fill("cat").join(" ");
  assert.equal(enc.tokenize([long])[0].length, 16);
  await enc.embed([long, "dog"]);
  await enc.embed([long]);
  const truncations = warnings.filter((w) => /truncated/.test(w));
  assert.equal(truncations.length, 1);
  const empty = await enc.embed([""]);
  assert.ok(empty.data.every(Number.isFinite));
  assert.deepEqual((await enc.embed([])).dims, [0, 16]);
  await enc.close();
});

test("NLLB: the language code leads each row, aliases resolve, languages change the vector", async () => {
  const enc = await Encoder.load(nllb, { threads: 1 });
  const tok = JSON.parse(readFileSync(join(nllb, "tokenizer.json"), "utf8"));
  const idOf = (t: string) => tok.added_tokens.find((a: { content: string }) => a.content === t).id;
  const rowIds = enc.tokenize(["hello world"], { lang: "hi" })[0];
  assert.equal(rowIds[0], idOf("hin_Deva"));
  assert.equal(rowIds.at(-1), 2);
  const en = await enc.embed(["hello world"], { lang: "eng_Latn" });
  const hi = await enc.embed(["hello world"], { lang: "hin_Deva" });
  assert.ok(!close(en.data, hi.data, 1e-4));
  const mixed = await enc.embed(["hello world", "hello world"], { lang: ["eng_Latn", "hin_Deva"] });
  assert.ok(close(row(mixed, 0), en.data, 1e-5) && close(row(mixed, 1), hi.data, 1e-5));
  assert.throws(() => enc.tokenize(["x"], { lang: "xx_Fake" }), /unknown language code "xx_Fake"/);
  // "auto": each text's language is detected (Devanagari Hindi -> hin_Deva's code leads the row)
  const hindi = "यह वाक्य हिंदी भाषा में लिखा गया है और इसे पहचाना जाना चाहिए";
  const english = "This sentence is written in English, and the detector should recognise it easily.";
  const auto = await enc.embed([hindi, english], { lang: "auto" });
  const byHand = await enc.embed([hindi, english], { lang: ["hin_Deva", "eng_Latn"] });
  assert.ok(close(auto.data, byHand.data, 1e-6));
  await enc.close();
});

test("bad inputs give clear errors", async () => {
  await assert.rejects(Encoder.load(join(root, "nope")), /nope/);
  const corrupt = join(root, "corrupt");
  cpSync(bert, corrupt, { recursive: true });
  truncateSync(join(corrupt, "model.safetensors"), 100);
  await assert.rejects(Encoder.load(corrupt), /model\.safetensors/);
  const unknown = join(root, "unknown-arch");
  cpSync(bert, unknown, { recursive: true });
  writeFileSync(
    join(unknown, "config.json"),
    JSON.stringify({ model_type: "gpt2", architectures: ["GPT2Model"] }),
  );
  await assert.rejects(Encoder.load(unknown), /gpt2/);
  const mismatch = join(root, "mismatch");
  cpSync(bert, mismatch, { recursive: true });
  const cfg = JSON.parse(readFileSync(join(mismatch, "config.json"), "utf8"));
  writeFileSync(
    join(mismatch, "config.json"),
    JSON.stringify({ ...cfg, hidden_size: 32, intermediate_size: 64 }),
  );
  await assert.rejects(
    Encoder.load(mismatch),
    /config\.json implies \[32,32\]|config and the weights belong to different models/,
  );
  const noWeights = join(root, "no-weights");
  cpSync(bert, noWeights, { recursive: true });
  renameSync(join(noWeights, "model.safetensors"), join(noWeights, "weights.bin"));
  await assert.rejects(Encoder.load(noWeights), /no model\.safetensors/);
});

test("int8: embeddings close to float32's (BERT and NLLB); an unknown dtype is refused", async () => {
  for (const [dir, lang] of [
    [bert, undefined],
    [nllb, "hin_Deva"],
  ] as const) {
    const f32 = await Encoder.load(dir, { threads: 1 });
    const int8 = await Encoder.load(dir, { threads: 1, dtype: "int8" });
    assert.equal(int8.dtype, "int8");
    const a = await f32.embed(texts, { lang });
    const b = await int8.embed(texts, { lang });
    assert.ok(!close(a.data, b.data, 1e-6), "int8 must actually run quantized");
    for (let i = 0; i < texts.length; i++) {
      const cos = row(a, i).reduce((s, v, j) => s + v * row(b, i)[j], 0);
      assert.ok(cos > 0.999, `${dir} row ${i}: cosine ${cos} to float32`);
    }
    await Promise.all([f32.close(), int8.close()]);
  }
  await assert.rejects(
    Encoder.load(bert, { dtype: "bfloat16" as "int8" }),
    /dtype "bfloat16" is not supported: use float32 or int8/,
  );
  await assert.rejects(
    Encoder.load(bert, { dtype: "int8", device: "cuda" }),
    /dtype int8 runs on the CPU only: on CUDA use float32/,
  );
});
