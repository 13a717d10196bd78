// Embedding routes: OpenAI's POST /v1/embeddings and GET /v1/models, and TEI's POST /embed,
// POST /tokenize and GET /info. Inputs are tokenized here (so usage and truncation are known per
// input) and the token rows go through the model's batcher.
//
// Token-id inputs (OpenAI's `input: number[] | number[][]`, TEI's inputs as ids) are complete model
// rows, as POST /tokenize returns them for the same input_type: prefix and special tokens included.
// They are checked against the vocabulary and cut at the model's max length like text.
import type { FastifyInstance, FastifyReply } from "fastify";
import type { Role } from "../encode/conventions.ts";
import { resolveNllbLang } from "../text/nllb-langs.ts";
import {
  ApiError,
  badRequest,
  describe,
  field,
  isBool,
  isPositiveInt,
  isString,
  objectBody,
} from "./errors.ts";
import { pickModel, ROLES, type ServedModel } from "./models.ts";
import type { ServerContext } from "./context.ts";

interface Inputs {
  rows: number[][];
  /** Indices of the inputs cut at the model's max length. */
  truncated: number[];
  /** Per input NLLB language, when the request gave one (or "auto"). */
  langs: string[] | undefined;
  tokens: number;
}

export function embeddingRoutes(app: FastifyInstance, ctx: ServerContext): void {
  app.post("/v1/embeddings", async (req, reply) => {
    const o = objectBody(req.body);
    const { model, role: suffixRole } = pickModel(ctx.models(), o.model);
    const format = field(o, "encoding_format", isString, '"float" or "base64"') ?? "float";
    if (format !== "float" && format !== "base64")
      throw badRequest("encoding_format", `"encoding_format" must be "float" or "base64", got "${format}"`);
    const dimensions = field(o, "dimensions", isPositiveInt, "a positive integer");
    field(o, "user", isString, "a string");
    const role = readRole(o, suffixRole ?? model.role);
    const inputs = await readInputs(o.input, "input", model, role, readLang(o), ctx);
    const dim = dimensions === undefined ? model.encoder.dim : checkDimensions(model, dimensions);
    const emb = await model.batcher.submit(inputs.rows, {
      role,
      langs: inputs.langs,
      deadline: ctx.deadline(req),
    });
    const data = inputs.rows.map((_, i) => {
      const v = cut(emb.subarray(i * model.encoder.dim, (i + 1) * model.encoder.dim), dim);
      return { object: "embedding", index: i, embedding: format === "base64" ? base64(v) : Array.from(v) };
    });
    markTruncated(reply, inputs);
    return {
      object: "list",
      data,
      model: model.name,
      usage: { prompt_tokens: inputs.tokens, total_tokens: inputs.tokens },
      ...(inputs.truncated.length ? { truncated_inputs: inputs.truncated } : {}),
    };
  });

  app.get("/v1/models", async () => ({
    object: "list",
    data: [...ctx.models().values()].map((m) => ({
      id: m.name,
      object: "model",
      created: m.created,
      owned_by: "xlir",
    })),
  }));

  // TEI: {inputs, normalize, truncate, dimensions}; the model is the first served one unless `model` names another
  app.post("/embed", async (req, reply) => {
    const o = objectBody(req.body);
    const { model, role: suffixRole } = pickModel(ctx.models(), o.model ?? defaultModel(ctx));
    const role = readRole(o, suffixRole ?? model.role);
    const truncate = field(o, "truncate", isBool, "true or false") ?? true;
    const normalize = field(o, "normalize", isBool, "true or false") ?? model.encoder.settings.normalize;
    const dimensions = field(o, "dimensions", isPositiveInt, "a positive integer");
    const dim = dimensions === undefined ? model.encoder.dim : checkDimensions(model, dimensions);
    const inputs = await readInputs(o.inputs, "inputs", model, role, readLang(o), ctx);
    if (!truncate && inputs.truncated.length)
      throw new ApiError(
        413,
        `inputs[${inputs.truncated[0]}] is longer than the model's ${model.encoder.maxLength} tokens: shorten it or send "truncate": true`,
        "inputs",
      );
    const emb = await model.batcher.submit(inputs.rows, {
      role,
      langs: inputs.langs,
      deadline: ctx.deadline(req),
    });
    markTruncated(reply, inputs);
    const d = model.encoder.dim;
    // normalize false: the model's vectors as they are (unit length already for most models)
    return inputs.rows.map((_, i) => {
      const v = emb.subarray(i * d, (i + 1) * d);
      return Array.from(
        dim < d ? cut(v, dim) : normalize && !model.encoder.settings.normalize ? unit(v.slice()) : v,
      );
    });
  });

  app.post("/tokenize", async (req) => {
    const o = objectBody(req.body);
    const { model, role: suffixRole } = pickModel(ctx.models(), o.model ?? defaultModel(ctx));
    const role = readRole(o, suffixRole ?? model.role);
    const texts = readTexts(o.inputs, "inputs", ctx);
    const tok = model.encoder.tokenizer;
    const specials = new Set(Object.values(tok.specialIds));
    const lang = readLang(o);
    const langs = lang === "auto" ? await model.encoder.detectLanguages(texts) : lang;
    const { rows } = model.encoder.tokenizeDetailed(texts, { role, lang: langs });
    return rows.map((row) =>
      row.map((id) => ({ id, text: tok.idToToken(id) ?? "", special: specials.has(id) })),
    );
  });

  app.get("/info", async () => {
    const m = ctx.models().get(defaultModel(ctx) ?? "");
    return {
      model_id: m?.source ?? null,
      model_name: m?.name ?? null,
      model_dtype: m?.encoder.dtype ?? null,
      model_type: m ? { embedding: { pooling: m.encoder.settings.pooling } } : null,
      dimensions: m?.encoder.dim ?? null,
      max_input_length: m?.encoder.maxLength ?? null,
      max_batch_tokens: m?.batcher.tokenBudget ?? null,
      max_batch_inputs: m?.batcher.maxBatch ?? null,
      max_client_batch_size: ctx.limits.maxInputs,
      max_queue_inputs: m?.batcher.maxQueue ?? null,
      body_limit_bytes: ctx.limits.bodyLimit,
      request_timeout_ms: ctx.limits.requestTimeoutMs,
      models: [...ctx.models().keys()],
      version: ctx.version,
    };
  });
}

const defaultModel = (ctx: ServerContext) => [...ctx.models().keys()][0];

/** input_type: query, passage (or document); absent: the model name's suffix, else the model's default. */
function readRole(o: Record<string, unknown>, fallback: Role): Role {
  const t = field(o, "input_type", isString, '"query" or "passage"');
  if (t === undefined) return fallback;
  const role = ROLES[t];
  if (!role)
    throw badRequest("input_type", `"input_type" must be "query" or "passage" (or "document"), got "${t}"`);
  return role;
}

/** `lang`: one NLLB language for all inputs (NLLB models read it), or "auto" (detected per text). */
function readLang(o: Record<string, unknown>): string | undefined {
  const lang = field(o, "lang", isString, 'a language code (e.g. "hin_Deva", "sw") or "auto"');
  if (lang === undefined || lang === "auto") return lang;
  try {
    return resolveNllbLang(lang);
  } catch (e) {
    throw badRequest("lang", `"lang": ${(e as Error).message}`);
  }
}

/** Strings (one or many), checked: non-empty, at most maxInputs. */
function readTexts(input: unknown, param: string, ctx: ServerContext): string[] {
  if (typeof input === "string") input = [input];
  if (!Array.isArray(input))
    throw badRequest(param, `"${param}" must be a string or an array of strings, got ${describe(input)}`);
  checkCount(input, param, ctx);
  input.forEach((t, i) => {
    if (typeof t !== "string")
      throw badRequest(`${param}[${i}]`, `"${param}[${i}]" must be a string, got ${describe(t)}`);
    if (t === "") throw badRequest(`${param}[${i}]`, `"${param}[${i}]" is empty: send some text`);
  });
  return input as string[];
}

function checkCount(input: unknown[], param: string, ctx: ServerContext): void {
  if (input.length === 0) throw badRequest(param, `"${param}" is empty: send at least one input`);
  if (input.length > ctx.limits.maxInputs)
    throw badRequest(
      param,
      `"${param}" has ${input.length} inputs, more than the ${ctx.limits.maxInputs} a request may carry: split it (the server batches them anyway)`,
    );
}

/** Texts, or token rows (number[] for one, number[][] for many), as token rows. */
async function readInputs(
  input: unknown,
  param: string,
  model: ServedModel,
  role: Role,
  lang: string | undefined,
  ctx: ServerContext,
): Promise<Inputs> {
  const enc = model.encoder;
  const isIds = Array.isArray(input) && input.length > 0 && input.every((v) => typeof v === "number");
  const isIdRows = Array.isArray(input) && input.length > 0 && input.every((v) => Array.isArray(v));
  let rows: number[][];
  let truncated: number[] = [];
  let langs: string[] | undefined;
  if (isIds || isIdRows) {
    const given = (isIds ? [input] : input) as unknown[][];
    checkCount(given, param, ctx);
    const vocab = enc.tokenizer.vocabSize;
    rows = given.map((row, i) => {
      const at = isIds ? param : `${param}[${i}]`;
      if (row.length === 0) throw badRequest(at, `"${at}" is an empty token array: send some token ids`);
      for (const id of row)
        if (!Number.isInteger(id) || (id as number) < 0 || (id as number) >= vocab)
          throw badRequest(
            at,
            `"${at}" holds ${describe(id)}, not a token id of ${model.name} (0..${vocab - 1})`,
          );
      if (row.length > enc.maxLength) truncated.push(i);
      if (lang !== undefined && lang !== "auto") langs = given.map(() => lang);
      return (row as number[]).slice(0, enc.maxLength);
    });
  } else {
    const texts = readTexts(input, param, ctx);
    if (lang !== undefined)
      langs = lang === "auto" ? await enc.detectLanguages(texts) : texts.map(() => lang);
    const t = enc.tokenizeDetailed(texts, { role, lang: langs });
    rows = t.rows;
    truncated = t.truncated.flatMap((cutOff, i) => (cutOff ? [i] : []));
  }
  if (truncated.length) ctx.metrics.truncated.inc({ model: model.name }, truncated.length);
  return { rows, truncated, langs, tokens: rows.reduce((n, r) => n + r.length, 0) };
}

/** `dimensions` is only meaningful where vectors are unit length and one piece (not Aggretriever's [s; agg*]). */
function checkDimensions(model: ServedModel, dimensions: number): number {
  const enc = model.encoder;
  if (!enc.settings.normalize || enc.aggMode !== null)
    throw badRequest(
      "dimensions",
      `"dimensions" truncates unit-length vectors, and ${model.name}'s are not (${enc.aggMode !== null ? "Aggretriever: [dense ; agg*]" : "unnormalised"}): leave it out`,
    );
  if (dimensions > enc.dim)
    throw badRequest(
      "dimensions",
      `"dimensions" is ${dimensions}, more than ${model.name}'s ${enc.dim}: ask for at most ${enc.dim}`,
    );
  return dimensions;
}

/** The first `dim` values, rescaled to unit length (Matryoshka-style truncation). */
function cut(v: Float32Array, dim: number): Float32Array {
  return dim === v.length ? v : unit(v.slice(0, dim));
}

/** `v` scaled to unit length, in place. */
function unit(v: Float32Array): Float32Array {
  let ss = 0;
  for (const x of v) ss += x * x;
  const s = ss > 0 ? 1 / Math.sqrt(ss) : 0;
  for (let i = 0; i < v.length; i++) v[i] *= s;
  return v;
}

/** Little-endian float32 bytes, base64: what the openai SDK decodes. */
function base64(v: Float32Array): string {
  return Buffer.from(v.buffer, v.byteOffset, v.byteLength).toString("base64");
}

function markTruncated(reply: FastifyReply, inputs: Inputs): void {
  if (inputs.truncated.length) reply.header("x-xlir-truncated-inputs", String(inputs.truncated.length));
}
