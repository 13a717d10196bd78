// sentence-transformers folders, written by the test into a temporary directory the way
// SentenceTransformer.save() lays them out.
import assert from "node:assert/strict";
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, describe, test } from "node:test";
import { writeSafetensors } from "../../src/weights/safetensors.ts";
import { readSentenceTransformers } from "../../src/weights/sentence-transformers.ts";

const tmp = mkdtempSync(join(tmpdir(), "xlir-st-"));
after(() => rmSync(tmp, { recursive: true, force: true }));

let folders = 0;
/** Writes `files` (path -> JSON value, or raw string) into a fresh folder and returns it. */
function folder(files: Record<string, unknown>): string {
  const dir = join(tmp, `model-${folders++}`);
  mkdirSync(dir);
  for (const [path, content] of Object.entries(files)) {
    const file = join(dir, path);
    mkdirSync(join(file, ".."), { recursive: true });
    writeFileSync(file, typeof content === "string" ? content : JSON.stringify(content, null, 2));
  }
  return dir;
}

const module = (idx: number, type: string, path: string) => ({
  idx,
  name: String(idx),
  path,
  type: `sentence_transformers.models.${type}`,
});
const pooling = (mode: string, extra: Record<string, unknown> = {}) => ({
  word_embedding_dimension: 4,
  pooling_mode_cls_token: mode === "cls",
  pooling_mode_mean_tokens: mode === "mean",
  pooling_mode_max_tokens: mode === "max",
  pooling_mode_mean_sqrt_len_tokens: false,
  pooling_mode_weightedmean_tokens: false,
  pooling_mode_lasttoken: mode === "lasttoken",
  include_prompt: true,
  ...extra,
});

/** An E5-style folder: Transformer at the root, mean pooling, Normalize, "query: " / "passage: " prompts. */
function e5(extra: Record<string, unknown> = {}): Record<string, unknown> {
  return {
    "modules.json": [
      module(0, "Transformer", ""),
      module(1, "Pooling", "1_Pooling"),
      module(2, "Normalize", "2_Normalize"),
    ],
    "1_Pooling/config.json": pooling("mean"),
    "sentence_bert_config.json": { max_seq_length: 512, do_lower_case: false },
    "config_sentence_transformers.json": {
      __version__: { sentence_transformers: "3.0.1", transformers: "4.43.4", pytorch: "2.3.1" },
      prompts: { query: "query: ", passage: "passage: " },
      default_prompt_name: null,
      similarity_fn_name: "cosine",
    },
    ...extra,
  };
}

/** A folder with CLS pooling, a Dense layer (weights in 2_Dense/model.safetensors), then Normalize. */
function withDense(
  config: Record<string, unknown>,
  weights: Record<string, { data: Float32Array; dims: number[] }>,
) {
  const dir = folder({
    "modules.json": [
      module(0, "Transformer", ""),
      module(1, "Pooling", "1_Pooling"),
      module(2, "Dense", "2_Dense"),
      module(3, "Normalize", "3_Normalize"),
    ],
    "1_Pooling/config.json": pooling("cls"),
    "2_Dense/config.json": config,
  });
  writeSafetensors(join(dir, "2_Dense", "model.safetensors"), weights);
  return dir;
}

const W = { data: new Float32Array([1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12]), dims: [3, 4] };
const B = { data: new Float32Array([0.5, -0.5, 0.25]), dims: [3] };
const dense = (extra: Record<string, unknown> = {}) => ({
  in_features: 4,
  out_features: 3,
  bias: true,
  activation_function: "torch.nn.modules.activation.Tanh",
  ...extra,
});

describe("reading pipelines", () => {
  test("E5-style: mean pooling, normalize, prompts, max_seq_length", () => {
    const dir = folder(e5());
    assert.deepEqual(readSentenceTransformers(dir), {
      transformerDir: join(dir, ""),
      pooling: { modes: ["mean"], includePrompt: true, dimension: 4 },
      dense: [],
      normalize: true,
      maxSeqLength: 512,
      doLowerCase: false,
      prompts: { query: "query: ", passage: "passage: " },
      defaultPromptName: null,
      similarity: "cosine",
    });
  });

  test("no modules.json: not a sentence-transformers folder", () => {
    assert.equal(readSentenceTransformers(folder({ "config.json": { model_type: "bert" } })), null);
  });

  test("minimal: no optional configs, no Normalize", () => {
    const dir = folder({
      "modules.json": [module(0, "Transformer", "0_Transformer"), module(1, "Pooling", "1_Pooling")],
      "1_Pooling/config.json": { word_embedding_dimension: 4 }, // constructor defaults: mean pooling
    });
    const st = readSentenceTransformers(dir)!;
    assert.equal(st.transformerDir, join(dir, "0_Transformer"));
    assert.deepEqual(st.pooling, { modes: ["mean"], includePrompt: true, dimension: 4 });
    assert.equal(st.normalize, false);
    assert.equal(st.maxSeqLength, null);
    assert.deepEqual(st.prompts, {});
    assert.equal(st.similarity, null);
  });

  test("modules are taken in idx order, whatever order the list has", () => {
    const files = e5();
    files["modules.json"] = [...(files["modules.json"] as unknown[])].reverse();
    assert.equal(readSentenceTransformers(folder(files))!.normalize, true);
  });

  test("pooling variants", () => {
    const modes = (cfg: Record<string, unknown>) =>
      readSentenceTransformers(folder(e5({ "1_Pooling/config.json": cfg })))!.pooling;
    assert.deepEqual(modes(pooling("lasttoken", { include_prompt: false })), {
      modes: ["lasttoken"],
      includePrompt: false,
      dimension: 4,
    });
    // Several modes concatenate in Pooling.forward's order: cls, max, mean, ...
    assert.deepEqual(
      modes(pooling("mean", { pooling_mode_cls_token: true, pooling_mode_max_tokens: true })).modes,
      ["cls", "max", "mean"],
    );
    assert.deepEqual(
      modes(pooling("mean", { pooling_mode: "CLS" })).modes,
      ["cls"],
      "pooling_mode overrides the flags",
    );
  });

  test("Dense layer with weights and tanh", () => {
    const st = readSentenceTransformers(withDense(dense(), { "linear.weight": W, "linear.bias": B }))!;
    assert.deepEqual(st.pooling.modes, ["cls"]);
    assert.equal(st.normalize, true);
    assert.deepEqual(st.dense, [
      { path: "2_Dense", inFeatures: 4, outFeatures: 3, weight: W, bias: B, activation: "tanh" },
    ]);
  });

  test("Dense without bias, identity activation (by name or null)", () => {
    for (const activation_function of ["torch.nn.modules.linear.Identity", null]) {
      const dir = withDense(dense({ bias: false, activation_function }), { "linear.weight": W });
      const [layer] = readSentenceTransformers(dir)!.dense;
      assert.equal(layer.bias, null);
      assert.equal(layer.activation, "identity");
    }
  });
});

describe("errors", () => {
  test("missing folder", () => {
    assert.throws(() => readSentenceTransformers(join(tmp, "absent")), /absent: model folder not found/);
  });

  test("invalid modules.json", () => {
    assert.throws(
      () => readSentenceTransformers(folder({ "modules.json": "[{" })),
      /modules\.json: invalid JSON/,
    );
    assert.throws(
      () => readSentenceTransformers(folder({ "modules.json": {} })),
      /modules\.json: expected a non-empty list/,
    );
    assert.throws(
      () => readSentenceTransformers(folder({ "modules.json": [{ idx: 0, path: "" }] })),
      /module 0 needs string "type" and "path"/,
    );
  });

  test("unsupported module type or order", () => {
    const files = e5();
    (files["modules.json"] as unknown[]).push(module(3, "LayerNorm", "3_LayerNorm"));
    assert.throws(
      () => readSentenceTransformers(folder(files)),
      /module type "sentence_transformers\.models\.LayerNorm" is not supported; xlir reads Transformer, Pooling, Dense, Normalize/,
    );
    const noPooling = folder({
      "modules.json": [module(0, "Transformer", ""), module(1, "Normalize", "1_Normalize")],
    });
    assert.throws(
      () => readSentenceTransformers(noPooling),
      /module pipeline Transformer -> Normalize is not supported/,
    );
  });

  test("missing or broken module configs", () => {
    const files = e5();
    delete files["1_Pooling/config.json"];
    assert.throws(() => readSentenceTransformers(folder(files)), /1_Pooling[\\/]config\.json: not found/);
    const none = pooling("none");
    assert.throws(
      () => readSentenceTransformers(folder(e5({ "1_Pooling/config.json": none }))),
      /no pooling mode is enabled/,
    );
    assert.throws(
      () => readSentenceTransformers(folder(e5({ "1_Pooling/config.json": { pooling_mode: "median" } }))),
      /pooling_mode "median" is unknown; use one of cls, max, mean/,
    );
    assert.throws(
      () => readSentenceTransformers(folder(e5({ "sentence_bert_config.json": { max_seq_length: "long" } }))),
      /sentence_bert_config\.json: max_seq_length must be a positive integer/,
    );
    assert.throws(
      () =>
        readSentenceTransformers(
          folder(e5({ "config_sentence_transformers.json": { prompts: { query: 1 } } })),
        ),
      /config_sentence_transformers\.json: "prompts" must map prompt names to strings/,
    );
  });

  test("Dense problems", () => {
    assert.throws(
      () =>
        readSentenceTransformers(
          withDense(dense({ out_features: 2 }), { "linear.weight": W, "linear.bias": B }),
        ),
      /linear\.weight is \[3, 4\] but config\.json says \[2, 4\]/,
    );
    assert.throws(
      () => readSentenceTransformers(withDense(dense(), { "linear.weight": W })),
      /no tensor named "linear\.bias"/,
    );
    assert.throws(
      () =>
        readSentenceTransformers(
          withDense(dense({ activation_function: "my.Swish" }), { "linear.weight": W, "linear.bias": B }),
        ),
      /activation_function "my\.Swish" is not supported/,
    );
    const dir = withDense(dense(), { "linear.weight": W, "linear.bias": B });
    rmSync(join(dir, "2_Dense", "model.safetensors"));
    writeFileSync(join(dir, "2_Dense", "pytorch_model.bin"), "pickle");
    assert.throws(
      () => readSentenceTransformers(dir),
      /only in pytorch_model\.bin .*convert them to model\.safetensors/,
    );
  });
});
