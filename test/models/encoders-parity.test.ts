// Parity with the Hugging Face reference outputs in <fixtures>/encoders/*: every model folder found
// there (none is named here) and every case, within the tolerances of the fixtures' README.

import assert from "node:assert/strict";
import { existsSync, readdirSync, readFileSync } from "node:fs";
import { join } from "node:path";
import { test } from "node:test";
import { Checkpoint } from "../../src/models/checkpoint.ts";
import { encoderGraph, takesTokenTypes } from "../../src/models/encoder-graph.ts";
import type { TensorData } from "../../src/tensor/graph.ts";
import { Session } from "../../src/tensor/session.ts";
import { fixturesRoot } from "../helpers/shared.ts";

const TOL = {
  last_hidden_state: 2e-5,
  cls: 2e-5,
  pooler_output: 2e-5,
  mean_pooled: 1e-5,
  mean_pooled_normalized: 5e-6,
  mlm_logits: 5e-5,
};

const root = join(fixturesRoot, "encoders");
const folders = readdirSync(root, { withFileTypes: true })
  .filter((e) => e.isDirectory() && existsSync(join(root, e.name, "cases.json")))
  .map((e) => e.name);

const int64 = (rows: number[][]): TensorData => ({
  dtype: "int64",
  dims: [rows.length, rows[0].length],
  data: BigInt64Array.from(rows.flat(), (v) => BigInt(v)),
});

function maxAbsDiff(got: Float32Array, want: unknown): number {
  const w = (want as number[]).flat(3) as number[];
  assert.equal(got.length, w.length, "output size");
  let m = 0;
  for (let i = 0; i < w.length; i++) m = Math.max(m, Math.abs(got[i] - w[i]));
  return m;
}

test("the fixtures root holds encoder folders", () =>
  assert.ok(folders.length > 0, `no cases.json under ${root}`));

for (const name of folders) {
  test(`encoder parity: ${name}`, async () => {
    const dir = join(root, name);
    const ref = JSON.parse(readFileSync(join(dir, "cases.json"), "utf8"));
    const ck = Checkpoint.open(dir);
    const hasPooler = ref.cases.some((c: Record<string, unknown>) => c.pooler_output);
    const hasMlm = ref.cases.some((c: Record<string, unknown>) => c.mlm_logits);
    const mean = await Session.create(
      encoderGraph(ck, { pooling: "mean", normalize: false, pooler: hasPooler, mlm: hasMlm }),
      { threads: 1 },
    );
    const cls = await Session.create(encoderGraph(ck, { pooling: "cls", normalize: false }), { threads: 1 });
    const unit = await Session.create(encoderGraph(ck, { pooling: "mean", normalize: true }), { threads: 1 });
    for (const c of ref.cases) {
      const feeds: Record<string, TensorData> = {
        input_ids: int64(c.input_ids),
        attention_mask: int64(c.attention_mask),
      };
      if (takesTokenTypes(ck))
        feeds.token_type_ids = int64(c.token_type_ids ?? c.input_ids.map((r: number[]) => r.map(() => 0)));
      const out = await mean.run(feeds);
      const check = (what: keyof typeof TOL, got: TensorData, want: unknown) => {
        const d = maxAbsDiff(got.data as Float32Array, want);
        assert.ok(d <= TOL[what], `${name}/${c.name}: ${what} differs by ${d} (tolerance ${TOL[what]})`);
      };
      check("last_hidden_state", out.last_hidden_state, c.last_hidden_state);
      check("mean_pooled", out.embedding, c.mean_pooled);
      check("cls", (await cls.run(feeds)).embedding, c.cls);
      check("mean_pooled_normalized", (await unit.run(feeds)).embedding, c.mean_pooled_normalized);
      if (c.pooler_output) check("pooler_output", out.pooler_output, c.pooler_output);
      if (c.mlm_logits) check("mlm_logits", out.mlm_logits, c.mlm_logits);
    }
    await Promise.all([mean.release(), cls.release(), unit.release()]);
    ck.close();
  });
}
