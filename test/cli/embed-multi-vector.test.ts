// `xlir embed --multi-vector` on a ColBERT-XM folder (the fixture's tiny checkpoint with a word-per-id
// tokenizer.json): per-token vectors as JSONL and as .npy + .tokens.json, equal to ColbertModel's.
import assert from "node:assert/strict";
import { cpSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, it } from "node:test";
import { ColbertModel } from "../../src/encode/colbert.ts";
import { writeRobertaWordTokenizer } from "../../src/text/wordpiece-json.ts";
import { runXlir } from "../helpers/cli.ts";
import { fixturesRoot } from "../helpers/shared.ts";

const root = mkdtempSync(join(tmpdir(), "xlir-embed-mv-"));
after(() => rmSync(root, { recursive: true, force: true }));
const model = join(root, "colbert");
const fixture = join(fixturesRoot, "colbert-xm");
cpSync(fixture, model, { recursive: true });
const V = (JSON.parse(readFileSync(join(fixture, "config.json"), "utf8")) as { vocab_size: number })
  .vocab_size;
writeRobertaWordTokenizer(
  model,
  Array.from({ length: V - 5 }, (_, i) => `w${i + 4}`),
  { mask: true },
);
const TEXTS = ["w10 w11 w12", "w20 w21 w22 w23 w24 w25", "w30"];
const input = join(root, "texts.txt");
writeFileSync(input, TEXTS.join("\n") + "\n");

it("writes each text's token ids and vectors, for queries and documents, as ColbertModel gives them", async () => {
  const m = await ColbertModel.load(model, { threads: 1 });
  try {
    for (const role of ["query", "passage"] as const) {
      const want =
        role === "query"
          ? await m.encodeQueries(TEXTS, { lang: "de" })
          : await m.encodeDocuments(TEXTS, { lang: "de" });
      const r = runXlir([
        "embed",
        "--model",
        model,
        "--multi-vector",
        "--role",
        role,
        "--lang",
        "de",
        "--input",
        input,
      ]);
      assert.equal(r.status, 0, r.stderr);
      const got = r.stdout
        .trim()
        .split("\n")
        .map((l) => JSON.parse(l) as { ids: number[]; vectors: number[][] });
      assert.equal(got.length, TEXTS.length);
      got.forEach((g, i) => {
        assert.deepEqual(g.ids, want[i].ids, role);
        assert.deepEqual(Float32Array.from(g.vectors.flat()), want[i].vectors, role);
      });
      if (role === "query")
        assert.ok(
          got.every((g) => g.ids.length === m.spec.queryMaxlen),
          "queries are padded with masks",
        );
    }

    const out = join(root, "docs.npy");
    const r = runXlir([
      "embed",
      "--model",
      model,
      "--multi-vector",
      "--lang",
      "de",
      "--input",
      input,
      "--format",
      "npy",
      "--output",
      out,
    ]);
    assert.equal(r.status, 0, r.stderr);
    const index = JSON.parse(readFileSync(`${out}.tokens.json`, "utf8")) as {
      start: number;
      tokens: number;
      ids: number[];
    }[];
    const want = await m.encodeDocuments(TEXTS, { lang: "de" });
    const bytes = readFileSync(out);
    const headerLen = bytes.readUInt16LE(8);
    const all = new Float32Array(
      bytes.buffer.slice(bytes.byteOffset + 10 + headerLen, bytes.byteOffset + bytes.length),
    );
    index.forEach((e, i) => {
      assert.deepEqual(e.ids, want[i].ids);
      assert.deepEqual(all.slice(e.start * m.spec.dim, (e.start + e.tokens) * m.spec.dim), want[i].vectors);
    });
  } finally {
    await m.close();
  }
});
