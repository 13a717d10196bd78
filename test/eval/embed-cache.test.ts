// The embedding cache: entries keyed by everything that decides the vectors, .npy files that read
// back exactly, and an embedder that loads the model only on a miss.
import assert from "node:assert/strict";
import { mkdirSync, mkdtempSync, readdirSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, describe, it } from "node:test";
import type { Embeddings } from "../../src/encode/encoder.ts";
import {
  cachedEmbedder,
  entryPath,
  modelFingerprint,
  readNpy,
  writeNpy,
  type EmbeddingModel,
} from "../../src/eval/embed-cache.ts";
import type { TextSet } from "../../src/eval/tasks/task.ts";

const root = mkdtempSync(join(tmpdir(), "xlir-cache-"));
after(() => rmSync(root, { recursive: true, force: true }));

/** A stand-in model: vector i of a text is its length plus i; counts what it is asked. */
function fakeModel(calls: {
  loads: number;
  texts: number;
  langs: (string | undefined)[];
}): () => Promise<EmbeddingModel> {
  return async () => {
    calls.loads++;
    return {
      async embed(texts, opts): Promise<Embeddings> {
        calls.texts += texts.length;
        calls.langs.push(opts.lang as string | undefined);
        return {
          data: Float32Array.from(texts.flatMap((t) => [t.length, t.length + 1])),
          dims: [texts.length, 2],
        };
      },
      async close() {},
    };
  };
}
const set = (texts: string[], lang = "de"): TextSet => ({
  source: "xquad-r/de.json#questions",
  lang,
  ids: texts.map((_, i) => `q${i}`),
  texts,
});

describe("cache entries", () => {
  it("writes .npy files that read back bit for bit, and refuses what is not one", () => {
    const p = join(root, "e", "x.npy");
    const e = { data: Float32Array.from([1.5, -2, Math.PI, 0]), dims: [2, 2] as [number, number] };
    writeNpy(p, e);
    assert.deepEqual(readNpy(p), { data: new Float32Array(e.data), dims: [2, 2] });
    writeFileSync(p, "garbage");
    assert.equal(readNpy(p), undefined);
    assert.equal(readNpy(join(root, "none.npy")), undefined);
  });

  it("keys an entry by model, source, role, language and every text", () => {
    const base = { source: "s", role: "query" as const, lang: "deu_Latn", texts: ["a", "b"] };
    const p = entryPath(root, "m".repeat(64), base);
    assert.match(p, /mmmm+\/s\.query\.deu_Latn\.[0-9a-f]{32}\.npy$/);
    for (const other of [
      entryPath(root, "n".repeat(64), base),
      entryPath(root, "m".repeat(64), { ...base, source: "t" }),
      entryPath(root, "m".repeat(64), { ...base, role: "passage" }),
      entryPath(root, "m".repeat(64), { ...base, lang: "" }),
      entryPath(root, "m".repeat(64), { ...base, texts: ["a", "c"] }),
      entryPath(root, "m".repeat(64), { ...base, texts: ["ab"] }),
    ])
      assert.notEqual(other, p);
  });

  it("fingerprints a model folder by id and files: a rewritten weight file is a new model", () => {
    const dir = join(root, "model");
    mkdirSync(join(dir, "1_Pooling"), { recursive: true });
    writeFileSync(join(dir, "model.safetensors"), "weights");
    writeFileSync(join(dir, "1_Pooling", "config.json"), "{}");
    const a = modelFingerprint("org/m", dir);
    assert.equal(modelFingerprint("org/m", dir), a);
    assert.notEqual(modelFingerprint("org/other", dir), a);
    writeFileSync(join(dir, "model.safetensors"), "new weights");
    assert.notEqual(modelFingerprint("org/m", dir), a);
  });
});

describe("cachedEmbedder", () => {
  it("encodes a set once per run, and a second run reads everything from the cache without loading the model", async () => {
    const dir = join(root, "run");
    const calls = { loads: 0, texts: 0, langs: [] as (string | undefined)[] };
    const opts = {
      modelKey: "k".repeat(64),
      dir,
      load: fakeModel(calls),
      encoderLang: (l?: string) => (l === "de" ? "deu_Latn" : undefined),
    };
    const q = set(["hello", "welt"]);
    const first = cachedEmbedder(opts);
    const a = await first.embed(q, "query");
    await first.embed(q, "query"); // memoised: no second call
    await first.embed(q, "passage"); // another role: another entry
    assert.deepEqual({ ...first.stats }, { hits: 0, misses: 2, textsEncoded: 4, modelLoaded: true });
    assert.deepEqual(calls.langs, ["deu_Latn", "deu_Latn"]);
    await first.close();

    const second = cachedEmbedder(opts);
    const b = await second.embed(set(["hello", "welt"]), "query");
    await second.embed(q, "passage");
    assert.deepEqual(b, a);
    assert.deepEqual({ ...second.stats }, { hits: 2, misses: 0, textsEncoded: 0, modelLoaded: false });
    assert.equal(calls.loads, 1);
    assert.equal(readdirSync(join(dir, "k".repeat(24))).length, 2);
  });

  it("re-encodes a corrupt entry and other texts; without a folder it writes nothing", async () => {
    const dir = join(root, "corrupt");
    const calls = { loads: 0, texts: 0, langs: [] as (string | undefined)[] };
    const opts = { modelKey: "c".repeat(64), dir, load: fakeModel(calls), encoderLang: () => undefined };
    await cachedEmbedder(opts).embed(set(["x"]), "query");
    const sub = join(dir, "c".repeat(24));
    for (const f of readdirSync(sub)) writeFileSync(join(sub, f), "truncated");
    const again = cachedEmbedder(opts);
    assert.deepEqual(Array.from((await again.embed(set(["x"]), "query")).data), [1, 2]);
    await again.embed(set(["x", "y"]), "query");
    assert.equal(again.stats.misses, 2);

    const none = cachedEmbedder({ ...opts, dir: undefined, modelKey: "z".repeat(64) });
    await none.embed(set(["x"]), "query");
    assert.deepEqual(readdirSync(dir).sort(), ["c".repeat(24)]);
  });
});
