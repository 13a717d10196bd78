// ColBERT(-XM) training (`xlir train --head colbert`) on the fixture's tiny ColBERT-XM checkpoint
// (shared/fixtures/colbert-xm: X-MOD backbone, 4 language adapters far from the identity) with a
// word-per-id tokenizer.json. The task is lexical: a positive shares 3 of its query's 4 words, a
// hard negative 1. Training sees English (en_XX) pairs only, the paper's recipe; retrieval of
// held-out pairs is measured by ColbertModel (the inference path, not the training graph) before
// and after, in English and zero-shot through the de_DE adapter with the same trained weights.
// The MaxSim InfoNCE's loss and gradients are checked against a float64 reference written here.

import assert from "node:assert/strict";
import { cpSync, mkdtempSync, readFileSync, readdirSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, test } from "node:test";
import { ColbertModel, maxSim, PUNCTUATION } from "../../src/encode/colbert.ts";
import { Rng } from "../../src/models/random.ts";
import { grad, gradName } from "../../src/tensor/autodiff.ts";
import { Graph, type TensorData } from "../../src/tensor/graph.ts";
import { Session } from "../../src/tensor/session.ts";
import { writeRobertaWordTokenizer } from "../../src/text/wordpiece-json.ts";
import { colbertHead } from "../../src/train/colbert-head.ts";
import { batchTexts, contrastiveStepEngine } from "../../src/train/contrastive.ts";
import { contrastiveLoss, type InBatch, lossSpec } from "../../src/train/losses.ts";
import { parseTrainable } from "../../src/train/model-head.ts";
import type { PairExample } from "../../src/train/pairs.ts";
import { type RankFigures, rankByScore } from "../../src/train/validate.ts";
import { readSafetensors } from "../../src/weights/safetensors.ts";
import { runXlir } from "../helpers/cli.ts";
import { fixturesRoot } from "../helpers/shared.ts";

const root = mkdtempSync(join(tmpdir(), "xlir-colbert-train-"));
after(() => rmSync(root, { recursive: true, force: true }));
const model = join(root, "colbert");
cpSync(join(fixturesRoot, "colbert-xm"), model, { recursive: true });
const V = (JSON.parse(readFileSync(join(model, "config.json"), "utf8")) as { vocab_size: number }).vocab_size;
// punctuation first, so the skiplist comes from the tokenizer as for a real checkpoint
const WORDS = Array.from({ length: V - 5 - PUNCTUATION.length }, (_, i) => `w${i}`);
writeRobertaWordTokenizer(model, [...PUNCTUATION, ...WORDS], { mask: true });

const rng = new Rng(7);
const draw = (n: number, not: readonly string[] = []): string[] => {
  const out: string[] = [];
  while (out.length < n) {
    const w = WORDS[Math.floor(rng.next() * WORDS.length)];
    if (!not.includes(w) && !out.includes(w)) out.push(w);
  }
  return out;
};
const shuffled = (a: string[]) => rng.permutation(a.length).map((i) => a[i]);
interface Example {
  query: string;
  positive: string;
  negatives: string[];
}
function example(): Example {
  const q = draw(4);
  return {
    query: q.join(" "),
    positive: shuffled([...q.slice(0, 3), ...draw(5, q)]).join(" ") + " .",
    negatives: [shuffled([q[3], ...draw(7, q)]).join(" ") + " ."],
  };
}
const train = Array.from({ length: 512 }, example);
const enVal = Array.from({ length: 48 }, example);
const deVal = Array.from({ length: 48 }, example);
const jsonl = (name: string, rows: Example[], lang: string) => {
  const f = join(root, name);
  writeFileSync(f, rows.map((r) => JSON.stringify({ ...r, lang })).join("\n") + "\n");
  return f;
};

/** MRR / R@k of each query over the distinct positives, by MaxSim of ColbertModel's vectors in `lang`. */
async function measure(dir: string, val: Example[], lang: string): Promise<RankFigures> {
  const m = await ColbertModel.load(dir, { threads: 2 });
  try {
    const q = await m.encodeQueries(
      val.map((e) => e.query),
      { lang },
    );
    const d = await m.encodeDocuments(
      val.map((e) => e.positive),
      { lang },
    );
    return rankByScore(
      (i, p) => maxSim(q[i], d[p]),
      d.length,
      val.map((_, i) => i),
      val.map(() => lang),
    ).all;
  } finally {
    await m.close();
  }
}

// ---- MaxSim InfoNCE against an independent float64 reference ----

type Mat = { v: number[][]; m: number[] }; // token vectors and which tokens count

function refMaxSim(q: Mat, d: Mat): number {
  let s = 0;
  q.v.forEach((qi, i) => {
    if (!q.m[i]) return;
    let best = -Infinity;
    d.v.forEach((dj, j) => {
      if (d.m[j])
        best = Math.max(
          best,
          qi.reduce((a, x, t) => a + x * dj[t], 0),
        );
    });
    s += best;
  });
  return s;
}

const lse = (xs: number[], s: number) => {
  const m = Math.max(...xs);
  return s * m + Math.log(xs.reduce((a, x) => a + Math.exp(s * (x - m)), 0));
};

/** colbert-ai / sentence-transformers InfoNCE over MaxSim scores, written from the definitions. */
function refLoss(Q: Mat[], P: Mat[], N: Mat[][], w: number[], s: number, inBatch: InBatch): number {
  const B = Q.length;
  let num = 0;
  let den = 0;
  for (let i = 0; i < B; i++) {
    const pos = refMaxSim(Q[i], P[i]);
    const own = [pos, ...N[i].map((n) => refMaxSim(Q[i], n))];
    const others = (keepOwnNegatives: boolean) => [
      ...P.map((p) => refMaxSim(Q[i], p)),
      ...N.flatMap((ns, j) => (j === i && !keepOwnNegatives ? [] : ns.map((n) => refMaxSim(Q[i], n)))),
    ];
    const l =
      inBatch === "shared"
        ? lse(others(true), s) - s * pos
        : lse(own, s) - s * pos + (inBatch === "separate" ? lse(others(false), s) - s * pos : 0);
    num += w[i] * l;
    den += w[i];
  }
  return num / den;
}

test("MaxSim InfoNCE (shared, none, separate in-batch negatives) matches a float64 reference, gradients by finite differences", async () => {
  const B = 3;
  const k = 2;
  const [Lq, Ld, d] = [4, 5, 3];
  const r = new Rng(11);
  const mat = (L: number, masked: number[]): Mat => ({
    v: Array.from({ length: L }, () => Array.from({ length: d }, () => 2 * r.next() - 1)),
    m: Array.from({ length: L }, (_, j) => (masked.includes(j) ? 0 : 1)),
  });
  // padded query tokens (not counted), punctuation / padding document tokens (never the max)
  const Q = Array.from({ length: B }, (_, i) => mat(Lq, i === 1 ? [3] : []));
  const P = Array.from({ length: B }, (_, i) => mat(Ld, [i % Ld, 4]));
  const N = Array.from({ length: B }, () => Array.from({ length: k }, (_, m) => mat(Ld, [m])));
  const w = [1, 2, 0.5];
  const flat = (x: Mat) => x.v.flatMap((row, j) => [...row, x.m[j]]);
  const feeds = (): Record<string, TensorData> => ({
    Q: { dtype: "float64", dims: [B, Lq, d + 1], data: Float64Array.from(Q.flatMap(flat)) },
    P: { dtype: "float64", dims: [B, Ld, d + 1], data: Float64Array.from(P.flatMap(flat)) },
    N: { dtype: "float64", dims: [B, k, Ld, d + 1], data: Float64Array.from(N.flat().flatMap(flat)) },
    w: { dtype: "float64", dims: [B], data: Float64Array.from(w) },
  });
  for (const inBatch of ["shared", "none", "separate"] as const)
    for (const scale of [1, 3]) {
      const g = new Graph("maxsim-infonce");
      const { loss } = contrastiveLoss(
        { kind: "infonce", sim: "dot", scale, inBatch },
        {
          q: g.input("Q", "float64", ["batch", Lq, d + 1]),
          p: g.input("P", "float64", ["batch", Ld, d + 1]),
          n: g.input("N", "float64", ["batch", k, Ld, d + 1]),
          weights: g.input("w", "float64", ["batch"]),
          late: true,
        },
      );
      const s = await Session.create(grad(g, loss, ["Q", "P", "N"]), { threads: 1 });
      try {
        const out = await s.run(feeds());
        const label = `${inBatch} scale ${scale}`;
        const want = refLoss(Q, P, N, w, scale, inBatch);
        const got = (out.loss.data as Float64Array)[0];
        assert.ok(Math.abs(got - want) < 1e-12, `${label}: loss ${got} vs ${want}`);
        // every vector component of every text, central differences of the reference
        const h = 1e-6;
        let worst = 0;
        for (const [name, texts] of [
          ["Q", Q],
          ["P", P],
          ["N", N.flat()],
        ] as const) {
          const gr = out[gradName(name)].data as Float64Array;
          texts.forEach((x, t) =>
            x.v.forEach((row, j) =>
              row.forEach((v0, c) => {
                row[c] = v0 + h;
                const up = refLoss(Q, P, N, w, scale, inBatch);
                row[c] = v0 - h;
                const down = refLoss(Q, P, N, w, scale, inBatch);
                row[c] = v0;
                const at = (t * x.v.length + j) * (d + 1) + c;
                worst = Math.max(worst, Math.abs(gr[at] - (up - down) / (2 * h)));
              }),
            ),
          );
          // tokens that do not count get no gradient: masked document tokens are never the max
          if (name !== "Q")
            texts.forEach((x, t) =>
              x.m.forEach((m, j) => {
                if (m) return;
                for (let c = 0; c < d; c++) assert.equal(gr[(t * x.v.length + j) * (d + 1) + c], 0, label);
              }),
            );
        }
        assert.ok(worst < 1e-7, `${label}: gradient off by ${worst}`);
      } finally {
        await s.release();
      }
    }
});

test("GradCache gives the plain batch's ColBERT gradients (chunks of different lengths); LoRA trains through the X-MOD layers", async () => {
  const ex: PairExample[] = train.slice(0, 6).map((e, i) => ({
    ...e,
    // documents of different lengths, so the chunks pad to different token counts
    positive: e.positive
      .split(" ")
      .slice(0, 3 + 2 * i)
      .join(" "),
    lang: "eng_Latn",
    where: `pairs:${i + 1}`,
  }));
  const texts = batchTexts(ex, 1);
  const w = new Float32Array(ex.length).fill(1);
  for (const trainable of ["full", "lora"]) {
    const head = colbertHead(model, { trainable: parseTrainable(trainable, { dropout: 0 }) });
    try {
      const spec = { ...lossSpec("infonce", { sim: "dot", temperature: 1 }), inBatch: "separate" as const };
      const plain = await contrastiveStepEngine(head, spec, 1, { gradCache: null, threads: 1 });
      const cached = await contrastiveStepEngine(head, spec, 1, { gradCache: 5, threads: 1 });
      const a = await plain.step(texts, ex.length, w, null);
      const b = await cached.step(texts, ex.length, w, null);
      await Promise.all([plain.release(), cached.release()]);
      assert.ok(Math.abs(a.loss - b.loss) < 1e-5 * a.loss, `${trainable}: loss ${a.loss} vs ${b.loss}`);
      const scale = Math.max(...Object.values(a.grads).map((g) => Math.max(...g.map(Math.abs))));
      assert.ok(scale > 1e-3, `${trainable}: gradients vanish`);
      for (const [n, g] of Object.entries(a.grads)) {
        const diff = Math.max(...g.map((v, i) => Math.abs(v - b.grads[n][i])));
        assert.ok(diff <= 1e-5 * scale, `${trainable}: ${n} differs by ${diff} (largest gradient ${scale})`);
      }
      const names = Object.keys(a.grads);
      assert.ok(names.includes("linear.weight"), "the projection always trains");
      assert.ok(!names.some((n) => n.startsWith("embeddings.") || n.includes("adapter")), names.join());
      if (trainable === "lora") {
        // 2 layers x query/key/value x A/B, all moving (B starts at zero, so A's gradient is zero)
        const lora = names.filter((n) => n.includes(".lora_"));
        assert.equal(lora.length, 12);
        assert.ok(
          lora.filter((n) => n.includes("lora_B")).every((n) => a.grads[n].some((v) => v !== 0)),
          "LoRA B gets gradients through the X-MOD layers",
        );
      }
    } finally {
      head.close();
    }
  }
});

test("xlir train finds a ColBERT folder by itself and refuses what does not apply to it", () => {
  const data = jsonl("few.jsonl", train.slice(0, 8), "en");
  const mixed = join(root, "mixed.jsonl");
  writeFileSync(
    mixed,
    train
      .slice(0, 8)
      .map((e, i) => JSON.stringify({ ...e, lang: i % 2 ? "de" : "en" }))
      .join("\n") + "\n",
  );
  const refusals: [string[], RegExp][] = [
    // no --head: the folder is recognised (a plain encoder would take the triplet loss)
    [["--data", data, "--loss", "triplet"], /ColBERT trains with MaxSim InfoNCE/],
    [["--data", data, "--similarity", "cos"], /MaxSim over normalised token vectors/],
    [["--data", data, "--max-length", "64"], /query_maxlen and doc_maxlen/],
    [
      ["--data", mixed, "--batch-size", "2"],
      /selects the (de_DE|en_XX) adapter, other pairs (en_XX|de_DE); ColBERT-XM trains one adapter/,
    ],
  ];
  for (const [args, why] of refusals) {
    const r = runXlir(["train", "--model", model, "--output", join(root, "refused"), ...args]);
    assert.notEqual(r.status, 0, args.join(" "));
    assert.match(r.stderr, why);
  }
});

test("xlir train --head colbert on English pairs: English retrieval improves; adapters and embeddings stay bit-identical; zero-shot de_DE", async () => {
  const out = join(root, "trained");
  const r = runXlir(
    [
      "train",
      "--model",
      model,
      "--head",
      "colbert",
      "--data",
      jsonl("train.jsonl", train, "en"),
      "--val",
      jsonl("val.jsonl", enVal, "en"),
      "--output",
      out,
      "--steps",
      "300",
      "--batch-size",
      "16",
      "--lr",
      "1e-3",
      "--eval-every",
      "100",
      "--threads",
      "2",
      "--json",
    ],
    { timeout: 120_000 },
  );
  assert.equal(r.status, 0, r.stderr);
  const lines = r.stdout
    .trim()
    .split("\n")
    .map((l) => JSON.parse(l) as Record<string, unknown>);
  const start = lines[0].start as { trainable: string };
  assert.match(start.trainable, /^colbert full \(adapters frozen, en_XX/);
  const run = JSON.parse(readFileSync(join(out, "training", "run.json"), "utf8")) as {
    loss: unknown;
    lr: number;
    maxGradNorm: number;
  };
  // colbert-ai's defaults: no temperature, ColBERT-XM's in-batch negatives (artifact.metadata), clip 2
  assert.deepEqual(run.loss, {
    kind: "infonce",
    sim: "dot",
    scale: 1,
    symmetric: false,
    inBatch: "separate",
  });
  assert.equal(run.maxGradNorm, 2);

  // the trained folder is a ColBERT folder: same files, same tensors but the trained ones
  for (const f of ["config.json", "artifact.metadata", "tokenizer.json", "special_tokens_map.json"])
    assert.equal(readFileSync(join(out, f), "utf8"), readFileSync(join(model, f), "utf8"), f);
  assert.ok(readdirSync(out).includes("model.safetensors"));
  const before = readSafetensors(join(model, "model.safetensors"));
  const trained = readSafetensors(join(out, "model.safetensors"));
  assert.deepEqual([...trained.keys()].sort(), [...before.keys()].sort());
  const same = (k: string) =>
    Buffer.from(trained.get(k)!.data.buffer).equals(Buffer.from(before.get(k)!.data.buffer));
  const frozen = [...before.keys()].filter(
    (k) => k.includes(".adapter_modules.") || k.includes(".embeddings."),
  );
  assert.equal(
    frozen.length,
    4 * 2 * 4 + 5,
    "adapters of 4 languages x 2 layers x 4 tensors, 5 embedding tensors",
  );
  for (const k of frozen) assert.ok(same(k), `${k} changed`);
  for (const k of [
    "linear.weight",
    "roberta.encoder.layer.0.attention.self.query.weight",
    "roberta.encoder.layer.1.output.dense.weight",
  ])
    assert.ok(!same(k), `${k} did not train`);

  const en = [await measure(model, enVal, "en"), await measure(out, enVal, "en")];
  // validation inside training (the training graph and its batching) ranks as the inference path
  const step0 = lines.find((l) => l.step === 0 && "mrr" in l) as { mrr: number } | undefined;
  assert.ok(
    step0 && Math.abs(step0.mrr - en[0].mrr) < 1e-9,
    `step-0 validation MRR ${step0?.mrr} vs ${en[0].mrr}`,
  );
  const de = [await measure(model, deVal, "de"), await measure(out, deVal, "de")];
  const f = (x: RankFigures) =>
    `MRR ${(100 * x.mrr).toFixed(1)} R@1 ${(100 * x.r1).toFixed(1)} R@5 ${(100 * x.r5).toFixed(1)}`;
  console.log(`colbert-xm training, held-out pairs (48 queries, 48 candidates):
  en_XX (trained)   before ${f(en[0])}  after ${f(en[1])}
  de_DE (zero-shot) before ${f(de[0])}  after ${f(de[1])}`);
  assert.ok(en[1].mrr >= en[0].mrr + 0.1, `English MRR ${en[0].mrr} -> ${en[1].mrr}`);
  assert.ok(en[1].r5 > en[0].r5, `English R@5 ${en[0].r5} -> ${en[1].r5}`);
  // the same weights through another language's adapter, never trained with it
  assert.ok(de[1].mrr > de[0].mrr, `de_DE MRR ${de[0].mrr} -> ${de[1].mrr}`);
});
