// What every route reads: the models (filled in as they load), metrics, limits, deadlines.
import type { FastifyRequest } from "fastify";
import type { Metrics } from "./metrics.ts";
import type { ServedModel } from "./models.ts";

export interface Limits {
  /** Request body bytes (default 64 MiB); larger gets 413. */
  bodyLimit: number;
  /** Inputs per embedding request (default 16384, the queue's size: big batches are split, not refused); more gets 400. */
  maxInputs: number;
  /** How long a request may wait for the model before it is dropped (default 60 s). */
  requestTimeoutMs: number;
  /** Queries per batch search request (default 256). */
  maxQueries: number;
}

export interface ServerContext {
  models(): ReadonlyMap<string, ServedModel>;
  metrics: Metrics;
  limits: Limits;
  version: string;
  /** Epoch ms: now + the server's timeout, or the client's shorter `x-request-timeout-ms`. */
  deadline(req: FastifyRequest): number;
}

export const DEFAULT_LIMITS: Limits = {
  bodyLimit: 64 * 1024 * 1024,
  maxInputs: 16384,
  requestTimeoutMs: 60_000,
  maxQueries: 256,
};
