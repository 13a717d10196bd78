// The embedding models a server holds: each loaded once, named, with its batcher. `--model
// NAME=PATH` names a model; a bare id or folder is named by itself. A request picks the role with
// `input_type`, or with a ":query" / ":passage" suffix on the model name (for clients that cannot
// send extra fields), else the model's default role.
import { Encoder, type EncoderOptions } from "../encode/encoder.ts";
import type { Role } from "../encode/conventions.ts";
import { Batcher, type BatcherOptions } from "./batcher.ts";
import { ApiError } from "./errors.ts";
import type { Metrics } from "./metrics.ts";

export interface ModelSpec {
  /** What requests call it. */
  name: string;
  /** Hub id or folder. */
  source: string;
}

export interface ServedModel extends ModelSpec {
  encoder: Encoder;
  batcher: Batcher;
  /** The role of inputs that name none (default passage: what /v1/embeddings mostly embeds). */
  role: Role;
  created: number;
}

/** "NAME=PATH" or a bare id/folder (named by itself). */
export function parseModelSpec(arg: string): ModelSpec {
  const eq = arg.indexOf("=");
  if (eq <= 0) return { name: arg, source: arg };
  const name = arg.slice(0, eq);
  if (/[:\s]/.test(name))
    throw new Error(`--model ${arg}: a model name has no spaces or ":" (":query" picks a role); rename it`);
  return { name, source: arg.slice(eq + 1) };
}

export async function loadModel(
  spec: ModelSpec,
  metrics: Metrics,
  opts: EncoderOptions & BatcherOptions & { role?: Role },
): Promise<ServedModel> {
  const maxBatch = opts.maxBatch ?? 64;
  const encoder = await Encoder.load(spec.source, { ...opts, batchSize: maxBatch });
  return {
    ...spec,
    encoder,
    batcher: new Batcher(encoder, spec.name, metrics, opts),
    role: opts.role ?? "passage",
    created: Math.floor(Date.now() / 1000),
  };
}

export const ROLES: Record<string, Role> = { query: "query", passage: "passage", document: "passage" };

/** The model a request names, and the role its ":query"/":passage" suffix picks (if any). */
export function pickModel(
  models: ReadonlyMap<string, ServedModel>,
  name: unknown,
  param = "model",
): { model: ServedModel; role: Role | undefined } {
  if (name === undefined || name === null) {
    if (models.size === 1) return { model: [...models.values()][0], role: undefined };
    throw new ApiError(400, `"${param}" is required: one of ${[...models.keys()].join(", ")}`, param);
  }
  if (typeof name !== "string")
    throw new ApiError(400, `"${param}" must be a string naming a model`, param, "invalid_type");
  const colon = name.lastIndexOf(":");
  const suffix = colon > 0 ? name.slice(colon + 1) : "";
  const base = suffix in ROLES ? name.slice(0, colon) : name;
  const model = models.get(base);
  if (!model) {
    const served = models.size ? [...models.keys()].join(", ") : "none (start with --model)";
    throw new ApiError(
      404,
      `model "${name}" is not served here: use one of ${served}`,
      param,
      "model_not_found",
    );
  }
  return { model, role: suffix in ROLES ? ROLES[suffix] : undefined };
}
