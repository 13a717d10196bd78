// A sentence-transformers folder -> plain data describing what runs after the encoder:
// modules.json lists the pipeline (Transformer -> Pooling -> Dense* -> Normalize?), each module's
// folder holds its config (and Dense its weights); sentence_bert_config.json gives max_seq_length /
// do_lower_case, config_sentence_transformers.json the prompts ("query: ", "passage: ", ...).
import { existsSync, readFileSync, statSync } from "node:fs";
import { join } from "node:path";
import { SafetensorsFile, type Tensor } from "./safetensors.ts";

/** Pooling modes in the order sentence-transformers concatenates them (Pooling.forward). */
export const POOLING_MODES = [
  "cls",
  "max",
  "mean",
  "mean_sqrt_len_tokens",
  "weightedmean",
  "lasttoken",
] as const;
export type PoolingMode = (typeof POOLING_MODES)[number];

export interface PoolingSpec {
  /** Active modes, in concatenation order; usually exactly one. */
  modes: PoolingMode[];
  /** False: prompt tokens (e.g. "query: ") are masked out of the pooling (INSTRUCTOR-style). */
  includePrompt: boolean;
  /** word_embedding_dimension, or null when the config omits it. */
  dimension: number | null;
}

export type DenseActivation = "identity" | "tanh" | "relu" | "gelu" | "sigmoid" | "silu";

export interface DenseLayer {
  /** The module's folder, relative to the sentence-transformers folder (e.g. "2_Dense"). */
  path: string;
  inFeatures: number;
  outFeatures: number;
  /** [outFeatures, inFeatures], PyTorch's nn.Linear layout: y = act(x W^T + b). */
  weight: Tensor;
  /** [outFeatures], or null when bias is false. */
  bias: Tensor | null;
  activation: DenseActivation;
}

export interface SentenceTransformersModel {
  /** The Transformer module's folder (usually the root): where config.json and model.safetensors are. */
  transformerDir: string;
  pooling: PoolingSpec;
  /** Dense layers after pooling, in pipeline order. */
  dense: DenseLayer[];
  /** L2-normalise the final vector. */
  normalize: boolean;
  /** sentence_bert_config.json max_seq_length, or null (then the tokenizer / position table decides). */
  maxSeqLength: number | null;
  doLowerCase: boolean;
  /** Prompt name -> prefix, e.g. {query: "query: ", passage: "passage: "}; {} when none. */
  prompts: Record<string, string>;
  defaultPromptName: string | null;
  /** "cosine", "dot", "euclidean", "manhattan", or null when unspecified (sentence-transformers: cosine). */
  similarity: string | null;
}

type ModuleKind = "Transformer" | "Pooling" | "Dense" | "Normalize";
const KINDS: readonly string[] = ["Transformer", "Pooling", "Dense", "Normalize"];

const ACTIVATIONS: Record<string, DenseActivation> = {
  Identity: "identity",
  Tanh: "tanh",
  ReLU: "relu",
  GELU: "gelu",
  Sigmoid: "sigmoid",
  SiLU: "silu",
};

/**
 * Reads the sentence-transformers description of `dir`. Returns null when there is no modules.json
 * (a plain transformers folder); throws a one-line Error for anything malformed or unsupported.
 */
export function readSentenceTransformers(dir: string): SentenceTransformersModel | null {
  if (!existsSync(dir) || !statSync(dir).isDirectory()) {
    throw new Error(`${dir}: model folder not found; check the path`);
  }
  const modulesFile = join(dir, "modules.json");
  if (!existsSync(modulesFile)) return null;
  const modules = parseModules(readJson(modulesFile), modulesFile);

  // The only pipeline shape xlir runs: Transformer, Pooling, then Dense layers, then Normalize.
  const order = modules.map((m) => m.kind).join(" -> ");
  if (!/^Transformer -> Pooling( -> Dense)*( -> Normalize)?$/.test(order)) {
    throw new Error(
      `${modulesFile}: module pipeline ${order} is not supported; xlir runs Transformer -> Pooling -> Dense* -> Normalize?`,
    );
  }
  const transformerDir = join(dir, modules[0].path);
  const bertFile = join(transformerDir, "sentence_bert_config.json");
  const stFile = join(dir, "config_sentence_transformers.json");
  const bert = readObject(bertFile, false);
  const st = readObject(stFile, false);
  const { prompts, defaultPromptName } = readPromptConfig(dir) ?? { prompts: {}, defaultPromptName: null };

  const maxSeqLength = bert.max_seq_length ?? null;
  if (maxSeqLength !== null && !(Number.isSafeInteger(maxSeqLength) && (maxSeqLength as number) > 0)) {
    throw new Error(
      `${bertFile}: max_seq_length must be a positive integer, got ${JSON.stringify(maxSeqLength)}`,
    );
  }
  const similarity = st.similarity_fn_name ?? null;

  return {
    transformerDir,
    pooling: readPooling(join(dir, modules[1].path)),
    dense: modules.filter((m) => m.kind === "Dense").map((m) => readDense(dir, m.path)),
    normalize: modules[modules.length - 1].kind === "Normalize",
    maxSeqLength: maxSeqLength as number | null,
    doLowerCase: bert.do_lower_case === true,
    prompts,
    defaultPromptName,
    similarity: typeof similarity === "string" ? similarity : null,
  };
}

/** config_sentence_transformers.json's prompts: what the checkpoint says to prepend per prompt name. */
export interface PromptConfig {
  /** Prompt name -> prefix, e.g. {query: "query: ", document: "passage: "}; {} when none. */
  prompts: Record<string, string>;
  defaultPromptName: string | null;
  /** True when the file has a "prompts" entry at all (even {}). */
  hasPrompts: boolean;
}

/**
 * The prompts in `dir`/config_sentence_transformers.json, or null when the folder has no such file.
 * Read whether or not the folder has modules.json: the prompts are the checkpoint's own statement
 * of its prefixes, worth more than any guess from the folder's name.
 */
export function readPromptConfig(dir: string): PromptConfig | null {
  const stFile = join(dir, "config_sentence_transformers.json");
  if (!existsSync(stFile)) return null;
  const st = readObject(stFile, false);
  const prompts = st.prompts ?? {};
  if (!isRecord(prompts) || !Object.values(prompts).every((p) => typeof p === "string")) {
    throw new Error(`${stFile}: "prompts" must map prompt names to strings, e.g. {"query": "query: "}`);
  }
  const defaultPromptName = st.default_prompt_name ?? null;
  if (
    defaultPromptName !== null &&
    !(typeof defaultPromptName === "string" && defaultPromptName in prompts)
  ) {
    throw new Error(
      `${stFile}: default_prompt_name ${JSON.stringify(defaultPromptName)} is not one of "prompts"`,
    );
  }
  return {
    prompts: prompts as Record<string, string>,
    defaultPromptName: defaultPromptName as string | null,
    hasPrompts: st.prompts !== undefined && st.prompts !== null,
  };
}

interface ModuleEntry {
  kind: ModuleKind;
  path: string;
}

function parseModules(json: unknown, file: string): ModuleEntry[] {
  if (!Array.isArray(json) || json.length === 0) {
    throw new Error(`${file}: expected a non-empty list of modules; fix or re-download the file`);
  }
  const entries = json.map((m, i) => {
    if (!isRecord(m) || typeof m.type !== "string" || typeof m.path !== "string") {
      throw new Error(`${file}: module ${i} needs string "type" and "path" fields`);
    }
    // "sentence_transformers.models.Pooling" -> "Pooling"; the package path has moved between
    // releases, the class name has not.
    const kind = m.type.slice(m.type.lastIndexOf(".") + 1);
    if (!KINDS.includes(kind)) {
      throw new Error(`${file}: module type "${m.type}" is not supported; xlir reads ${KINDS.join(", ")}`);
    }
    const idx = typeof m.idx === "number" ? m.idx : i;
    return { idx, kind: kind as ModuleKind, path: m.path };
  });
  return entries.sort((a, b) => a.idx - b.idx).map(({ kind, path }) => ({ kind, path }));
}

function readPooling(folder: string): PoolingSpec {
  const file = join(folder, "config.json");
  const c = readObject(file, true);
  let modes: PoolingMode[];
  if (c.pooling_mode !== undefined && c.pooling_mode !== null) {
    // Pooling(pooling_mode="mean") overrides every pooling_mode_* flag.
    const mode = String(c.pooling_mode).toLowerCase();
    if (!(POOLING_MODES as readonly string[]).includes(mode)) {
      throw new Error(`${file}: pooling_mode "${mode}" is unknown; use one of ${POOLING_MODES.join(", ")}`);
    }
    modes = [mode as PoolingMode];
  } else {
    // Constructor defaults: only mean pooling is on unless the config says otherwise.
    const flags: Record<PoolingMode, unknown> = {
      cls: c.pooling_mode_cls_token ?? false,
      max: c.pooling_mode_max_tokens ?? false,
      mean: c.pooling_mode_mean_tokens ?? true,
      mean_sqrt_len_tokens: c.pooling_mode_mean_sqrt_len_tokens ?? false,
      weightedmean: c.pooling_mode_weightedmean_tokens ?? false,
      lasttoken: c.pooling_mode_lasttoken ?? false,
    };
    modes = POOLING_MODES.filter((m) => flags[m] === true);
  }
  if (modes.length === 0)
    throw new Error(`${file}: no pooling mode is enabled; set e.g. "pooling_mode_mean_tokens": true`);
  const dimension = c.word_embedding_dimension ?? null;
  if (dimension !== null && !(Number.isSafeInteger(dimension) && (dimension as number) > 0)) {
    throw new Error(
      `${file}: word_embedding_dimension must be a positive integer, got ${JSON.stringify(dimension)}`,
    );
  }
  return { modes, includePrompt: c.include_prompt !== false, dimension: dimension as number | null };
}

function readDense(dir: string, path: string): DenseLayer {
  const folder = join(dir, path);
  const file = join(folder, "config.json");
  const c = readObject(file, true);
  const count = (key: string) => {
    const v = c[key];
    if (!Number.isSafeInteger(v) || (v as number) <= 0) {
      throw new Error(`${file}: "${key}" must be a positive integer, got ${JSON.stringify(v)}`);
    }
    return v as number;
  };
  const inFeatures = count("in_features");
  const outFeatures = count("out_features");
  const hasBias = c.bias !== false;
  if ((c.module_input_name ?? "sentence_embedding") !== "sentence_embedding") {
    throw new Error(
      `${file}: Dense on "${String(c.module_input_name)}" is not supported, only on the pooled vector`,
    );
  }
  // Saved as the activation's class path, e.g. "torch.nn.modules.activation.Tanh"; Dense's own
  // default is Tanh, and null means Identity.
  const fn = c.activation_function === undefined ? "Tanh" : (c.activation_function ?? "Identity");
  const cls = String(fn).slice(String(fn).lastIndexOf(".") + 1);
  const activation = ACTIVATIONS[cls];
  if (!activation) {
    throw new Error(
      `${file}: activation_function "${String(fn)}" is not supported; xlir knows ${Object.keys(ACTIVATIONS).join(", ")}`,
    );
  }

  const weights = join(folder, "model.safetensors");
  if (!existsSync(weights)) {
    const pickle = existsSync(join(folder, "pytorch_model.bin"));
    throw new Error(
      pickle
        ? `${folder}: Dense weights are only in pytorch_model.bin (a pickle xlir does not read); convert them to model.safetensors`
        : `${weights}: Dense weights not found; the sentence-transformers folder is incomplete`,
    );
  }
  const st = SafetensorsFile.open(weights);
  try {
    const weight = st.read("linear.weight");
    if (weight.dims.join() !== `${outFeatures},${inFeatures}`) {
      throw new Error(
        `${weights}: linear.weight is [${weight.dims.join(", ")}] but config.json says [${outFeatures}, ${inFeatures}]`,
      );
    }
    let bias: Tensor | null = null;
    if (hasBias) {
      bias = st.read("linear.bias");
      if (bias.dims.join() !== `${outFeatures}`) {
        throw new Error(
          `${weights}: linear.bias is [${bias.dims.join(", ")}] but out_features is ${outFeatures}`,
        );
      }
    }
    return { path, inFeatures, outFeatures, weight, bias, activation };
  } finally {
    st.close();
  }
}

function isRecord(v: unknown): v is Record<string, unknown> {
  return typeof v === "object" && v !== null && !Array.isArray(v);
}

/** Parses a JSON file; undefined when the file does not exist. */
function readJson(file: string): unknown {
  if (!existsSync(file)) return undefined;
  try {
    return JSON.parse(readFileSync(file, "utf8"));
  } catch (e) {
    const why =
      e instanceof SyntaxError
        ? `invalid JSON (${e.message}); fix or re-download the file`
        : `cannot read (${(e as Error).message})`;
    throw new Error(`${file}: ${why}`, { cause: e });
  }
}

/** A JSON object file; a missing file is an error when `required`, else {}. */
function readObject(file: string, required: boolean): Record<string, unknown> {
  const json = readJson(file);
  if (json === undefined) {
    if (!required) return {};
    throw new Error(`${file}: not found; the sentence-transformers folder is incomplete`);
  }
  if (!isRecord(json)) throw new Error(`${file}: expected a JSON object; fix or re-download the file`);
  return json;
}
