// The NLLB state cache (xlir distill --cache-nllb): states read back equal the NLLB encoder's own
// output up to float16 rounding (and stay close with the pass in int8), a reopened cache computes
// nothing again, a torn write is cut off, and distillation from cached states, or with NLLB in
// int8 in every step (--nllb-dtype int8), learns what the plain run learns.

import assert from "node:assert/strict";
import {
  appendFileSync,
  mkdtempSync,
  readFileSync,
  rmSync,
  statSync,
  truncateSync,
  writeFileSync,
} from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, test } from "node:test";
import { Encoder } from "../../src/encode/encoder.ts";
import { Checkpoint } from "../../src/models/checkpoint.ts";
import { nllbStatesGraph } from "../../src/models/nllb-e5.ts";
import { Session } from "../../src/tensor/session.ts";
import { distill, trainingDir } from "../../src/train/distill.ts";
import { StateCache, fillStates, rowHash } from "../../src/train/state-cache.ts";
import { relateEmbeddings, wordE5Dir, wordNllbDir, wordsOf } from "../helpers/tiny-models.ts";
import { sharedDir } from "../helpers/shared.ts";

const root = mkdtempSync(join(tmpdir(), "xlir-state-cache-"));
after(() => rmSync(root, { recursive: true, force: true }));
const sentences = readFileSync(join(sharedDir, "data", "nllb-seed", "eng_Latn"), "utf8")
  .split("\n")
  .filter(Boolean)
  .slice(0, 200);
const words = wordsOf(sentences, 2000);
const nllbDir = wordNllbDir(words, { parent: root });

test("cached states are the NLLB encoder's own, up to float16; reopening computes nothing; torn writes are cut off", async () => {
  const nllb = Checkpoint.open(nllbDir);
  const d = nllb.config.hidden;
  // rows of different lengths (lang code 4, tokens, </s> 2), one repeated
  const rows = [5, 9, 3, 9, 12].map((n, k) => [
    4,
    ...Array.from({ length: n }, (_, j) => 8 + ((j * 7 + k) % 50)),
    2,
  ]);
  rows[3] = rows[1];
  const items = rows.map((r) => ({ nllb: r, stateHash: rowHash(r) }));
  const dir = join(root, "cache");
  const cache = StateCache.open(dir, "tiny-nllb", d);
  const seen: number[] = [];
  await fillStates(cache, nllb, items, { threads: 1, pad: 1, batchSize: 2 }, (done) => seen.push(done));
  assert.deepEqual(seen, [2, 4], "4 distinct rows in batches of 2");
  const distinct = new Map(items.map((i) => [i.stateHash, i.nllb.length]));
  const tokens = [...distinct.values()].reduce((sum, n) => sum + n, 0);
  assert.equal(cache.bytes, tokens * d * 2, "each distinct row once, unpadded, 2 bytes a value");

  // each row alone through the encoder, unpadded
  const s = await Session.create(nllbStatesGraph(nllb), { threads: 1 });
  const width = 14;
  const got = cache.batch(
    items.map((i) => i.stateHash),
    width,
  );
  for (const [b, row] of rows.entries()) {
    const dims = [1, row.length];
    const ref = (
      await s.run({
        nllb_input_ids: { dtype: "int64", dims, data: BigInt64Array.from(row, BigInt) },
        nllb_attention_mask: { dtype: "int64", dims, data: new BigInt64Array(row.length).fill(1n) },
      })
    ).nllb_hidden.data as Float32Array;
    const mine = got.subarray(b * width * d, (b + 1) * width * d);
    ref.forEach((v, i) =>
      assert.ok(
        Math.abs(mine[i] - v) <= 1e-3 * Math.abs(v) + 1e-6,
        `row ${b} value ${i}: ${mine[i]} vs ${v}`,
      ),
    );
    assert.ok(
      mine.subarray(row.length * d).every((v) => v === 0),
      "padding rows are zero",
    );
  }
  await s.release();

  // reopened: everything is there, nothing is computed
  const again = StateCache.open(dir, "tiny-nllb", d);
  await fillStates(again, nllb, items, { threads: 1, pad: 1 }, () =>
    assert.fail("nothing should be computed"),
  );
  assert.deepEqual(again.batch([items[4].stateHash], width), got.subarray(4 * width * d, 5 * width * d));

  // a crash mid-append: a torn index line and states cut short lose only the last text written
  // (the longest: rows are computed shortest first)
  const statesPath = join(cache.dir, "states.f16");
  appendFileSync(join(cache.dir, "index.jsonl"), '["abc", 9');
  truncateSync(statesPath, statSync(statesPath).size - 2);
  const torn = StateCache.open(dir, "tiny-nllb", d);
  const last = items[4].stateHash;
  assert.ok(!torn.has(last) && items.slice(0, 4).every((i) => torn.has(i.stateHash)));
  await fillStates(torn, nllb, items, { threads: 1, pad: 1 });
  const healed = StateCache.open(dir, "tiny-nllb", d);
  assert.equal(healed.bytes, tokens * d * 2);
  assert.deepEqual(healed.batch([last], width), got.subarray(4 * width * d, 5 * width * d));

  // the NLLB pass in int8 (--nllb-dtype int8): close to float32's states, not equal
  const int8 = StateCache.open(dir, "tiny-nllb|int8", d);
  assert.notEqual(int8.dir, cache.dir);
  await fillStates(int8, nllb, items, { threads: 1, pad: 1, dtype: "int8" });
  const q = int8.batch(
    items.map((i) => i.stateHash),
    width,
  );
  assert.ok(
    q.some((v, i) => Math.abs(v - got[i]) > 1e-3),
    "int8 states differ from float32's",
  );
  for (const [b, row] of rows.entries())
    for (let t = 0; t < row.length; t++) {
      const at = (b * width + t) * d;
      const x = got.subarray(at, at + d);
      const y = q.subarray(at, at + d);
      const cos = x.reduce((s, v, i) => s + v * y[i], 0) / Math.hypot(...x) / Math.hypot(...y);
      assert.ok(cos > 0.99, `row ${b} token ${t}: cosine ${cos}`);
    }
  nllb.close();
});

test("distillation from cached NLLB states (and with NLLB in int8) learns what the plain run learns", async () => {
  const e5 = wordE5Dir(words, { parent: root });
  relateEmbeddings(e5, nllbDir);
  const data = join(root, "eng.txt");
  writeFileSync(data, sentences.join("\n") + "\n");
  const cfg = {
    studentEncoder: nllbDir,
    teacher: e5,
    data: [data],
    steps: 60,
    batchSize: 16,
    lr: 3e-3,
    projectionHidden: 64,
    lora: { r: 8, alpha: 16, dropout: 0 },
    evalSize: 32,
    evalEvery: 60,
    threads: 1,
  };
  const evals: Record<string, number[]> = { plain: [], cached: [], int8: [] };
  const nllbPass: number[] = [];
  for (const kind of ["plain", "cached", "int8"] as const)
    await distill(
      {
        ...cfg,
        output: join(root, kind),
        cacheNllb: kind === "cached",
        nllbDtype: kind === "int8" ? "int8" : "float32",
      },
      { onEval: (e) => evals[kind].push(e.eval_mse), onNllb: (done) => nllbPass.push(done) },
    );
  assert.equal(nllbPass.at(-1), new Set(sentences).size, "one NLLB pass over the distinct texts");
  // same start, and the same learning up to float16 rounding of the states
  assert.ok(Math.abs(evals.cached[0] / evals.plain[0] - 1) < 1e-3, `${evals.cached[0]} vs ${evals.plain[0]}`);
  assert.ok(evals.plain[1] < evals.plain[0] / 2, `the plain run learns: ${evals.plain}`);
  assert.ok(Math.abs(evals.cached[1] / evals.plain[1] - 1) < 0.02, `${evals.cached[1]} vs ${evals.plain[1]}`);
  // NLLB in int8 inside every step (--nllb-dtype int8, no cache): a little off, learning the same
  const off = Math.abs(evals.int8[0] / evals.plain[0] - 1);
  assert.ok(off > 1e-4 && off < 0.02, `int8 NLLB: ${evals.int8[0]} vs ${evals.plain[0]}`);
  assert.ok(Math.abs(evals.int8[1] / evals.plain[1] - 1) < 0.05, `${evals.int8[1]} vs ${evals.plain[1]}`);
  const cacheDir = join(trainingDir(join(root, "cached")), "nllb-cache");
  assert.ok(statSync(cacheDir).isDirectory());
  const [a, b] = await Promise.all([
    Encoder.load(join(root, "plain"), { threads: 1 }),
    Encoder.load(join(root, "cached"), { threads: 1 }),
  ]);
  const va = await a.embed(sentences.slice(0, 8), { lang: "eng_Latn" });
  const vb = await b.embed(sentences.slice(0, 8), { lang: "eng_Latn" });
  for (let i = 0; i < 8; i++) {
    let dot = 0;
    for (let j = 0; j < a.dim; j++) dot += va.data[i * a.dim + j] * vb.data[i * a.dim + j];
    assert.ok(dot > 0.999, `text ${i}: cosine ${dot}`);
  }
  await Promise.all([a.close(), b.close()]);
});
