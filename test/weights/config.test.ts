// config.json -> ModelConfig: every fixture config, the defaults of transformers' config classes
// for absent fields, and the errors a user can cause.
import assert from "node:assert/strict";
import { existsSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, describe, test } from "node:test";
import { parseConfig, readConfig } from "../../src/weights/config.ts";
import { SafetensorsFile } from "../../src/weights/safetensors.ts";
import { fixturesRoot } from "../helpers/shared.ts";

const tmp = mkdtempSync(join(tmpdir(), "xlir-config-"));
after(() => rmSync(tmp, { recursive: true, force: true }));

const encoders = join(fixturesRoot, "encoders");
const fixtureDirs = existsSync(encoders)
  ? readdirSync(encoders)
      .map((d) => join(encoders, d))
      .filter((d) => existsSync(join(d, "config.json")))
  : [];

describe("fixture configs", () => {
  test("the encoder fixtures are found", () =>
    assert.ok(fixtureDirs.length > 0, `no config.json under ${encoders}`));

  for (const dir of fixtureDirs) {
    test(`${dir.split(/[\\/]/).at(-1)}: normalised fields agree with the raw JSON and the weights`, () => {
      const raw = JSON.parse(readFileSync(join(dir, "config.json"), "utf8"));
      const c = readConfig(dir);
      assert.deepEqual(readConfig(join(dir, "config.json")), c, "a folder or its config.json");
      assert.deepEqual(c.architectures, raw.architectures);
      assert.equal(c.vocabSize, raw.vocab_size);
      assert.equal(c.headDim * c.heads, c.hidden);
      assert.equal(c.padTokenId, raw.pad_token_id);

      // Shapes in model.safetensors pin the sizes down independently of the config's key names.
      const st = SafetensorsFile.open(join(dir, "model.safetensors"));
      try {
        const find = (suffix: string) => st.tensors.find((t) => t.name.endsWith(suffix))!.shape;
        if (c.family === "m2m100") {
          assert.equal(raw.model_type, "m2m_100");
          assert.deepEqual(find("shared.weight"), [c.vocabSize, c.hidden]);
          assert.deepEqual(find("encoder.layers.0.fc1.weight"), [c.ffn, c.hidden]);
          assert.equal(
            st.tensors.filter((t) => /encoder\.layers\.\d+\.fc1\.weight$/.test(t.name)).length,
            c.layers,
          );
          assert.equal(c.act, raw.activation_function);
          assert.equal(c.scaleEmbedding, raw.scale_embedding);
          assert.equal(c.layerNormEps, 1e-5);
          assert.equal(c.maxTokens, raw.max_position_embeddings);
          assert.deepEqual(c.decoder, {
            layers: raw.decoder_layers,
            heads: raw.decoder_attention_heads,
            ffn: raw.decoder_ffn_dim,
            startTokenId: raw.decoder_start_token_id,
            vocabSize: c.vocabSize,
          });
        } else {
          assert.equal(c.family, raw.model_type);
          assert.deepEqual(find("embeddings.word_embeddings.weight"), [c.vocabSize, c.hidden]);
          assert.deepEqual(find("embeddings.position_embeddings.weight"), [c.maxPositions, c.hidden]);
          assert.deepEqual(find("embeddings.token_type_embeddings.weight"), [c.typeVocabSize, c.hidden]);
          assert.deepEqual(find("layer.0.intermediate.dense.weight"), [c.ffn, c.hidden]);
          assert.equal(c.layers, raw.num_hidden_layers);
          assert.equal(c.act, raw.hidden_act);
          assert.equal(c.layerNormEps, raw.layer_norm_eps);
          assert.equal(c.positionEmbeddingType, raw.position_embedding_type);
          // XLM-R: 66 rows = 64 tokens + pad id 1 + 1; BERT uses every row.
          assert.equal(c.maxTokens, c.family === "xlm-roberta" ? c.maxPositions - 2 : c.maxPositions);
        }
      } finally {
        st.close();
      }
    });
  }
});

describe("defaults of transformers' config classes", () => {
  test("BertConfig", () => {
    const c = parseConfig({ model_type: "bert" });
    assert.deepEqual(
      { ...c, raw: undefined },
      {
        family: "bert",
        modelType: "bert",
        architectures: [],
        vocabSize: 30522,
        hidden: 768,
        layers: 12,
        heads: 12,
        headDim: 64,
        ffn: 3072,
        act: "gelu",
        maxPositions: 512,
        maxTokens: 512,
        typeVocabSize: 2,
        layerNormEps: 1e-12,
        positionEmbeddingType: "absolute",
        padTokenId: 0,
        bosTokenId: null,
        eosTokenId: null,
        scaleEmbedding: false,
        tieWordEmbeddings: true,
        decoder: null,
        torchDtype: null,
        raw: undefined,
      },
    );
  });

  test("XLMRobertaConfig: BERT's defaults with pad 1, bos 0, eos 2", () => {
    const c = parseConfig({ model_type: "xlm-roberta", max_position_embeddings: 514, layer_norm_eps: 1e-5 });
    assert.equal(c.family, "xlm-roberta");
    assert.equal(c.vocabSize, 30522);
    assert.equal(c.layerNormEps, 1e-5);
    assert.deepEqual([c.padTokenId, c.bosTokenId, c.eosTokenId], [1, 0, 2]);
    assert.equal(c.maxTokens, 512);
    assert.equal(c.typeVocabSize, 2);
    assert.equal(parseConfig({ model_type: "xlm-roberta" }).layerNormEps, 1e-12);
  });

  test("MarianConfig (opus-mt)", () => {
    const c = parseConfig({ architectures: ["MarianMTModel"] });
    assert.deepEqual([c.family, c.modelType], ["marian", "marian"]);
    assert.deepEqual(
      [c.vocabSize, c.hidden, c.layers, c.heads, c.ffn, c.act, c.maxPositions, c.scaleEmbedding],
      [58101, 1024, 12, 16, 4096, "gelu", 1024, false],
    );
    assert.deepEqual([c.padTokenId, c.bosTokenId, c.eosTokenId], [58100, null, 0]);
    assert.deepEqual(c.decoder, { layers: 12, heads: 16, ffn: 4096, startTokenId: 58100, vocabSize: 58101 });
    const zhEn = parseConfig({
      model_type: "marian",
      vocab_size: 65001,
      decoder_vocab_size: 65001,
      d_model: 512,
      activation_function: "swish",
      pad_token_id: 65000,
      decoder_start_token_id: 65000,
      scale_embedding: true,
    });
    assert.deepEqual(
      [zhEn.hidden, zhEn.act, zhEn.padTokenId, zhEn.decoder?.startTokenId],
      [512, "swish", 65000, 65000],
    );
  });

  test("M2M100Config (NLLB)", () => {
    const c = parseConfig({ model_type: "m2m_100", architectures: ["M2M100ForConditionalGeneration"] });
    assert.equal(c.family, "m2m100");
    assert.deepEqual(
      [c.vocabSize, c.hidden, c.layers, c.heads, c.headDim, c.ffn, c.act, c.maxPositions, c.maxTokens],
      [128112, 1024, 12, 16, 64, 4096, "relu", 1024, 1024],
    );
    assert.deepEqual([c.padTokenId, c.bosTokenId, c.eosTokenId], [1, 0, 2]);
    assert.equal(c.scaleEmbedding, true);
    assert.equal(c.positionEmbeddingType, "sinusoidal");
    assert.deepEqual(c.decoder, { layers: 12, heads: 16, ffn: 4096, startTokenId: 2, vocabSize: 128112 });
    // attribute_map aliases win over the native names, as in transformers.
    const aliased = parseConfig({
      model_type: "m2m_100",
      d_model: 64,
      hidden_size: 32,
      num_attention_heads: 2,
    });
    assert.deepEqual([aliased.hidden, aliased.heads], [32, 2]);
  });

  test("explicit nulls and the newer `dtype` key", () => {
    const c = parseConfig({
      model_type: "bert",
      pad_token_id: null,
      hidden_act: "gelu_new",
      dtype: "bfloat16",
    });
    assert.equal(c.padTokenId, null);
    assert.equal(c.act, "gelu_new");
    assert.equal(c.torchDtype, "bfloat16");
  });

  test("model_type inferred from architectures when absent", () => {
    assert.equal(parseConfig({ architectures: ["BertForMaskedLM"] }).family, "bert");
    assert.equal(parseConfig({ architectures: ["XLMRobertaModel"] }).family, "xlm-roberta");
    assert.equal(parseConfig({ architectures: ["M2M100ForConditionalGeneration"] }).modelType, "m2m_100");
  });
});

describe("errors", () => {
  const write = (name: string, text: string) => {
    const p = join(tmp, name);
    writeFileSync(p, text);
    return p;
  };

  test("missing file or folder without config.json", () => {
    assert.throws(() => readConfig(join(tmp, "nope")), /nope: config not found/);
    assert.throws(() => readConfig(tmp), /config\.json: config\.json not found/);
  });

  test("invalid JSON", () => {
    assert.throws(() => readConfig(write("bad.json", "{ hidden_size: 3")), /bad\.json: invalid JSON/);
    assert.throws(() => readConfig(write("list.json", "[]")), /list\.json: expected a JSON object/);
  });

  test("unknown model_type or architecture names what is supported", () => {
    assert.throws(
      () => readConfig(write("t5.json", '{"model_type": "t5"}')),
      /t5\.json: model_type "t5" is not supported; supported model_type values: "bert", "xlm-roberta", "m2m_100"/,
    );
    assert.throws(
      () => parseConfig({ architectures: ["LlamaForCausalLM"] }, "llama/config.json"),
      /llama\/config\.json: no model_type and architectures \["LlamaForCausalLM"\] that xlir recognises; supported/,
    );
    assert.throws(() => parseConfig({}), /no model_type and no architectures/);
  });

  test("wrongly typed fields", () => {
    assert.throws(
      () => parseConfig({ model_type: "bert", hidden_size: "768" }),
      /"hidden_size" must be an integer >= 1, got "768"/,
    );
    assert.throws(
      () => parseConfig({ model_type: "bert", hidden_size: 30, num_attention_heads: 4 }),
      /30 is not a multiple of the 4/,
    );
    assert.throws(
      () => parseConfig({ model_type: "m2m_100", scale_embedding: "yes" }),
      /"scale_embedding" must be true or false/,
    );
  });
});
