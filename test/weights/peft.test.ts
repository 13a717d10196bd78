// PEFT LoRA adapter folders: round trips, PEFT's exact key names and config text, the merge, the
// errors, and every adapter found in the nllb-e5* fixture sets.
import assert from "node:assert/strict";
import {
  existsSync,
  mkdirSync,
  mkdtempSync,
  readdirSync,
  readFileSync,
  rmSync,
  statSync,
  writeFileSync,
} from "node:fs";
import { tmpdir } from "node:os";
import { join, resolve } from "node:path";
import { after, describe, test } from "node:test";
import { fixturesRoot } from "../helpers/shared.ts";
import {
  ADAPTER_CONFIG,
  ADAPTER_WEIGHTS,
  checkLoraTargets,
  loraConfig,
  loraConfigJson,
  loraRank,
  loraScale,
  mergeAdapter,
  mergeLora,
  moduleNames,
  peftKey,
  readLoraAdapter,
  writeLoraAdapter,
  type LoraAdapter,
  type LoraPair,
} from "../../src/weights/peft.ts";
import {
  readSafetensors,
  SafetensorsFile,
  writeSafetensors,
  type Tensor,
} from "../../src/weights/safetensors.ts";

const tmp = mkdtempSync(join(tmpdir(), "xlir-peft-"));
after(() => rmSync(tmp, { recursive: true, force: true }));
let folders = 0;
const freshDir = () => join(tmp, `adapter-${folders++}`);

/** Deterministic pseudo-random values (a small LCG), so failures reproduce. */
function tensor(dims: number[], seed: number): Tensor {
  const n = dims.reduce((a, b) => a * b, 1);
  const data = new Float32Array(n);
  let s = seed >>> 0;
  for (let i = 0; i < n; i++) {
    s = (Math.imul(s, 1664525) + 1013904223) >>> 0;
    data[i] = s / 2 ** 32 - 0.5;
  }
  return { data, dims };
}

const MODULES = [0, 1].flatMap((l) =>
  ["query", "key", "value"].map((m) => `encoder.layer.${l}.attention.self.${m}`),
);

/** A BertModel-style adapter: r 2, hidden 6, LoRA on query/key/value of two layers. */
function bertAdapter(): LoraAdapter {
  const weights = new Map<string, LoraPair>();
  MODULES.forEach((path, i) =>
    weights.set(path, { A: tensor([2, 6], 2 * i + 1), B: tensor([6, 2], 2 * i + 2) }),
  );
  const config = loraConfig({
    r: 2,
    alpha: 4,
    dropout: 0.05,
    targetModules: ["query", "key", "value"],
    baseModel: "intfloat/e5-small-v2",
    taskType: "FEATURE_EXTRACTION",
  });
  return { config, weights };
}

/** A folder with the given config JSON (object or raw text) and tensors (PEFT key -> tensor). */
function rawFolder(config: unknown, tensors: Record<string, Tensor> | null): string {
  const dir = freshDir();
  mkdirSync(dir);
  if (config !== undefined) {
    writeFileSync(join(dir, ADAPTER_CONFIG), typeof config === "string" ? config : JSON.stringify(config));
  }
  if (tensors) writeSafetensors(join(dir, ADAPTER_WEIGHTS), tensors, { metadata: { format: "pt" } });
  return dir;
}

const PEFT_CONFIG = {
  peft_type: "LORA",
  r: 2,
  lora_alpha: 4,
  target_modules: ["query"],
  bias: "none",
};
const queryPair = { A: tensor([2, 6], 1), B: tensor([6, 2], 2) };
const queryTensors = {
  [peftKey(MODULES[0], "A")]: queryPair.A,
  [peftKey(MODULES[0], "B")]: queryPair.B,
};

describe("PEFT adapter folders", () => {
  test("round trip: write then read gives the same config and bit-identical weights", () => {
    const dir = freshDir();
    const adapter = bertAdapter();
    writeLoraAdapter(dir, adapter);
    const back = readLoraAdapter(dir);
    assert.deepEqual(back.config, adapter.config);
    assert.deepEqual([...back.weights.keys()], [...adapter.weights.keys()].sort());
    for (const [path, { A, B }] of adapter.weights) {
      assert.deepEqual(back.weights.get(path), { A, B });
    }
    assert.deepEqual(readdirSync(dir).sort(), [ADAPTER_CONFIG, ADAPTER_WEIGHTS]); // no temp files left
    // Writing what was read gives the same bytes again.
    const again = freshDir();
    writeLoraAdapter(again, back);
    for (const f of [ADAPTER_CONFIG, ADAPTER_WEIGHTS]) {
      assert.deepEqual(readFileSync(join(again, f)), readFileSync(join(dir, f)), f);
    }
  });

  test("safetensors keys and metadata are exactly PEFT's", () => {
    const dir = freshDir();
    writeLoraAdapter(dir, bertAdapter());
    const file = SafetensorsFile.open(join(dir, ADAPTER_WEIGHTS));
    try {
      const expected = MODULES.flatMap((m) => [
        `base_model.model.${m}.lora_A.weight`,
        `base_model.model.${m}.lora_B.weight`,
      ]).sort();
      assert.deepEqual([...file.names()].sort(), expected);
      assert.deepEqual(file.metadata, { format: "pt" });
      assert.deepEqual(
        file.info("base_model.model.encoder.layer.1.attention.self.value.lora_A.weight").shape,
        [2, 6],
      );
      assert.deepEqual(
        file.info("base_model.model.encoder.layer.1.attention.self.value.lora_B.weight").shape,
        [6, 2],
      );
    } finally {
      file.close();
    }
  });

  test("adapter_config.json is PEFT's json.dumps(indent=2, sort_keys=True) with the v0.10 field set", () => {
    const text = loraConfigJson(loraConfig({ r: 32, alpha: 64, targetModules: ["query", "key", "value"] }));
    const json = JSON.parse(text);
    assert.deepEqual(Object.keys(json), Object.keys(json).sort());
    assert.deepEqual(json, {
      alpha_pattern: {},
      auto_mapping: null,
      base_model_name_or_path: null,
      bias: "none",
      fan_in_fan_out: false,
      inference_mode: true,
      init_lora_weights: true,
      layer_replication: null,
      layers_pattern: null,
      layers_to_transform: null,
      loftq_config: {},
      lora_alpha: 64,
      lora_dropout: 0,
      megatron_config: null,
      megatron_core: "megatron.core",
      modules_to_save: null,
      peft_type: "LORA",
      r: 32,
      rank_pattern: {},
      revision: null,
      target_modules: ["query", "key", "value"],
      task_type: null,
      use_dora: false,
      use_rslora: false,
    });
    // Python's formatting: float dropout keeps ".0", no trailing newline, two-space indent.
    assert.match(text, /\n {2}"lora_dropout": 0\.0,\n/);
    assert.match(text, /\n {2}"target_modules": \[\n {4}"query",\n/);
    assert.ok(text.endsWith("\n}"));
    const small = loraConfigJson(loraConfig({ dropout: 0.00001, baseModel: "modèle" }));
    assert.match(small, /"lora_dropout": 1e-05,/);
    assert.match(small, /"base_model_name_or_path": "mod\\u00e8le",/);
  });

  test("unknown fields from a newer PEFT survive a read/write round trip", () => {
    const dir = rawFolder(
      { ...PEFT_CONFIG, lora_bias: false, exclude_modules: null, runtime_config: {} },
      queryTensors,
    );
    const adapter = readLoraAdapter(dir);
    assert.deepEqual(adapter.config.extra, {
      lora_bias: false,
      exclude_modules: null,
      runtime_config: {},
    });
    const out = freshDir();
    writeLoraAdapter(out, adapter);
    const json = JSON.parse(readFileSync(join(out, ADAPTER_CONFIG), "utf8"));
    assert.equal(json.lora_bias, false);
    assert.equal(json.exclude_modules, null);
    assert.equal(json.use_dora, false); // and the defaults are filled in
  });

  test("F16 storage rounds the matrices to half precision", () => {
    const dir = freshDir();
    const adapter = bertAdapter();
    writeLoraAdapter(dir, adapter, { dtype: "F16" });
    const file = SafetensorsFile.open(join(dir, ADAPTER_WEIGHTS));
    assert.equal(file.info(peftKey(MODULES[0], "A")).dtype, "F16");
    file.close();
    const back = readLoraAdapter(dir).weights.get(MODULES[0])!;
    const want = adapter.weights.get(MODULES[0])!.A.data;
    back.A.data.forEach((v, i) => assert.ok(Math.abs(v - want[i]) <= 2 ** -11 * Math.abs(want[i]) + 1e-7));
  });
});

describe("scales and ranks", () => {
  test("alpha/r, alpha/sqrt(r) with rsLoRA, and PEFT's rank/alpha patterns", () => {
    assert.equal(loraScale(loraConfig({ r: 32, alpha: 64 })), 2);
    assert.equal(loraScale(loraConfig({ r: 16, alpha: 8, useRslora: true })), 2);
    const c = loraConfig({
      r: 8,
      alpha: 16,
      rankPattern: { "layer\\.1\\.attention\\.self\\.query": 4 },
      alphaPattern: { value: 32 },
    });
    assert.equal(loraRank(c, "encoder.layer.1.attention.self.query"), 4);
    assert.equal(loraScale(c, "encoder.layer.1.attention.self.query"), 16 / 4);
    assert.equal(loraRank(c, "encoder.layer.0.attention.self.query"), 8);
    assert.equal(loraScale(c, "encoder.layer.0.attention.self.value"), 32 / 8);
    assert.equal(loraScale(c, "encoder.layer.0.attention.self.key"), 2);
    // A pattern matches after a dot only: "value" does not select "xvalue".
    assert.equal(loraScale(c, "encoder.layer.0.attention.self.xvalue"), 2);
  });

  test("a per-module rank from rank_pattern is what the shape check expects", () => {
    const dir = rawFolder(
      { ...PEFT_CONFIG, target_modules: ["query", "key"], rank_pattern: { key: 1 } },
      {
        ...queryTensors,
        [peftKey(MODULES[1], "A")]: tensor([1, 6], 3),
        [peftKey(MODULES[1], "B")]: tensor([6, 1], 4),
      },
    );
    const adapter = readLoraAdapter(dir);
    assert.equal(adapter.weights.get(MODULES[1])!.A.dims[0], 1);
    assert.equal(loraScale(adapter.config, MODULES[1]), 4);
  });
});

describe("mergeLora", () => {
  test("W + scale * B @ A on a hand-computed 2x3, r = 1 example", () => {
    const W = { data: new Float32Array([1, 2, 3, 4, 5, 6]), dims: [2, 3] };
    const A = { data: new Float32Array([1, 0, -1]), dims: [1, 3] };
    const B = { data: new Float32Array([2, 0.5]), dims: [2, 1] };
    // B @ A = [[2, 0, -2], [0.5, 0, -0.5]]; times 2 = [[4, 0, -4], [1, 0, -1]].
    const merged = mergeLora(W, A, B, 2);
    assert.deepEqual(merged.dims, [2, 3]);
    assert.deepEqual([...merged.data], [5, 2, -1, 5, 5, 5]);
    assert.deepEqual([...W.data], [1, 2, 3, 4, 5, 6]); // the base is not modified
  });

  test("mergeAdapter replaces exactly the adapted weights, with each module's scale", () => {
    const adapter = bertAdapter();
    const base = new Map<string, Tensor>(MODULES.map((m, i) => [`${m}.weight`, tensor([6, 6], 100 + i)]));
    base.set("embeddings.word_embeddings.weight", tensor([10, 6], 7));
    const merged = mergeAdapter(base, adapter, "base");
    assert.equal(
      merged.get("embeddings.word_embeddings.weight"),
      base.get("embeddings.word_embeddings.weight"),
    );
    const { A, B } = adapter.weights.get(MODULES[4])!;
    const W = base.get(`${MODULES[4]}.weight`)!;
    const got = merged.get(`${MODULES[4]}.weight`)!;
    for (let o = 0; o < 6; o++) {
      for (let i = 0; i < 6; i++) {
        const delta = B.data[o * 2] * A.data[i] + B.data[o * 2 + 1] * A.data[6 + i];
        assert.ok(Math.abs(got.data[o * 6 + i] - (W.data[o * 6 + i] + 2 * delta)) < 1e-6);
      }
    }
  });

  test("mismatched shapes are refused", () => {
    const W = tensor([4, 6], 1);
    assert.throws(
      () => mergeLora(W, tensor([2, 5], 2), tensor([4, 2], 3), 1),
      /mergeLora: .*another base model/,
    );
    assert.throws(() => mergeLora(W, tensor([2, 6], 2), tensor([4, 3], 3), 1), /do not fit/);
    const adapter = bertAdapter();
    assert.throws(
      () => mergeAdapter(new Map([[`${MODULES[0]}.weight`, tensor([6, 6], 1)]]), adapter, "tiny-bert"),
      /tiny-bert: no weight "encoder\.layer\.0\.attention\.self\.key\.weight"/,
    );
  });
});

describe("errors", () => {
  const oneLine = (re: RegExp) => (e: unknown) => {
    assert.ok(e instanceof Error);
    assert.ok(!e.message.includes("\n"), e.message);
    assert.match(e.message, re);
    return true;
  };

  test("missing folder, config or weights", () => {
    assert.throws(() => readLoraAdapter(join(tmp, "nope")), oneLine(/adapter folder not found/));
    const noConfig = rawFolder(undefined, queryTensors);
    assert.throws(
      () => readLoraAdapter(noConfig),
      oneLine(/no adapter_config\.json; pass a folder saved by PEFT/),
    );
    const noWeights = rawFolder(PEFT_CONFIG, null);
    assert.throws(() => readLoraAdapter(noWeights), oneLine(/no adapter_model\.safetensors/));
    writeFileSync(join(noWeights, "adapter_model.bin"), "pickle");
    assert.throws(() => readLoraAdapter(noWeights), oneLine(/safe_serialization=True/));
    assert.throws(
      () => readLoraAdapter(rawFolder("{r: 4", queryTensors)),
      oneLine(/adapter_config\.json: not valid JSON/),
    );
  });

  test("peft_type other than LORA", () => {
    const dir = rawFolder({ ...PEFT_CONFIG, peft_type: "IA3" }, queryTensors);
    assert.throws(() => readLoraAdapter(dir), oneLine(/peft_type is "IA3"; xlir reads LoRA adapters only/));
  });

  test("r in the config disagrees with the tensor shapes", () => {
    const dir = rawFolder({ ...PEFT_CONFIG, r: 4 }, queryTensors);
    assert.throws(
      () => readLoraAdapter(dir),
      oneLine(
        /r mismatch for "encoder\.layer\.0\.attention\.self\.query": the config says r=4 but lora_A is \[2, 6\]/,
      ),
    );
    const adapter = bertAdapter();
    adapter.config.r = 3;
    assert.throws(() => writeLoraAdapter(freshDir(), adapter), oneLine(/r mismatch/));
  });

  test("an incomplete A/B pair", () => {
    const dir = rawFolder(PEFT_CONFIG, { [peftKey(MODULES[0], "A")]: queryPair.A });
    assert.throws(
      () => readLoraAdapter(dir),
      oneLine(/"encoder\.layer\.0\.attention\.self\.query" has lora_A but no lora_B; the file is incomplete/),
    );
    const adapter = bertAdapter();
    adapter.weights.set(MODULES[0], { A: queryPair.A } as LoraPair);
    const out = freshDir();
    assert.throws(() => writeLoraAdapter(out, adapter), oneLine(/has no lora_B/));
    assert.equal(existsSync(out), false); // nothing written
  });

  test("tensors outside PEFT's LoRA layout, and unsupported features", () => {
    const named = (name: string) => rawFolder(PEFT_CONFIG, { ...queryTensors, [name]: tensor([6], 1) });
    for (const name of [
      "base_model.model.encoder.layer.0.attention.self.query.lora_magnitude_vector",
      "base_model.model.classifier.weight",
      "encoder.layer.0.attention.self.query.lora_A.weight",
      "base_model.model.encoder.layer.0.attention.self.query.lora_A.default.weight",
    ]) {
      assert.throws(
        () => readLoraAdapter(named(name)),
        oneLine(/is not a LoRA weight in PEFT's layout/),
        name,
      );
    }
    for (const [field, value, re] of [
      ["use_dora", true, /DoRA adapters are not supported/],
      ["bias", "lora_only", /only bias "none" is supported/],
      ["fan_in_fan_out", true, /fan_in_fan_out is set/],
      ["modules_to_save", ["classifier"], /modules_to_save \["classifier"\] is not supported/],
      ["task_type", "RETRIEVAL", /task_type "RETRIEVAL" is not one PEFT knows/],
      ["r", 0, /r must be a positive integer/],
    ] as const) {
      const dir = rawFolder({ ...PEFT_CONFIG, [field]: value }, queryTensors);
      assert.throws(() => readLoraAdapter(dir), oneLine(re), field);
    }
  });

  test("weights for a module target_modules does not select", () => {
    const dir = rawFolder({ ...PEFT_CONFIG, target_modules: ["value"] }, queryTensors);
    assert.throws(() => readLoraAdapter(dir), oneLine(/does not select it; PEFT would ignore them/));
  });

  test("target modules missing from the base model", () => {
    const adapter = bertAdapter();
    const base = moduleNames(MODULES.map((m) => `${m}.weight`).concat(["embeddings.LayerNorm.weight"]));
    checkLoraTargets(adapter, base, "adapter"); // all present: no error
    assert.throws(
      () =>
        checkLoraTargets(
          adapter,
          base.filter((m) => !m.endsWith("key")),
          "adapter",
        ),
      oneLine(/adapter: LoRA module "encoder\.layer\.0\.attention\.self\.key" is not in the base model/),
    );
    adapter.config.targetModules = ["query", "key", "value", "dense"];
    assert.throws(
      () => checkLoraTargets(adapter, base, "adapter"),
      oneLine(/target module "dense" not found in the base model/),
    );
    adapter.config.targetModules = ".*\\.(query|key|value)";
    checkLoraTargets(adapter, base, "adapter");
    adapter.config.targetModules = ".*\\.(query|key|value|q_proj)";
    checkLoraTargets(adapter, base, "adapter"); // a regex needs to match something, not every alternative
    adapter.config.targetModules = ".*\\.q_proj";
    assert.throws(
      () => checkLoraTargets(adapter, base, "adapter"),
      oneLine(/target module ".*q_proj" not found/),
    );
  });

  test("a failed write leaves the existing adapter whole", () => {
    const dir = freshDir();
    writeLoraAdapter(dir, bertAdapter());
    const before = readFileSync(join(dir, ADAPTER_WEIGHTS));
    const bad = bertAdapter();
    bad.config.dropout = 1.5;
    assert.throws(() => writeLoraAdapter(dir, bad), oneLine(/lora_dropout must be a number in \[0, 1\)/));
    assert.deepEqual(readFileSync(join(dir, ADAPTER_WEIGHTS)), before);
    const file = join(tmp, "a-file");
    writeFileSync(file, "x");
    assert.throws(() => writeLoraAdapter(file, bertAdapter()), oneLine(/exists and is not a folder/));
  });
});

// ---------------------------------------------------------------------------------------------
// Fixtures: every adapter folder under <fixtures root>/nllb-e5*
// ---------------------------------------------------------------------------------------------

const isDir = (p: string) => existsSync(p) && statSync(p).isDirectory();
/** Folders under `dir` (itself included) holding an adapter_config.json. */
function adapterDirs(dir: string): string[] {
  const here = existsSync(join(dir, ADAPTER_CONFIG)) ? [dir] : [];
  const subs = readdirSync(dir, { withFileTypes: true }).filter((e) => e.isDirectory());
  return here.concat(subs.flatMap((e) => adapterDirs(join(dir, e.name))));
}
const caseSets = isDir(fixturesRoot)
  ? readdirSync(fixturesRoot)
      .filter((n) => n.startsWith("nllb-e5") && isDir(join(fixturesRoot, n)))
      .sort()
  : [];

/** The base model's folder: student_config.json's e5_base_path, else base_model_name_or_path beside the adapter. */
function baseDir(adapterDir: string, baseModel: string | null): string | null {
  const student = join(adapterDir, "student_config.json");
  const candidates: string[] = [];
  if (existsSync(student)) {
    const p = JSON.parse(readFileSync(student, "utf8")).e5_base_path;
    if (typeof p === "string") candidates.push(resolve(adapterDir, p));
  }
  if (baseModel) candidates.push(resolve(adapterDir, baseModel), resolve(adapterDir, "..", baseModel));
  return candidates.find((c) => existsSync(join(c, "model.safetensors"))) ?? null;
}

describe(
  "nllb-e5 fixtures",
  { skip: caseSets.length === 0 && `no nllb-e5* folder under ${fixturesRoot}` },
  () => {
    for (const set of caseSets) {
      const root = join(fixturesRoot, set);
      for (const dir of adapterDirs(root)) {
        const label = `${set}/${dir.slice(root.length + 1) || "."}`;

        test(`${label}: reads with PEFT's key names and writes the same files back`, () => {
          const adapter = readLoraAdapter(dir);
          const { config } = adapter;
          assert.ok(adapter.weights.size > 0);
          for (const [path, { A, B }] of adapter.weights) {
            assert.ok(!path.startsWith("base_model."), path);
            assert.equal(A.dims[0], loraRank(config, path));
            assert.equal(B.dims[1], loraRank(config, path));
          }
          // The adapter's own file names every module exactly as peftKey does.
          const stored = SafetensorsFile.open(join(dir, ADAPTER_WEIGHTS));
          const names = [...stored.names()].sort();
          stored.close();
          assert.deepEqual(
            names,
            [...adapter.weights.keys()].flatMap((p) => [peftKey(p, "A"), peftKey(p, "B")]).sort(),
          );

          const studentFile = join(dir, "student_config.json");
          if (existsSync(studentFile)) {
            const scaling = JSON.parse(readFileSync(studentFile, "utf8")).lora_scaling;
            if (typeof scaling === "number") assert.equal(loraScale(config), scaling);
          }

          // Written back: the config text is byte-identical to the fixture's (it is PEFT's format) and
          // the tensors are bit-identical under the same names.
          const out = freshDir();
          writeLoraAdapter(out, adapter);
          assert.equal(
            readFileSync(join(out, ADAPTER_CONFIG), "utf8"),
            readFileSync(join(dir, ADAPTER_CONFIG), "utf8"),
          );
          const a = readSafetensors(join(dir, ADAPTER_WEIGHTS));
          const b = readSafetensors(join(out, ADAPTER_WEIGHTS));
          assert.deepEqual([...b.keys()].sort(), [...a.keys()].sort());
          for (const [k, t] of a) assert.deepEqual(b.get(k), t, k);
        });

        test(`${label}: gradients in cases.json use the adapter's key names and shapes`, (t) => {
          const casesFile = [
            join(dir, "cases.json"),
            join(dir, "..", "cases.json"),
            join(root, "cases.json"),
          ].find((f) => existsSync(f));
          if (!casesFile) return t.skip("no cases.json");
          const adapter = readLoraAdapter(dir);
          const cases = JSON.parse(readFileSync(casesFile, "utf8")).cases as {
            grads?: Record<string, unknown[]>;
          }[];
          const shapes = new Map(
            [...adapter.weights].flatMap(([p, { A, B }]) => [
              [peftKey(p, "A"), A.dims],
              [peftKey(p, "B"), B.dims],
            ]),
          );
          for (const c of cases) {
            const lora = Object.keys(c.grads ?? {}).filter((k) => k.includes(".lora_"));
            assert.deepEqual(lora.sort(), [...shapes.keys()].sort());
            for (const k of lora) {
              const g = c.grads![k] as unknown[][];
              assert.deepEqual([g.length, g[0].length], shapes.get(k), k);
            }
          }
        });

        test(`${label}: targets exist in the base model and merge into it`, (t) => {
          const adapter = readLoraAdapter(dir);
          const base = baseDir(dir, adapter.config.baseModel);
          if (!base) return t.skip("base model folder not found beside the adapter");
          const weights = readSafetensors(join(base, "model.safetensors"));
          checkLoraTargets(adapter, moduleNames(weights.keys()), base);
          const merged = mergeAdapter(weights, adapter, base);
          for (const [path, { A, B }] of adapter.weights) {
            const W = weights.get(`${path}.weight`)!;
            const M = merged.get(`${path}.weight`)!;
            const [out, inn] = W.dims;
            const r = A.dims[0];
            const s = loraScale(adapter.config, path);
            let worst = 0;
            for (let o = 0; o < out; o++) {
              for (let i = 0; i < inn; i++) {
                let d = 0;
                for (let k = 0; k < r; k++) d += B.data[o * r + k] * A.data[k * inn + i];
                worst = Math.max(worst, Math.abs(M.data[o * inn + i] - (W.data[o * inn + i] + s * d)));
              }
            }
            assert.ok(worst < 1e-6, `${path}: merge differs from float64 by ${worst}`);
          }
        });
      }
    }
  },
);
