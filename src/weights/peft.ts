// PEFT LoRA adapter folders as plain data: adapter_config.json + adapter_model.safetensors, read and
// written exactly as Hugging Face PEFT's `save_pretrained` lays them out, and the LoRA merge
// W' = W + scale * B @ A that folds an adapter into its base weights for inference.
//
// Key layout: PEFT wraps the transformers model as `base_model.model.<module path>` and drops the
// adapter name ("default") when saving, so a BertModel's query projection in layer 0 is stored as
// `base_model.model.encoder.layer.0.attention.self.query.lora_A.weight` ([r, in]) and `...lora_B.weight`
// ([out, r]). Here a module is named by its path in the base model (`encoder.layer.0.attention.self.query`),
// which is also how its base weight is named (`<path>.weight`).
//
// Supported: LoRA on nn.Linear modules (rank/alpha patterns, rsLoRA). Refused with a clear error, because
// merging them as plain LoRA would silently give different outputs: DoRA, trained biases,
// modules_to_save, fan_in_fan_out (GPT-2 Conv1D layout), layer_replication, embedding LoRA.
import { existsSync, mkdirSync, readFileSync, renameSync, rmSync, statSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { SafetensorsFile, writeSafetensors, type FloatStorage, type Tensor } from "./safetensors.ts";

export const ADAPTER_CONFIG = "adapter_config.json";
export const ADAPTER_WEIGHTS = "adapter_model.safetensors";
/** What PEFT puts in front of every module path: PeftModel.base_model (LoraModel) .model (the transformers model). */
export const PEFT_PREFIX = "base_model.model.";

/** The task types PEFT accepts (its TaskType enum); anything else makes LoraConfig raise on load. */
export const PEFT_TASK_TYPES = [
  "SEQ_CLS",
  "SEQ_2_SEQ_LM",
  "CAUSAL_LM",
  "TOKEN_CLS",
  "QUESTION_ANS",
  "FEATURE_EXTRACTION",
] as const;

export interface LoraConfig {
  r: number;
  /** lora_alpha. */
  alpha: number;
  /** lora_dropout (training only; merging ignores it). */
  dropout: number;
  /** A list of module-name suffixes, or a regex string PEFT full-matches, or null (PEFT's per-model default). */
  targetModules: string[] | string | null;
  /** base_model_name_or_path: a hub id or a folder. */
  baseModel: string | null;
  revision: string | null;
  /** e.g. "FEATURE_EXTRACTION", or null (plain PeftModel). */
  taskType: string | null;
  /** PEFT writes true on every save, whatever the model was doing. */
  inferenceMode: boolean;
  /** Scale alpha/sqrt(r) instead of alpha/r. */
  useRslora: boolean;
  /** Per-module rank / alpha overrides, keyed by a regex on the module path's tail. */
  rankPattern: Record<string, number>;
  alphaPattern: Record<string, number>;
  /** Every other adapter_config.json field that differs from PEFT's default or that PEFT 0.10 does not know
   * (a newer release wrote it), kept so a read-then-write round trip loses nothing. */
  extra: Record<string, unknown>;
}

export interface LoraPair {
  /** lora_A.weight, [r, in]. */
  A: Tensor;
  /** lora_B.weight, [out, r]. */
  B: Tensor;
}

export interface LoraAdapter {
  config: LoraConfig;
  /** Module path in the base model (no `base_model.model.` prefix) -> its A/B pair. */
  weights: Map<string, LoraPair>;
}

// PEFT 0.10's LoraConfig field set with its defaults, as `save_pretrained` writes it. We write exactly
// these fields (plus any read from a newer file): PEFT <= 0.10 raises on unknown keys, newer releases
// drop them with a warning, so this set loads everywhere from 0.10 on.
const PEFT_DEFAULTS: Record<string, unknown> = {
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
  lora_alpha: 8,
  lora_dropout: 0.0,
  megatron_config: null,
  megatron_core: "megatron.core",
  modules_to_save: null,
  peft_type: "LORA",
  r: 8,
  rank_pattern: {},
  revision: null,
  target_modules: null,
  task_type: null,
  use_dora: false,
  use_rslora: false,
};

// adapter_config.json keys that LoraConfig holds as typed fields; every other key lives in `extra`.
const TYPED_KEYS = new Set([
  "peft_type",
  "r",
  "lora_alpha",
  "lora_dropout",
  "target_modules",
  "base_model_name_or_path",
  "revision",
  "task_type",
  "inference_mode",
  "use_rslora",
  "rank_pattern",
  "alpha_pattern",
]);

/** A LoRA config with PEFT's defaults for everything not given (r 8, alpha 8, dropout 0, ...). */
export function loraConfig(fields: Partial<LoraConfig> = {}): LoraConfig {
  return {
    r: 8,
    alpha: 8,
    dropout: 0,
    targetModules: null,
    baseModel: null,
    revision: null,
    taskType: null,
    inferenceMode: true,
    useRslora: false,
    rankPattern: {},
    alphaPattern: {},
    extra: {},
    ...fields,
  };
}

// ---------------------------------------------------------------------------------------------
// Ranks, scales and target matching (pure; these mirror PEFT's own rules)
// ---------------------------------------------------------------------------------------------

/** PEFT's get_pattern_key: the first rank_pattern then alpha_pattern key whose regex matches the path's
 * tail (after a dot); else the path itself. The one key then indexes both maps, as in PEFT. */
function patternKey(config: LoraConfig, modulePath: string): string {
  for (const key of [...Object.keys(config.rankPattern), ...Object.keys(config.alphaPattern)]) {
    if (new RegExp(`^(?:.*\\.)?(?:${key})$`).test(modulePath)) return key;
  }
  return modulePath;
}

/** The LoRA rank of one module: rank_pattern's override, else r. */
export function loraRank(config: LoraConfig, modulePath?: string): number {
  if (modulePath === undefined) return config.r;
  return config.rankPattern[patternKey(config, modulePath)] ?? config.r;
}

/** The factor on B @ A: alpha/r, or alpha/sqrt(r) with use_rslora; per module when patterns apply. */
export function loraScale(config: LoraConfig, modulePath?: string): number {
  const key = modulePath === undefined ? null : patternKey(config, modulePath);
  const r = key === null ? config.r : (config.rankPattern[key] ?? config.r);
  const alpha = key === null ? config.alpha : (config.alphaPattern[key] ?? config.alpha);
  return config.useRslora ? alpha / Math.sqrt(r) : alpha / r;
}

/** PEFT's check_target_module_exists: a regex string must match the whole path; a list entry must equal
 * the path or be its last dotted component(s). null (unknown) and "all-linear" select everything. */
export function isLoraTarget(config: LoraConfig, modulePath: string): boolean {
  return matchesTargets(config.targetModules, modulePath);
}

function matchesTargets(targets: string[] | string | null, modulePath: string): boolean {
  if (targets === null || targets === "all-linear") return true;
  if (typeof targets === "string") return new RegExp(`^(?:${targets})$`).test(modulePath);
  return targets.some((name) => modulePath === name || modulePath.endsWith(`.${name}`));
}

/** Module names of a checkpoint from its tensor names: every `<module>.weight`. */
export function moduleNames(tensorNames: Iterable<string>): string[] {
  return [...tensorNames].filter((n) => n.endsWith(".weight")).map((n) => n.slice(0, -".weight".length));
}

/**
 * Checks an adapter against the base model's module names (e.g. moduleNames(file.names())): every
 * adapted module must exist, and every target_modules entry must select at least one module (PEFT
 * refuses to build an adapter otherwise). `source` names the adapter in the error.
 */
export function checkLoraTargets(adapter: LoraAdapter, baseModules: Iterable<string>, source: string): void {
  const base = new Set(baseModules);
  const some = [...base].slice(0, 3).join(", ");
  for (const path of adapter.weights.keys()) {
    if (!base.has(path)) {
      throw new Error(
        `${source}: LoRA module "${path}" is not in the base model (${base.size} modules, e.g. ${some}); use the base model the adapter was trained on`,
      );
    }
  }
  // Each list entry on its own (a regex string is one entry), as PEFT reports unmatched targets.
  const targets = adapter.config.targetModules;
  for (const target of Array.isArray(targets) ? targets : targets === null ? [] : [targets]) {
    const probe = Array.isArray(targets) ? [target] : target;
    if (![...base].some((m) => matchesTargets(probe, m))) {
      throw new Error(
        `${source}: target module "${target}" not found in the base model (e.g. ${some}); fix target_modules in ${ADAPTER_CONFIG}`,
      );
    }
  }
}

// ---------------------------------------------------------------------------------------------
// Merge
// ---------------------------------------------------------------------------------------------

const dimsText = (t: Tensor) => `[${t.dims.join(", ")}]`;

/**
 * W + scale * B @ A for an nn.Linear weight W [out, in], A [r, in], B [out, r]. Each output row is
 * accumulated in float64 and rounded to float32 once, so the result is the correctly rounded merge.
 */
export function mergeLora(base: Tensor, A: Tensor, B: Tensor, scale: number): Tensor {
  const [out, inn] = base.dims;
  const r = A.dims[0];
  const ok =
    base.dims.length === 2 &&
    A.dims.length === 2 &&
    B.dims.length === 2 &&
    A.dims[1] === inn &&
    B.dims[0] === out &&
    B.dims[1] === r &&
    base.data.length === out * inn &&
    A.data.length === r * inn &&
    B.data.length === out * r;
  if (!ok) {
    throw new Error(
      `mergeLora: weight ${dimsText(base)}, lora_A ${dimsText(A)}, lora_B ${dimsText(B)} do not fit W [out, in], A [r, in], B [out, r]; the adapter belongs to another base model`,
    );
  }
  const W = base.data;
  const a = A.data;
  const b = B.data;
  const merged = new Float32Array(out * inn);
  const row = new Float64Array(inn);
  for (let o = 0; o < out; o++) {
    row.fill(0);
    for (let k = 0; k < r; k++) {
      const bk = b[o * r + k];
      const ak = k * inn;
      for (let i = 0; i < inn; i++) row[i] += bk * a[ak + i];
    }
    const w = o * inn;
    for (let i = 0; i < inn; i++) merged[w + i] = W[w + i] + scale * row[i];
  }
  return { data: merged, dims: [out, inn] };
}

/**
 * The base weights with every adapted `<module>.weight` replaced by its merge (others shared, not
 * copied). `source` names the base model in errors.
 */
export function mergeAdapter(
  base: Map<string, Tensor>,
  adapter: LoraAdapter,
  source: string,
): Map<string, Tensor> {
  const out = new Map(base);
  for (const [path, { A, B }] of adapter.weights) {
    const name = `${path}.weight`;
    const W = base.get(name);
    if (!W) {
      throw new Error(
        `${source}: no weight "${name}" for the LoRA module "${path}"; use the base model the adapter was trained on`,
      );
    }
    try {
      out.set(name, mergeLora(W, A, B, loraScale(adapter.config, path)));
    } catch (e) {
      throw new Error(`${source}: "${name}": ${(e as Error).message}`, { cause: e });
    }
  }
  return out;
}

// ---------------------------------------------------------------------------------------------
// adapter_config.json <-> LoraConfig
// ---------------------------------------------------------------------------------------------

const isRecord = (v: unknown): v is Record<string, unknown> =>
  typeof v === "object" && v !== null && !Array.isArray(v);
const isPositiveInt = (v: unknown): v is number => Number.isSafeInteger(v) && (v as number) > 0;

/** Validates a config (from a file or a caller); `where` names the source in the one-line errors. */
function checkConfig(c: LoraConfig, where: string): void {
  const fail = (what: string) => new Error(`${where}: ${what}`);
  if (!isPositiveInt(c.r)) throw fail(`r must be a positive integer, got ${JSON.stringify(c.r)}`);
  if (typeof c.alpha !== "number" || !Number.isFinite(c.alpha)) {
    throw fail(`lora_alpha must be a number, got ${JSON.stringify(c.alpha)}`);
  }
  if (typeof c.dropout !== "number" || !(c.dropout >= 0 && c.dropout < 1)) {
    throw fail(`lora_dropout must be a number in [0, 1), got ${JSON.stringify(c.dropout)}`);
  }
  const t = c.targetModules;
  if (!(t === null || typeof t === "string" || (Array.isArray(t) && t.every((x) => typeof x === "string")))) {
    throw fail(
      `target_modules must be a list of module names, a regex string or null, got ${JSON.stringify(t)}`,
    );
  }
  if (typeof t === "string") {
    try {
      new RegExp(t);
    } catch {
      throw fail(`target_modules "${t}" is not a valid regular expression; list the module names instead`);
    }
  }
  for (const [k, v] of [
    ["base_model_name_or_path", c.baseModel],
    ["revision", c.revision],
    ["task_type", c.taskType],
  ] as const) {
    if (v !== null && typeof v !== "string")
      throw fail(`${k} must be a string or null, got ${JSON.stringify(v)}`);
  }
  if (c.taskType !== null && !(PEFT_TASK_TYPES as readonly string[]).includes(c.taskType)) {
    throw fail(
      `task_type "${c.taskType}" is not one PEFT knows; use one of ${PEFT_TASK_TYPES.join(", ")} or null`,
    );
  }
  for (const [k, v] of [
    ["rank_pattern", c.rankPattern],
    ["alpha_pattern", c.alphaPattern],
  ] as const) {
    if (!isRecord(v) || !Object.values(v).every((x) => typeof x === "number")) {
      throw fail(`${k} must map module-name patterns to numbers, got ${JSON.stringify(v)}`);
    }
    for (const key of Object.keys(v)) {
      try {
        new RegExp(key);
      } catch {
        throw fail(`${k} key "${key}" is not a valid regular expression`);
      }
    }
  }
  if (Object.values(c.rankPattern).some((x) => !isPositiveInt(x))) {
    throw fail(`rank_pattern ranks must be positive integers, got ${JSON.stringify(c.rankPattern)}`);
  }
  // Features whose weights would merge differently from plain LoRA: refuse rather than merge wrongly.
  const x = { ...PEFT_DEFAULTS, ...c.extra };
  if (x.peft_type !== undefined && x.peft_type !== "LORA") {
    throw fail(
      `peft_type is ${JSON.stringify(x.peft_type)}; xlir reads LoRA adapters only (peft_type "LORA")`,
    );
  }
  if (x.use_dora !== false)
    throw fail(`use_dora is set; DoRA adapters are not supported, train a plain LoRA`);
  if (x.bias !== "none") {
    throw fail(`bias is ${JSON.stringify(x.bias)}; only bias "none" is supported, train with bias="none"`);
  }
  if (x.fan_in_fan_out !== false) {
    throw fail(`fan_in_fan_out is set (Conv1D layout); xlir adapts nn.Linear modules only`);
  }
  if (x.modules_to_save !== null && !(Array.isArray(x.modules_to_save) && x.modules_to_save.length === 0)) {
    throw fail(
      `modules_to_save ${JSON.stringify(x.modules_to_save)} is not supported; save the adapter without extra modules`,
    );
  }
  if (x.layer_replication !== null)
    throw fail(`layer_replication is not supported; it changes the base model`);
}

/** Parses adapter_config.json's object into a LoraConfig; `file` names it in errors. */
export function parseLoraConfig(json: unknown, file: string): LoraConfig {
  if (!isRecord(json)) throw new Error(`${file}: expected a JSON object; save the adapter again with PEFT`);
  if (json.peft_type !== "LORA") {
    throw new Error(
      `${file}: peft_type is ${JSON.stringify(json.peft_type)}; xlir reads LoRA adapters only (peft_type "LORA")`,
    );
  }
  const extra: Record<string, unknown> = {};
  // Defaults are left out (the writer fills them in), so a PEFT-saved config reads as a plain one.
  for (const [k, v] of Object.entries(json)) {
    const isDefault = k in PEFT_DEFAULTS && JSON.stringify(v) === JSON.stringify(PEFT_DEFAULTS[k]);
    if (!TYPED_KEYS.has(k) && !isDefault) extra[k] = v;
  }
  const config: LoraConfig = {
    r: json.r as number,
    alpha: (json.lora_alpha ?? PEFT_DEFAULTS.lora_alpha) as number,
    dropout: (json.lora_dropout ?? 0) as number,
    targetModules: (json.target_modules ?? null) as string[] | string | null,
    baseModel: (json.base_model_name_or_path ?? null) as string | null,
    revision: (json.revision ?? null) as string | null,
    taskType: (json.task_type ?? null) as string | null,
    inferenceMode: json.inference_mode !== false,
    useRslora: json.use_rslora === true,
    rankPattern: (json.rank_pattern ?? {}) as Record<string, number>,
    alphaPattern: (json.alpha_pattern ?? {}) as Record<string, number>,
    extra,
  };
  if (json.r === undefined) config.r = PEFT_DEFAULTS.r as number;
  checkConfig(config, file);
  return config;
}

/** Python float repr (what json.dumps writes for a float): 0.0, 0.05, 1e-05, 1e+16. */
function pyFloat(x: number): string {
  if (!Number.isFinite(x)) throw new Error(`adapter config: ${x} cannot be written to JSON`);
  if (x === 0) return Object.is(x, -0) ? "-0.0" : "0.0";
  // toExponential() without digits gives the shortest round-trip digits, as Python's repr uses.
  const [mant, expText] = x.toExponential().split("e");
  const exp = Number(expText);
  if (exp < -4 || exp >= 16) return `${mant}e${exp < 0 ? "-" : "+"}${String(Math.abs(exp)).padStart(2, "0")}`;
  const s = String(x); // in this exponent range JS prints plain decimals, the same digits
  return s.includes(".") ? s : `${s}.0`;
}

/** json.dumps(value, indent=2, sort_keys=True): sorted keys, ASCII-only strings; `floats` names keys
 * whose values are Python floats (so 0 prints as 0.0). */
function pyJson(value: unknown, floats: ReadonlySet<string>, key = "", indent = ""): string {
  if (value === null || value === undefined) return "null";
  if (typeof value === "boolean") return value ? "true" : "false";
  if (typeof value === "number") {
    if (floats.has(key) || !Number.isSafeInteger(value)) return pyFloat(value);
    return String(value);
  }
  if (typeof value === "string") {
    return JSON.stringify(value).replace(
      /[\u007f-\uffff]/g,
      (ch) => `\\u${ch.charCodeAt(0).toString(16).padStart(4, "0")}`,
    );
  }
  const inner = `${indent}  `;
  if (Array.isArray(value)) {
    if (value.length === 0) return "[]";
    return `[\n${value.map((v) => inner + pyJson(v, floats, "", inner)).join(",\n")}\n${indent}]`;
  }
  if (isRecord(value)) {
    const keys = Object.keys(value).sort();
    if (keys.length === 0) return "{}";
    const items = keys.map((k) => `${inner}${pyJson(k, floats)}: ${pyJson(value[k], floats, k, inner)}`);
    return `{\n${items.join(",\n")}\n${indent}}`;
  }
  throw new Error(`adapter config: ${typeof value} cannot be written to JSON`);
}

/** adapter_config.json's text for `config`, byte for byte as PEFT's save_pretrained writes it; `where`
 * names the config in validation errors. */
export function loraConfigJson(config: LoraConfig, where = "adapter config"): string {
  checkConfig(config, where);
  const fields: Record<string, unknown> = {
    ...PEFT_DEFAULTS,
    ...config.extra,
    peft_type: "LORA",
    r: config.r,
    lora_alpha: config.alpha,
    lora_dropout: config.dropout,
    target_modules: config.targetModules,
    base_model_name_or_path: config.baseModel,
    revision: config.revision,
    task_type: config.taskType,
    inference_mode: config.inferenceMode,
    use_rslora: config.useRslora,
    rank_pattern: config.rankPattern,
    alpha_pattern: config.alphaPattern,
  };
  return pyJson(fields, new Set(["lora_dropout"]));
}

// ---------------------------------------------------------------------------------------------
// Folders
// ---------------------------------------------------------------------------------------------

/** The safetensors key PEFT saves for one module's A or B. */
export function peftKey(modulePath: string, which: "A" | "B"): string {
  return `${PEFT_PREFIX}${modulePath}.lora_${which}.weight`;
}

/** The adapter's tensors by their PEFT key names (what a graph's LoRA weights are called). */
export function adapterTensors(adapter: LoraAdapter): Map<string, Tensor> {
  return new Map(
    [...adapter.weights].flatMap(([m, { A, B }]) => [
      [peftKey(m, "A"), A],
      [peftKey(m, "B"), B],
    ]),
  );
}

const LORA_KEY = /^base_model\.model\.(.+)\.lora_([AB])\.weight$/;
/** Module order with numbers compared as numbers, so layer 2 comes before layer 10. */
const byLayer = (a: string, b: string) =>
  (layerOrder ??= new Intl.Collator("en", { numeric: true })).compare(a, b);
let layerOrder: Intl.Collator | undefined; // made when first needed: ICU takes ~10 ms, on every CLI start

/** Checks the pairs against each other and the config (rank, 2-D shapes, data lengths, targets). */
function checkWeights(adapter: LoraAdapter, where: string): void {
  if (adapter.weights.size === 0)
    throw new Error(`${where}: the adapter has no LoRA weights; nothing to save or merge`);
  for (const [path, pair] of adapter.weights) {
    if (path.startsWith(PEFT_PREFIX)) {
      throw new Error(
        `${where}: module "${path}" still has PEFT's "${PEFT_PREFIX}" prefix; name modules by their base-model path`,
      );
    }
    const { A, B } = pair;
    for (const [name, t] of [
      ["lora_A", A],
      ["lora_B", B],
    ] as const) {
      if (!t || !(t.data instanceof Float32Array) || !Array.isArray(t.dims)) {
        throw new Error(
          `${where}: module "${path}" has no ${name}; each module needs both lora_A and lora_B`,
        );
      }
      const n = t.dims.reduce((p, d) => p * d, 1);
      if (t.dims.length !== 2 || n !== t.data.length) {
        throw new Error(
          `${where}: ${name} of "${path}" has dims ${dimsText(t)} and ${t.data.length} values; expected a 2-D matrix`,
        );
      }
    }
    const r = loraRank(adapter.config, path);
    if (A.dims[0] !== r || B.dims[1] !== r) {
      throw new Error(
        `${where}: r mismatch for "${path}": the config says r=${r} but lora_A is ${dimsText(A)} and lora_B is ${dimsText(B)} (want [r, in] and [out, r]); the config and weights do not belong together`,
      );
    }
    if (!isLoraTarget(adapter.config, path)) {
      throw new Error(
        `${where}: module "${path}" has LoRA weights but target_modules ${JSON.stringify(adapter.config.targetModules)} does not select it; PEFT would ignore them — fix target_modules`,
      );
    }
  }
}

/** Reads a PEFT LoRA adapter folder (adapter_config.json + adapter_model.safetensors). */
export function readLoraAdapter(dir: string): LoraAdapter {
  if (!existsSync(dir) || !statSync(dir).isDirectory())
    throw new Error(`${dir}: adapter folder not found; check the path`);
  const configFile = join(dir, ADAPTER_CONFIG);
  if (!existsSync(configFile)) {
    throw new Error(
      `${dir}: no ${ADAPTER_CONFIG}; pass a folder saved by PEFT's save_pretrained (${ADAPTER_CONFIG} + ${ADAPTER_WEIGHTS})`,
    );
  }
  let json: unknown;
  try {
    json = JSON.parse(readFileSync(configFile, "utf8"));
  } catch (e) {
    throw new Error(`${configFile}: not valid JSON (${(e as Error).message}); save the adapter again`, {
      cause: e,
    });
  }
  const config = parseLoraConfig(json, configFile);

  const weightsFile = join(dir, ADAPTER_WEIGHTS);
  if (!existsSync(weightsFile)) {
    const pickle = existsSync(join(dir, "adapter_model.bin"));
    throw new Error(
      pickle
        ? `${dir}: only adapter_model.bin (a PyTorch pickle) is present; re-save the adapter with safe_serialization=True`
        : `${dir}: no ${ADAPTER_WEIGHTS} beside ${ADAPTER_CONFIG}; the adapter folder is incomplete`,
    );
  }
  const file = SafetensorsFile.open(weightsFile);
  const parts = new Map<string, Partial<LoraPair>>();
  try {
    for (const name of file.names()) {
      const m = LORA_KEY.exec(name);
      if (!m) {
        throw new Error(
          `${weightsFile}: tensor "${name}" is not a LoRA weight in PEFT's layout (${PEFT_PREFIX}<module>.lora_A.weight / .lora_B.weight); DoRA, bias, embedding LoRA and modules_to_save tensors are not supported`,
        );
      }
      const pair = parts.get(m[1]) ?? {};
      pair[m[2] as "A" | "B"] = file.read(name);
      parts.set(m[1], pair);
    }
  } finally {
    file.close();
  }
  const weights = new Map<string, LoraPair>();
  for (const [path, pair] of [...parts].sort(([a], [b]) => byLayer(a, b))) {
    if (!pair.A || !pair.B) {
      throw new Error(
        `${weightsFile}: "${path}" has lora_${pair.A ? "A" : "B"} but no lora_${pair.A ? "B" : "A"}; the file is incomplete, save the adapter again`,
      );
    }
    weights.set(path, { A: pair.A, B: pair.B });
  }
  const adapter = { config, weights };
  checkWeights(adapter, weightsFile);
  return adapter;
}

export interface WriteLoraOptions {
  /** Storage of the A/B matrices (default F32, as PEFT saves float32 LoRA parameters). */
  dtype?: FloatStorage;
}

/**
 * Writes `adapter` as a folder PEFT's `PeftModel.from_pretrained` loads: adapter_model.safetensors (PEFT
 * key names, metadata {"format": "pt"}) and adapter_config.json. Everything is validated before anything is
 * written, and each file goes to a temporary name renamed into place, so a failure leaves old files whole.
 */
export function writeLoraAdapter(dir: string, adapter: LoraAdapter, options: WriteLoraOptions = {}): void {
  const text = loraConfigJson(adapter.config, dir); // the config first: the weight checks use its patterns
  checkWeights(adapter, dir);
  if (existsSync(dir) && !statSync(dir).isDirectory()) {
    throw new Error(`${dir}: exists and is not a folder; choose another output path for the adapter`);
  }
  mkdirSync(dir, { recursive: true });

  const tensors = new Map<string, Tensor>();
  for (const [path, { A, B }] of adapter.weights) {
    tensors.set(peftKey(path, "A"), A);
    tensors.set(peftKey(path, "B"), B);
  }
  writeSafetensors(join(dir, ADAPTER_WEIGHTS), tensors, { metadata: { format: "pt" }, dtype: options.dtype });

  const target = join(dir, ADAPTER_CONFIG);
  const tmp = `${target}.partial-${process.pid}`;
  try {
    writeFileSync(tmp, text);
    renameSync(tmp, target);
  } catch (e) {
    rmSync(tmp, { force: true });
    throw new Error(`${target}: cannot write the adapter config (${(e as Error).message})`, { cause: e });
  }
}
