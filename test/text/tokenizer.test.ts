import assert from "node:assert/strict";
import { existsSync, readdirSync, readFileSync } from "node:fs";
import { join } from "node:path";
import { after, describe, it } from "node:test";
import { fixturesRoot } from "../helpers/shared.ts";
import { encodeBatch, loadTokenizer, padBatch, tokenizerFromJson } from "../../src/text/tokenizer.ts";
import { removeModelDirs, tinyNllb, tinyWordPiece, writeModelDir } from "../helpers/tiny-tokenizers.ts";

after(removeModelDirs);

interface TokenizerCase {
  kind: string;
  text: string;
  input_ids: number[];
}

const subdirs = (dir: string): string[] =>
  existsSync(dir)
    ? readdirSync(dir, { withFileTypes: true })
        .filter((e) => e.isDirectory())
        .map((e) => join(dir, e.name))
        .sort()
    : [];

const readJson = (file: string): unknown => JSON.parse(readFileSync(file, "utf8"));

describe("tokenizer fixtures (expected Hugging Face input_ids)", () => {
  const dirs = subdirs(join(fixturesRoot, "tokenizers")).filter((d) => existsSync(join(d, "cases.json")));
  it("finds at least one fixture folder", () => assert.ok(dirs.length > 0, "no tokenizer fixtures found"));

  for (const dir of dirs) {
    const { cases } = readJson(join(dir, "cases.json")) as { cases: TokenizerCase[] };
    for (const file of ["tokenizer.json", "tokenizer.legacy.json"].filter((f) => existsSync(join(dir, f)))) {
      describe(`${dir.split(/[\\/]/).pop()}/${file}`, () => {
        const tok = loadTokenizer(dir, { file });

        it(`matches input_ids for all ${cases.length} cases`, () => {
          const got = encodeBatch(
            tok,
            cases.map((c) => c.text),
          ).ids;
          cases.forEach((c, i) =>
            assert.deepEqual(got[i], c.input_ids, `${c.kind}: ${JSON.stringify(c.text)}`),
          );
        });

        it("matches without special tokens too", () => {
          const got = encodeBatch(
            tok,
            cases.map((c) => c.text),
            { addSpecialTokens: false },
          ).ids;
          const [p, s] = [tok.prefixIds.length, tok.suffixIds.length];
          cases.forEach((c, i) => assert.deepEqual(got[i], c.input_ids.slice(p, c.input_ids.length - s)));
        });

        it("truncates the text and keeps the special tokens", () => {
          const long = cases.reduce((a, b) => (b.input_ids.length > a.input_ids.length ? b : a));
          const ids = long.input_ids;
          const specials = tok.prefixIds.length + tok.suffixIds.length;
          const out = encodeBatch(tok, [long.text, ""], { maxLength: specials + 4 });
          const keep = tok.prefixIds.length + 4;
          assert.deepEqual(out.ids[0], [
            ...ids.slice(0, keep),
            ...ids.slice(ids.length - tok.suffixIds.length),
          ]);
          assert.deepEqual(out.ids[1], [...tok.prefixIds, ...tok.suffixIds]);
          assert.deepEqual(out.truncated, [true, false]);
          assert.deepEqual(out.lengths, [specials + 4, specials]);
        });

        it("reads model_max_length and the pad id", () => {
          const configFile = join(dir, "tokenizer_config.json");
          const config = (existsSync(configFile) ? readJson(configFile) : {}) as {
            model_max_length?: number;
            pad_token?: string;
          };
          assert.equal(tok.modelMaxLength, config.model_max_length ?? null);
          if (config.pad_token !== undefined) assert.equal(tok.padId, tok.tokenToId(config.pad_token));
        });
      });
    }
  }
});

describe("tiny WordPiece tokenizer", () => {
  const { tokenizer, config } = tinyWordPiece();
  const tok = tokenizerFromJson(tokenizer, config, "tiny-wordpiece");

  it("wraps texts in [CLS] ... [SEP] and lowercases", () => {
    assert.equal(tok.modelType, "WordPiece");
    assert.deepEqual(tok.prefixIds, [2]);
    assert.deepEqual(tok.suffixIds, [3]);
    assert.deepEqual(encodeBatch(tok, ["Hello worlds."]).ids, [[2, 5, 6, 7, 10, 3]]);
  });

  it("encodes empty text as the special tokens alone", () => {
    assert.deepEqual(encodeBatch(tok, [""]).ids, [[2, 3]]);
    assert.deepEqual(encodeBatch(tok, [""], { addSpecialTokens: false }).ids, [[]]);
  });

  it("truncates to model_max_length by default and to maxLength when given", () => {
    const text = "the hello world a the hello world a";
    const byDefault = encodeBatch(tok, [text, "a"]);
    assert.equal(tok.modelMaxLength, 8);
    assert.deepEqual(byDefault.ids[0], [2, 8, 5, 6, 9, 8, 5, 3]);
    assert.deepEqual(byDefault.truncated, [true, false]);
    assert.deepEqual(encodeBatch(tok, [text], { maxLength: 2 }).ids, [[2, 3]]);
    assert.deepEqual(encodeBatch(tok, [text], { maxLength: 3, addSpecialTokens: false }).ids, [[8, 5, 6]]);
  });

  it("rejects a maxLength that cannot hold the special tokens", () => {
    assert.throws(() => encodeBatch(tok, ["a"], { maxLength: 1 }), /maxLength 1 is invalid .* at least 2/);
  });

  it("maps unknown words to [UNK]", () => {
    assert.deepEqual(encodeBatch(tok, ["zebra"]).ids, [[2, 1, 3]]);
  });

  it("pads a batch row-major with the pad id and a mask", () => {
    const { ids } = encodeBatch(tok, ["hello world", "", "a"]);
    const padded = padBatch(ids, tok.padId);
    assert.equal(padded.batch, 3);
    assert.equal(padded.seqLen, 4);
    assert.deepEqual([...padded.ids], [2, 5, 6, 3, 2, 3, 0, 0, 2, 9, 3, 0]);
    assert.deepEqual([...padded.attentionMask], [1, 1, 1, 1, 1, 1, 0, 0, 1, 1, 1, 0]);
    const wide = padBatch(ids, 7, { padTo: 5 });
    assert.equal(wide.seqLen, 5);
    assert.deepEqual([...wide.ids.slice(5, 10)], [2, 3, 7, 7, 7]);
  });

  it("pads an empty batch to nothing", () => {
    const padded = padBatch([], 0);
    assert.equal(padded.batch, 0);
    assert.equal(padded.ids.length, 0);
  });
});

describe("other tokenizer.json layouts", () => {
  it("loads WordLevel models (unknown words become the model's unk token)", () => {
    const tok = tokenizerFromJson({
      model: { type: "WordLevel", vocab: { "<unk>": 0, "<pad>": 1, hello: 2, world: 3 }, unk_token: "<unk>" },
      pre_tokenizer: { type: "WhitespaceSplit" },
      added_tokens: [],
    });
    assert.equal(tok.modelType, "WordLevel");
    assert.deepEqual(encodeBatch(tok, ["hello zebra world"]).ids, [[2, 0, 3]]);
    assert.equal(tok.padId, 1);
    assert.equal(tok.modelMaxLength, null);
  });

  it("reads special tokens written as AddedToken objects and treats huge model_max_length as none", () => {
    const { tokenizer, config } = tinyNllb();
    const tok = tokenizerFromJson(tokenizer, { ...config, model_max_length: 1e30 });
    assert.equal(tok.specialIds.eos, 2);
    assert.equal(tok.specialIds.pad, 1);
    assert.equal(tok.modelMaxLength, null);
    // NLLB's own post-processor prepends eng_Latn; nllb-input replaces it with the real language.
    assert.deepEqual(tok.prefixIds, [tok.tokenToId("eng_Latn")]);
    assert.deepEqual(tok.suffixIds, [2]);
  });
});

describe("tokenizer load errors", () => {
  it("names a missing folder", () => {
    assert.throws(
      () => loadTokenizer("/nonexistent/xlir-model"),
      /tokenizer folder \/nonexistent\/xlir-model does not exist/,
    );
  });

  it("names a folder without tokenizer.json", () => {
    const dir = writeModelDir({ "config.json": {} });
    assert.throws(
      () => loadTokenizer(dir),
      /no tokenizer\.json in .*: xlir needs the model's tokenizer\.json; write it with transformers: AutoTokenizer\.from_pretrained\(".*"\)\.save_pretrained\(".*"\)$/,
    );
  });

  it("names invalid JSON files", () => {
    const dir = writeModelDir({ "tokenizer.json": "{ not json" });
    assert.throws(() => loadTokenizer(dir), /tokenizer\.json is not valid JSON/);
    const { tokenizer } = tinyWordPiece();
    const bad = writeModelDir({ "tokenizer.json": tokenizer, "tokenizer_config.json": "[1," });
    assert.throws(() => loadTokenizer(bad), /tokenizer_config\.json is not valid JSON/);
  });

  it("names an unsupported model type", () => {
    const { tokenizer } = tinyWordPiece();
    const dir = writeModelDir({
      "tokenizer.json": { ...tokenizer, model: { type: "CharLevel", vocab: {} } },
    });
    assert.throws(() => loadTokenizer(dir), /uses tokenizer model type "CharLevel", which xlir cannot load/);
  });

  it("names a file that is not a tokenizer.json", () => {
    const dir = writeModelDir({ "tokenizer.json": { vocab: {} } });
    assert.throws(() => loadTokenizer(dir), /has no "model" object/);
  });

  it("wraps library errors (unknown components) in one line naming the file", () => {
    const { tokenizer } = tinyWordPiece();
    const dir = writeModelDir({ "tokenizer.json": { ...tokenizer, pre_tokenizer: { type: "Mystery" } } });
    assert.throws(
      () => loadTokenizer(dir),
      (e: Error) => {
        assert.match(
          e.message,
          /^cannot load tokenizer .*tokenizer\.json: Unknown PreTokenizer type: Mystery$/,
        );
        return true;
      },
    );
  });

  it("every error is one line", () => {
    assert.throws(
      () => loadTokenizer("/nonexistent"),
      (e: Error) => !e.message.includes("\n"),
    );
  });
});
