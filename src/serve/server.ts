// `xlir serve`: one process that keeps models and collections loaded and answers over HTTP
// (fastify): OpenAI- and TEI-compatible embeddings (embeddings.ts), collections and search
// (collections.ts), the web UI (ui/), /health, /ready, /metrics.
//
// It listens before the models are loaded: /health answers at once (the process is alive), /ready
// says 503 until every model is loaded and has run a warm-up batch, and the model routes say 503
// with Retry-After meanwhile. close() is graceful: new requests get 503, requests in flight finish
// (queued embeddings run, document writes commit), then models and collections are released.
import { readFileSync } from "node:fs";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";
import cors from "@fastify/cors";
import fastifyStatic from "@fastify/static";
import Fastify, { type FastifyError, type FastifyInstance } from "fastify";
import type { Role } from "../encode/conventions.ts";
import type { EncoderDType } from "../encode/encoder.ts";
import type { BatcherOptions } from "./batcher.ts";
import { CollectionPool, collectionRoutes } from "./collections.ts";
import { DEFAULT_LIMITS, type Limits, type ServerContext } from "./context.ts";
import { embeddingRoutes } from "./embeddings.ts";
import { ApiError } from "./errors.ts";
import { createMetrics } from "./metrics.ts";
import { loadModel, type ModelSpec, parseModelSpec, type ServedModel } from "./models.ts";

export interface ServeOptions extends BatcherOptions, Partial<Limits> {
  /** Models to serve: "NAME=PATH" or hub ids / folders. */
  models?: readonly string[];
  /** Collections to open (and warm up) before /ready says yes; others open on first use. */
  collections?: readonly string[];
  /** xlir home of the collections. */
  home?: string;
  /** A postgres:// URL: the collections live there (default $XLIR_STORE, else the home's folders). */
  store?: string;
  host?: string;
  /** 0: any free port. */
  port?: number;
  /** Bearer keys; none: no auth. /health, /ready, /metrics and the UI stay public. */
  apiKeys?: readonly string[];
  /** CORS allowed origins (default "*"). */
  corsOrigin?: string | string[];
  threads?: number;
  dtype?: EncoderDType;
  /** Role of embedding inputs that name none (default passage): one for all models, or per model name. */
  inputType?: Role | Readonly<Record<string, Role>>;
  /** Where load errors and notes go (default stderr). */
  log?: (line: string) => void;
}

export interface XlirServer {
  app: FastifyInstance;
  /** http://host:port */
  url: string;
  /** Resolves when every model and collection is loaded and warm (rejects when one fails). */
  ready: Promise<void>;
  /** Graceful: finishes work in flight, refuses new requests, releases everything. */
  close(): Promise<void>;
}

const PUBLIC = new Set(["/health", "/ready", "/metrics"]);
const UI_DIR = join(dirname(fileURLToPath(import.meta.url)), "ui");
const VERSION = (
  JSON.parse(
    readFileSync(join(dirname(fileURLToPath(import.meta.url)), "..", "..", "package.json"), "utf8"),
  ) as {
    version: string;
  }
).version;

export async function startServer(opts: ServeOptions = {}): Promise<XlirServer> {
  const specs: ModelSpec[] = (opts.models ?? []).map(parseModelSpec);
  const dupe = specs.find((s, i) => specs.findIndex((t) => t.name === s.name) !== i);
  if (dupe) throw new Error(`--model: two models are named "${dupe.name}": name them apart with NAME=PATH`);
  const limits: Limits = { ...DEFAULT_LIMITS, ...definedOnly(opts) };
  const maxQueue = opts.maxQueue ?? 16384;
  if (opts.maxInputs === undefined) limits.maxInputs = Math.min(limits.maxInputs, maxQueue);
  if (limits.maxInputs > maxQueue)
    throw new Error(
      `--max-inputs ${limits.maxInputs} is more than --max-queue ${maxQueue}: such a request could never be queued; lower it or raise --max-queue`,
    );
  for (const name of Object.keys(typeof opts.inputType === "object" ? opts.inputType : {}))
    if (!specs.some((s) => s.name === name))
      throw new Error(
        `--input-type ${name}=...: no model is named "${name}"; name one of ${specs.map((s) => s.name).join(", ")}`,
      );
  const metrics = createMetrics();
  const models = new Map<string, ServedModel>();
  let isReady = false;
  let loadError: Error | null = null;
  const ctx: ServerContext = {
    models: () => models,
    metrics,
    limits,
    version: VERSION,
    deadline(req) {
      const asked = Number(req.headers["x-request-timeout-ms"]);
      const ms =
        Number.isFinite(asked) && asked > 0
          ? Math.min(asked, limits.requestTimeoutMs)
          : limits.requestTimeoutMs;
      return Date.now() + ms;
    },
  };
  const log = opts.log ?? ((line: string) => process.stderr.write(line + "\n"));
  const app = Fastify({
    bodyLimit: limits.bodyLimit,
    return503OnClosing: true,
    forceCloseConnections: "idle",
  });
  const pool = new CollectionPool(ctx, { home: opts.home, store: opts.store });

  await app.register(cors, {
    origin: opts.corsOrigin ?? "*",
    allowedHeaders: ["Authorization", "Content-Type", "X-Request-Timeout-Ms"],
    exposedHeaders: ["Retry-After", "X-Xlir-Truncated-Inputs"],
    methods: ["GET", "POST", "DELETE", "OPTIONS"],
  });
  // NDJSON bodies (documents, one per line) arrive as text and are parsed here, naming the bad line
  app.addContentTypeParser(
    ["application/x-ndjson", "application/jsonl"],
    { parseAs: "string" },
    (_req, body, done) => {
      const docs: unknown[] = [];
      const lines = (body as string).split("\n");
      for (let i = 0; i < lines.length; i++) {
        if (lines[i].trim() === "") continue;
        try {
          docs.push(JSON.parse(lines[i]));
        } catch (e) {
          return done(
            new ApiError(
              400,
              `NDJSON line ${i + 1} is not valid JSON (${(e as Error).message}): one JSON object per line`,
              "body",
            ),
            undefined,
          );
        }
      }
      done(null, docs);
    },
  );

  const keys = new Set(opts.apiKeys ?? []);
  app.addHook("onRequest", async (req) => {
    if (keys.size === 0 || req.method === "OPTIONS") return;
    const path = req.url.split("?")[0];
    if (PUBLIC.has(path) || !isApiPath(path)) return;
    const auth = req.headers.authorization ?? "";
    const key = /^Bearer\s+(.+)$/i.exec(auth)?.[1]?.trim();
    if (!key)
      throw new ApiError(
        401,
        "missing API key: send the header Authorization: Bearer KEY",
        "authorization",
        "missing_api_key",
      );
    if (!keys.has(key))
      throw new ApiError(
        401,
        "wrong API key: check the key given to xlir serve --api-key",
        "authorization",
        "invalid_api_key",
      );
  });
  // model routes wait for the models: 503 with Retry-After until they are loaded
  app.addHook("preHandler", async (req) => {
    if (isReady || !needsModels(req.method, req.url.split("?")[0])) return;
    if (loadError)
      throw new ApiError(503, `the models failed to load: ${loadError.message}`, null, "load_failed");
    throw new ApiError(
      503,
      "the models are still loading: retry shortly (GET /ready says when)",
      null,
      "loading",
      { "retry-after": "2" },
    );
  });
  // while closing, answers end their connection: a kept-alive one would hold close() open until it times out
  let stopping = false;
  app.addHook("onSend", async (_req, reply) => {
    if (stopping) reply.header("connection", "close");
  });
  app.addHook("onResponse", async (req, reply) => {
    const route = req.routeOptions.url ?? "unmatched";
    const labels = { route, method: req.method, status: String(reply.statusCode) };
    metrics.requests.inc(labels);
    metrics.requestSeconds.observe(labels, reply.elapsedTime / 1000);
  });
  app.setErrorHandler((err: FastifyError | ApiError, _req, reply) => {
    const e = err instanceof ApiError ? err : fromFastify(err);
    if (e.status >= 500 && !(err instanceof ApiError)) log(`xlir serve: ${err.stack ?? err.message}`);
    for (const [k, v] of Object.entries(e.headers)) reply.header(k, v);
    reply.code(e.status).send(e.body());
  });
  app.setNotFoundHandler((req, reply) => {
    const e = new ApiError(
      404,
      `no route ${req.method} ${req.url.split("?")[0]}: see GET /info and the README's Serve section`,
      null,
      "unknown_route",
    );
    reply.code(404).send(e.body());
  });

  app.get("/health", async () => ({ status: "ok" }));
  app.get("/ready", async (_req, reply) => {
    if (isReady) return { status: "ready", models: [...models.keys()] };
    reply.code(503);
    return loadError ? { status: "failed", error: loadError.message } : { status: "loading" };
  });
  app.get("/metrics", async (_req, reply) => {
    reply.header("content-type", metrics.registry.contentType);
    return metrics.registry.metrics();
  });
  embeddingRoutes(app, ctx);
  collectionRoutes(app, ctx, pool);
  await app.register(fastifyStatic, { root: UI_DIR, prefix: "/", index: "index.html" });

  await app.listen({ host: opts.host ?? "127.0.0.1", port: opts.port ?? 8080 });
  const addr = app.server.address();
  const url =
    typeof addr === "object" && addr
      ? `http://${addr.family === "IPv6" ? `[${addr.address}]` : addr.address}:${addr.port}`
      : String(addr);

  const ready = (async () => {
    for (const spec of specs) {
      const m = await loadModel(spec, metrics, {
        threads: opts.threads,
        dtype: opts.dtype,
        role: typeof opts.inputType === "string" ? opts.inputType : opts.inputType?.[spec.name],
        warn: log,
        tokenBudget: opts.tokenBudget,
        maxBatch: opts.maxBatch,
        maxQueue: opts.maxQueue,
      });
      await m.encoder.embed(["warm up"], { role: "query" });
      models.set(spec.name, m);
    }
    for (const name of opts.collections ?? []) {
      const col = await pool.get(name);
      await col.view(false);
      if (col.dense) await col.encoder();
      else if (col.multiVector) await col.colbert();
      else await col.bm25();
    }
    isReady = true;
  })();
  ready.catch((e: Error) => {
    loadError = e;
    log(`xlir serve: ${e.message}`);
  });

  let closing: Promise<void> | null = null;
  return {
    app,
    url,
    ready,
    close: () =>
      (closing ??= (async () => {
        stopping = true;
        await ready.catch(() => {});
        await app.close(); // waits for requests in flight: their embeddings run, their writes commit
        await Promise.all([...models.values()].map((m) => m.batcher.close()));
        await pool.close();
        for (const m of models.values()) await m.encoder.close();
      })()),
  };
}

const isApiPath = (p: string) => /^\/(v1|embed|tokenize|info|collections)(\/|$)/.test(p);
/** Embedding routes, and collection writes and searches (reading a collection's stats needs no model). */
const needsModels = (method: string, p: string) =>
  /^\/(v1\/embeddings|embed|tokenize)$/.test(p) || (method !== "GET" && /^\/collections(\/|$)/.test(p));

/** fastify's own errors (bad JSON, body too large, wrong content type) as OpenAI-style ones. */
function fromFastify(err: FastifyError): ApiError {
  const status = err.statusCode ?? 500;
  if (err.code === "FST_ERR_CTP_BODY_TOO_LARGE")
    return new ApiError(
      413,
      `the request body is larger than the server's limit: split it, or start the server with a larger --body-limit`,
      "body",
      "body_too_large",
    );
  if (err.code === "FST_ERR_CTP_INVALID_MEDIA_TYPE")
    return new ApiError(
      415,
      `content type not supported: send application/json (or application/x-ndjson for documents)`,
      "content-type",
    );
  if (err.code === "FST_ERR_CTP_EMPTY_JSON_BODY")
    return new ApiError(400, "the request body is empty: send a JSON object", "body", "invalid_body");
  if (status === 400 && (err instanceof SyntaxError || /JSON/i.test(err.message)))
    return new ApiError(400, `the request body is not valid JSON: ${err.message}`, "body", "invalid_json");
  if (status < 500) return new ApiError(status, err.message.split("\n")[0], null);
  return new ApiError(500, `internal error: ${err.message.split("\n")[0]}`);
}

function definedOnly(o: Partial<Limits>): Partial<Limits> {
  const out: Partial<Limits> = {};
  for (const k of ["bodyLimit", "maxInputs", "requestTimeoutMs", "maxQueries"] as const)
    if (o[k] !== undefined) out[k] = o[k];
  return out;
}
