// A trained NLLB-E5 model as one self-contained folder that `xlir embed` and the Encoder load like
// any checkpoint:
//   nllb_e5.json            how the parts fit (this file's NllbE5FolderConfig)
//   nllb/                   the NLLB encoder: config.json, model.safetensors (encoder weights
//                           only), tokenizer files
//   e5/                     the student E5: config.json, model.safetensors (LoRA merged, or the
//                           base weights when the adapter is kept separate)
//   adapter/                the PEFT LoRA adapter, only when not merged
//   projection.safetensors  proj.0 / proj.1

import {
  copyFileSync,
  existsSync,
  mkdirSync,
  readFileSync,
  renameSync,
  rmSync,
  writeFileSync,
} from "node:fs";
import { join } from "node:path";
import {
  type LoraAdapter,
  PEFT_PREFIX,
  loraConfig,
  adapterTensors,
  mergeLora,
  peftKey,
  readLoraAdapter,
  writeLoraAdapter,
} from "../weights/peft.ts";
import { type Tensor, readSafetensors, writeSafetensors } from "../weights/safetensors.ts";
import { Checkpoint, tensorSource } from "./checkpoint.ts";
import type { NllbE5Spec, StudentParts } from "./nllb-e5.ts";

export const NLLB_E5_CONFIG = "nllb_e5.json";
const FORMAT = "xlir-nllb-e5/1";
const TOKENIZER_FILES = [
  "tokenizer.json",
  "tokenizer_config.json",
  "special_tokens_map.json",
  "sentencepiece.bpe.model",
  "vocab.txt",
];

export interface NllbE5FolderConfig {
  format: typeof FORMAT;
  /** Where the parts came from (hub ids or folders), for the record. */
  student_encoder: string;
  teacher: string;
  spec: NllbE5Spec;
  /** True when the LoRA weights are folded into e5/model.safetensors. */
  lora_merged: boolean;
  /**
   * The E5 prefixes the student was distilled with (spec.prefixIds are their E5 tokens), recorded
   * so the folder says what it expects whatever it is named; absent in folders written before.
   */
  prefixes?: { query: string; passage: string };
}

/** The prefixes xlir distill uses ("[CLS] query :" / "[CLS] passage :" in spec.prefixIds). */
export const NLLB_E5_PREFIXES = { query: "query: ", passage: "passage: " };

export const isNllbE5Folder = (dir: string) => existsSync(join(dir, NLLB_E5_CONFIG));

function copyTokenizer(from: string, to: string): void {
  for (const f of TOKENIZER_FILES) if (existsSync(join(from, f))) copyFileSync(join(from, f), join(to, f));
}

/** The encoder part of an NLLB checkpoint (drops the decoder and lm_head of a seq2seq file). */
function encoderTensors(ck: Checkpoint, names: readonly string[]): Map<string, Tensor> {
  const out = new Map<string, Tensor>();
  for (const name of names)
    if (/^(model\.)?(encoder\.|shared\.)/.test(name)) out.set(name, ck.readStored(name));
  return out;
}

export interface ExportInput {
  nllbDir: string;
  e5Dir: string;
  studentEncoder: string;
  teacher: string;
  spec: NllbE5Spec;
  projection: Map<string, Tensor>;
  /** Trained E5 weights when fully fine-tuned (unprefixed names); else the base is copied. */
  e5Weights?: Map<string, Tensor>;
  /** Trained LoRA (PEFT names), when the spec has LoRA. */
  lora?: Map<string, Tensor>;
  /** Fold the LoRA into the E5 weights (faster inference); default true. */
  merge?: boolean;
  /** The E5 prefixes spec.prefixIds were tokenized from; default NLLB_E5_PREFIXES. */
  prefixes?: { query: string; passage: string };
}

const MODEL_ENTRIES = ["nllb", "e5", "adapter", "projection.safetensors"];

/**
 * Write the model into `dir`, next to whatever else is there (a training run keeps its checkpoint
 * and logs beside the model). Parts are written to a temp folder and moved in; nllb_e5.json comes
 * last, so a folder with it is always complete.
 */
export function writeNllbE5Folder(dir: string, x: ExportInput): void {
  const tmp = join(dir, `.export-${process.pid}`);
  rmSync(tmp, { recursive: true, force: true });
  mkdirSync(join(tmp, "nllb"), { recursive: true });
  mkdirSync(join(tmp, "e5"), { recursive: true });
  const nllb = Checkpoint.open(x.nllbDir);
  const e5 = Checkpoint.open(x.e5Dir);
  try {
    copyFileSync(join(x.nllbDir, "config.json"), join(tmp, "nllb", "config.json"));
    writeSafetensors(join(tmp, "nllb", "model.safetensors"), encoderTensors(nllb, nllb.storedNames()), {
      metadata: { format: "pt" },
    });
    copyTokenizer(x.nllbDir, join(tmp, "nllb"));
    copyFileSync(join(x.e5Dir, "config.json"), join(tmp, "e5", "config.json"));
    copyTokenizer(x.e5Dir, join(tmp, "e5"));
    const weights = new Map<string, Tensor>();
    for (const name of e5.storedNames()) weights.set(name, x.e5Weights?.get(name) ?? e5.readStored(name));
    const merge = x.merge ?? true;
    const lora = x.spec.lora && x.lora ? x.spec.lora : null;
    const adapter: LoraAdapter | null = lora && {
      config: loraConfig({
        r: lora.r,
        alpha: lora.alpha,
        dropout: lora.dropout,
        targetModules: lora.targets,
        baseModel: "../e5",
      }),
      weights: new Map(
        [...x.lora!.keys()]
          .filter((k) => k.endsWith(".lora_A.weight"))
          .map((k) => {
            const m = k.slice(PEFT_PREFIX.length, -".lora_A.weight".length);
            return [m, { A: x.lora!.get(peftKey(m, "A"))!, B: x.lora!.get(peftKey(m, "B"))! }];
          }),
      ),
    };
    if (adapter && merge)
      for (const [m, { A, B }] of adapter.weights) {
        const key = e5.key(`${m}.weight`)!;
        weights.set(key, mergeLora(weights.get(key)!, A, B, lora!.alpha / lora!.r));
      }
    else if (adapter) writeLoraAdapter(join(tmp, "adapter"), adapter);
    writeSafetensors(join(tmp, "e5", "model.safetensors"), weights, { metadata: { format: "pt" } });
    writeSafetensors(join(tmp, "projection.safetensors"), x.projection, { metadata: { format: "pt" } });
    const spec: NllbE5Spec = { ...x.spec, lora: lora && !merge ? lora : null };
    const cfg: NllbE5FolderConfig = {
      format: FORMAT,
      student_encoder: x.studentEncoder,
      teacher: x.teacher,
      spec,
      lora_merged: !!(lora && merge),
      prefixes: x.prefixes ?? NLLB_E5_PREFIXES,
    };
    writeFileSync(join(tmp, NLLB_E5_CONFIG), JSON.stringify(cfg, null, 2) + "\n");
  } finally {
    nllb.close();
    e5.close();
  }
  rmSync(join(dir, NLLB_E5_CONFIG), { force: true });
  for (const entry of MODEL_ENTRIES) {
    rmSync(join(dir, entry), { recursive: true, force: true });
    if (existsSync(join(tmp, entry))) renameSync(join(tmp, entry), join(dir, entry));
  }
  renameSync(join(tmp, NLLB_E5_CONFIG), join(dir, NLLB_E5_CONFIG));
  rmSync(tmp, { recursive: true, force: true });
}

export interface LoadedNllbE5 {
  config: NllbE5FolderConfig;
  parts: StudentParts;
  /** Folder of the NLLB tokenizer. */
  tokenizerDir: string;
  /** What the model's outputs depend on, for a fingerprint (weights/fingerprint.ts). */
  files: { configs: string[]; weights: string[] };
  close(): void;
}

export function readNllbE5Folder(dir: string): LoadedNllbE5 {
  let config: NllbE5FolderConfig;
  try {
    config = JSON.parse(readFileSync(join(dir, NLLB_E5_CONFIG), "utf8"));
  } catch (e) {
    throw new Error(`${join(dir, NLLB_E5_CONFIG)} is not valid JSON; re-export the model with xlir distill`, {
      cause: e,
    });
  }
  if (config.format !== FORMAT)
    throw new Error(
      `${join(dir, NLLB_E5_CONFIG)}: format "${config.format}" is not ${FORMAT}; re-export the model`,
    );
  const nllb = Checkpoint.open(join(dir, "nllb"));
  const e5 = Checkpoint.open(join(dir, "e5"));
  let lora = null;
  if (config.spec.lora) {
    const adapter = readLoraAdapter(join(dir, "adapter"));
    lora = tensorSource(adapterTensors(adapter), "adapter");
  }
  const parts: StudentParts = {
    nllb,
    e5,
    e5Config: e5.config,
    projection: tensorSource(
      readSafetensors(join(dir, "projection.safetensors")),
      join(dir, "projection.safetensors"),
    ),
    lora,
  };
  const files = {
    configs: [NLLB_E5_CONFIG, "nllb/config.json", "e5/config.json", "adapter/adapter_config.json"].map((f) =>
      join(dir, f),
    ),
    weights: [
      "nllb/model.safetensors",
      "e5/model.safetensors",
      "projection.safetensors",
      "adapter/adapter_model.safetensors",
    ].map((f) => join(dir, f)),
  };
  return {
    config,
    parts,
    tokenizerDir: join(dir, "nllb"),
    files,
    close: () => (nllb.close(), e5.close()),
  };
}
