// Contrastive training steps on a tiny random BERT: GradCache (chunked embedding, loss gradient
// w.r.t. the embeddings, chunked backward) gives the gradients of the plain one-graph batch for
// every trainable set and loss; and the language weights follow their documented rules.

import assert from "node:assert/strict";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, test } from "node:test";
import { batchTexts, contrastiveStepEngine } from "../../src/train/contrastive.ts";
import { encoderHead } from "../../src/train/encoder-head.ts";
import { LangWeights, lowResourceTable, parseLangWeights } from "../../src/train/lang-weights.ts";
import { lossSpec } from "../../src/train/losses.ts";
import { parseTrainable } from "../../src/train/model-head.ts";
import type { PairExample } from "../../src/train/pairs.ts";
import { rankFigures } from "../../src/train/validate.ts";
import { tinyBertDir } from "../helpers/tiny-models.ts";

const root = mkdtempSync(join(tmpdir(), "xlir-contrastive-"));
after(() => rmSync(root, { recursive: true, force: true }));
const model = tinyBertDir({ parent: root, d: 16, layers: 2 });
const words = ["cat", "dog", "sat", "on", "mat", "ran", "far", "big", "small"];
const sentence = (i: number, n: number) =>
  Array.from({ length: n }, (_, j) => words[(i * 7 + j * 3) % words.length]).join(" ");
const examples: PairExample[] = Array.from({ length: 6 }, (_, i) => ({
  query: sentence(i, 2 + (i % 3)),
  positive: sentence(i + 1, 4 + (i % 4)),
  negatives: [sentence(i + 3, 3 + (i % 2))],
  lang: i % 2 ? "hin_Deva" : "deu_Latn",
  where: `pairs:${i + 1}`,
}));

test("GradCache gives the plain batch's loss and gradients (full, last:1, lora; infonce, weighted, triplet)", async () => {
  const cases = [
    { trainable: "full", loss: lossSpec("infonce") },
    { trainable: "last:1", loss: lossSpec("infonce", { symmetric: true, sim: "dot" }) },
    { trainable: "lora", loss: lossSpec("triplet") },
  ];
  for (const c of cases) {
    const head = await encoderHead(model, {
      trainable: parseTrainable(c.trainable, { r: 4, alpha: 8, dropout: 0 }),
      warn: () => {},
    });
    // LoRA B starts at zero, where A gets no gradient: move B off zero so every tensor is checked
    for (const [n, a] of Object.entries(head.params))
      if (n.includes("lora_B")) a.forEach((_, i) => (a[i] = 0.01 * Math.sin(i + 1)));
    const texts = batchTexts(examples, 1);
    const w = Float32Array.from(examples, (_, i) => 1 + (i % 2));
    const plain = await contrastiveStepEngine(head, c.loss, 1, { gradCache: null, threads: 1 });
    const cached = await contrastiveStepEngine(head, c.loss, 1, { gradCache: 4, threads: 1 });
    const a = await plain.step(texts, examples.length, w, null);
    const b = await cached.step(texts, examples.length, w, null);
    assert.ok(
      Math.abs(a.loss - b.loss) < 1e-5 * Math.max(1, a.loss),
      `${c.trainable} loss ${a.loss} vs ${b.loss}`,
    );
    assert.ok(a.loss > 0);
    // relative to the largest gradient: some are zero in exact arithmetic (a key bias cancels in softmax)
    const scale = Math.max(...Object.values(a.grads).map((g) => Math.max(...g.map(Math.abs))));
    assert.ok(scale > 1e-3, `${c.trainable}: gradients vanish`);
    for (const [n, g] of Object.entries(a.grads)) {
      const diff = Math.max(...g.map((v, i) => Math.abs(v - b.grads[n][i])));
      assert.ok(diff <= 1e-5 * scale, `${c.trainable}: ${n} differs by ${diff} (largest gradient ${scale})`);
    }
    const names = Object.keys(a.grads);
    if (c.trainable === "last:1")
      assert.ok(
        names.every((n) => n.startsWith("encoder.layer.1.")),
        names.join(),
      );
    if (c.trainable === "lora") assert.ok(names.every((n) => n.includes(".lora_")) && names.length === 12);
    await Promise.all([plain.release(), cached.release()]);
    head.close();
  }
});

test("language weights: tables, inverse frequency (mean 1), loss-based (bounded, following the loss)", () => {
  assert.deepEqual(parseLangWeights("sw=2, te=1.5"), { swh_Latn: 2, tel_Telu: 1.5 });
  assert.deepEqual(lowResourceTable(["bn", "th"], 2), { ben_Beng: 2, tha_Thai: 2 });
  assert.throws(() => parseLangWeights("sw=0"), /--lang-weights "sw=0"/);
  const langs = ["a", "a", "a", "b"];
  const inv = new LangWeights({ kind: "inverse-frequency" }, langs);
  assert.ok(Math.abs(inv.weight("a") - 2 / 3) < 1e-12 && Math.abs(inv.weight("b") - 2) < 1e-12);
  assert.ok(Math.abs(langs.reduce((s, l) => s + inv.weight(l), 0) / langs.length - 1) < 1e-12);
  const lb = new LangWeights({ kind: "loss-based" }, langs);
  assert.equal(lb.weight("a"), 1);
  lb.update(["a", "b", "b"], [1, 9, 11]);
  // running means a 1, b 10: b weighs 10 / 5.5, a's 1 / 5.5 is held at the bound 1/2
  assert.ok(Math.abs(lb.weight("b") - 20 / 11) < 1e-12);
  assert.equal(lb.weight("a"), 0.5);
  lb.update(["a", "c"], [10, 100]); // running means a 1.9, b 10, c 100 (new)
  assert.ok(Math.abs(lb.state.a - 1.9) < 1e-12 && lb.state.b === 10 && lb.state.c === 100);
  assert.equal(lb.weight("c"), 2, "bounded by 2");
});

test("validation ranking: MRR and R@k per language, ties count against the positive", () => {
  // 2-d rows: query 0 finds its passage first, query 1 second, query 2 ties with everything
  const q = Float32Array.from([1, 0, 0, 1, 0, 0]);
  const p = Float32Array.from([1, 0, 0.5, 0.5, 0, 0.4]);
  const f = rankFigures(q, p, 2, [0, 2, 1], ["x", "y", "y"]);
  assert.deepEqual(f.x, { mrr: 1, r1: 1, r5: 1, r10: 1, queries: 1 });
  assert.deepEqual(f.y, { mrr: (1 / 2 + 1 / 3) / 2, r1: 0, r5: 1, r10: 1, queries: 2 });
  assert.equal(f.all.queries, 3);
});
