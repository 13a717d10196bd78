// Dynamic batching: the inputs of concurrent embedding requests are queued one by one and run in
// model batches that mix requests. One batch runs at a time per model (ONNX Runtime already uses
// every core for one), so while it runs the next requests queue up and the next batch takes them
// together. A batch starts from the oldest waiting input and takes the inputs of the most similar
// length around it (length buckets: little padding) until the padded token budget or the input
// cap is reached. A client's big request is so split across batches instead of being refused,
// and a short request is never stuck behind one: inputs, not requests, are the unit.
//
// A request whose deadline passes while any of its inputs still waits is dropped (504, counted);
// one whose inputs would overflow the queue is refused at once (429 with Retry-After from the
// recent throughput). close() refuses new work and resolves when the queue is empty.
import type { Encoder } from "../encode/encoder.ts";
import type { Role } from "../encode/conventions.ts";
import { ApiError } from "./errors.ts";
import type { Metrics } from "./metrics.ts";

export interface BatcherOptions {
  /** Padded tokens (inputs x longest) per model batch (default 16384). */
  tokenBudget?: number;
  /** Inputs per model batch (default 64). */
  maxBatch?: number;
  /** Inputs that may wait at once (default 16384); beyond it a request gets 429. */
  maxQueue?: number;
}

export interface SubmitOptions {
  role: Role;
  /** Per input NLLB language (Aggretriever target mode reads it too); default eng_Latn. */
  langs?: readonly string[];
  /** Epoch ms after which the request is dropped if it is still waiting. */
  deadline: number;
}

interface Job {
  dim: number;
  out: Float32Array;
  left: number;
  deadline: number;
  settled: boolean;
  resolve(v: Float32Array): void;
  reject(e: Error): void;
}

interface Item {
  job: Job;
  index: number;
  row: readonly number[];
  role: Role;
  lang: string | undefined;
  queued: number;
}

export class Batcher {
  private queue: Item[] = [];
  private running = false;
  private closed = false;
  private idle: (() => void)[] = [];
  /** Recent throughput in tokens/s, for Retry-After. */
  private tokensPerSecond = 0;
  readonly tokenBudget: number;
  readonly maxBatch: number;
  readonly maxQueue: number;

  constructor(
    private readonly encoder: Encoder,
    private readonly model: string,
    private readonly metrics: Metrics,
    opts: BatcherOptions = {},
  ) {
    this.tokenBudget = opts.tokenBudget ?? 16384;
    this.maxBatch = opts.maxBatch ?? 64;
    this.maxQueue = opts.maxQueue ?? 16384;
  }

  get waiting(): number {
    return this.queue.length;
  }

  /** The embeddings of `rows` ([rows, dim] row-major), once every row has run in some batch. */
  submit(rows: readonly (readonly number[])[], opts: SubmitOptions): Promise<Float32Array> {
    if (this.closed)
      return Promise.reject(new ApiError(503, "the server is shutting down: retry on another instance"));
    if (this.queue.length + rows.length > this.maxQueue) {
      this.metrics.dropped.inc({ reason: "queue_full" });
      const queuedTokens = this.queue.reduce((n, it) => n + it.row.length, 0);
      const wait = Math.max(1, Math.ceil(queuedTokens / Math.max(this.tokensPerSecond, 1)));
      return Promise.reject(
        new ApiError(
          429,
          `the embedding queue is full (${this.queue.length} inputs waiting, at most ${this.maxQueue}): retry after ${wait} s or send fewer inputs`,
          null,
          "queue_full",
          { "retry-after": String(wait) },
        ),
      );
    }
    const dim = this.encoder.dim;
    return new Promise((resolve, reject) => {
      const job: Job = {
        dim,
        out: new Float32Array(rows.length * dim),
        left: rows.length,
        deadline: opts.deadline,
        settled: false,
        resolve,
        reject,
      };
      if (rows.length === 0) return resolve(job.out);
      const now = Date.now();
      rows.forEach((row, index) =>
        this.queue.push({ job, index, row, role: opts.role, lang: opts.langs?.[index], queued: now }),
      );
      this.metrics.queueInputs.set({ model: this.model }, this.queue.length);
      void this.pump();
    });
  }

  /** Refuses new work; resolves when everything queued has run. */
  close(): Promise<void> {
    this.closed = true;
    if (!this.running && this.queue.length === 0) return Promise.resolve();
    return new Promise((resolve) => this.idle.push(resolve));
  }

  private async pump(): Promise<void> {
    if (this.running) return;
    this.running = true;
    try {
      for (;;) {
        // let the requests that arrived while the last batch ran join this one: ONNX Runtime's
        // node binding runs the model on this thread, so they are still unread until the loop turns
        await new Promise((r) => setImmediate(r));
        this.dropExpired();
        if (this.queue.length === 0) break;
        await this.runBatch(this.takeBatch());
      }
    } finally {
      this.running = false;
      this.metrics.queueInputs.set({ model: this.model }, this.queue.length);
      if (this.queue.length === 0) for (const f of this.idle.splice(0)) f();
    }
  }

  private dropExpired(): void {
    const now = Date.now();
    const expired = new Set<Job>();
    for (const it of this.queue) if (it.job.deadline < now) expired.add(it.job);
    if (expired.size === 0) return;
    this.queue = this.queue.filter((it) => !expired.has(it.job));
    for (const job of expired) {
      this.metrics.dropped.inc({ reason: "deadline" });
      settle(
        job,
        new ApiError(
          504,
          "the request's deadline passed while it waited in the queue",
          null,
          "deadline_exceeded",
        ),
      );
    }
  }

  /** The oldest input and the inputs closest to its length (same role), within the budgets. */
  private takeBatch(): Item[] {
    const head = this.queue[0];
    const peers = this.queue
      .filter((it) => it.role === head.role)
      .sort((a, b) => a.row.length - b.row.length);
    let lo = peers.indexOf(head);
    let hi = lo;
    let longest = head.row.length;
    const fits = (n: number, len: number) => n <= this.maxBatch && n * len <= this.tokenBudget;
    for (;;) {
      const n = hi - lo + 2;
      const down = lo > 0 ? peers[lo - 1] : null;
      const up = hi + 1 < peers.length ? peers[hi + 1] : null;
      // the neighbour that adds the least padding: a shorter one costs nothing, a longer one raises every row
      if (down && fits(n, longest)) lo--;
      else if (up && fits(n, up.row.length)) {
        hi++;
        longest = up.row.length;
      } else break;
    }
    const batch = peers.slice(lo, hi + 1);
    const taken = new Set(batch);
    this.queue = this.queue.filter((it) => !taken.has(it));
    return batch;
  }

  private async runBatch(batch: Item[]): Promise<void> {
    const m = this.model;
    const now = Date.now();
    const longest = Math.max(...batch.map((it) => it.row.length));
    const tokens = batch.reduce((n, it) => n + it.row.length, 0);
    for (const it of batch) this.metrics.queueSeconds.observe({ model: m }, (now - it.queued) / 1000);
    this.metrics.queueInputs.set({ model: m }, this.queue.length);
    this.metrics.batchInputs.observe({ model: m }, batch.length);
    this.metrics.batchTokens.observe({ model: m }, batch.length * longest);
    this.metrics.batchRequests.observe({ model: m }, new Set(batch.map((it) => it.job)).size);
    const start = performance.now();
    let emb: Float32Array;
    try {
      const rows = batch.map((it) => it.row as number[]);
      const langs = batch.some((it) => it.lang !== undefined)
        ? batch.map((it) => it.lang ?? "eng_Latn")
        : undefined;
      emb = (await this.encoder.embedRows(rows, { role: batch[0].role, lang: langs })).data;
    } catch (e) {
      const err = new ApiError(500, `the model failed on a batch: ${(e as Error).message}`);
      for (const it of batch) settle(it.job, err);
      this.queue = this.queue.filter((it) => !it.job.settled);
      return;
    }
    const secs = (performance.now() - start) / 1000;
    this.metrics.inferenceSeconds.observe({ model: m }, secs);
    this.metrics.inputTokens.inc({ model: m }, tokens);
    const rate = tokens / Math.max(secs, 1e-6);
    this.tokensPerSecond = this.tokensPerSecond === 0 ? rate : 0.8 * this.tokensPerSecond + 0.2 * rate;
    batch.forEach((it, k) => {
      const { job } = it;
      if (job.settled) return;
      job.out.set(emb.subarray(k * job.dim, (k + 1) * job.dim), it.index * job.dim);
      if (--job.left === 0) {
        job.settled = true;
        job.resolve(job.out);
      }
    });
  }
}

function settle(job: Job, err: Error): void {
  if (job.settled) return;
  job.settled = true;
  job.reject(err);
}
