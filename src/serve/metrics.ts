// Prometheus metrics (prom-client), one registry per server so tests can run several servers in a
// process. Names follow Prometheus conventions: _total counters, _seconds histograms.
import { Counter, Gauge, Histogram, Registry } from "prom-client";

export type Metrics = ReturnType<typeof createMetrics>;

export function createMetrics() {
  const registry = new Registry();
  const r = [registry];
  const seconds = [0.001, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30];
  return {
    registry,
    requests: new Counter({
      name: "xlir_http_requests_total",
      help: "HTTP requests by route, method and status",
      labelNames: ["route", "method", "status"],
      registers: r,
    }),
    requestSeconds: new Histogram({
      name: "xlir_http_request_duration_seconds",
      help: "HTTP request durations by route and status",
      labelNames: ["route", "method", "status"],
      buckets: seconds,
      registers: r,
    }),
    queueInputs: new Gauge({
      name: "xlir_queue_inputs",
      help: "inputs waiting in the embedding queue",
      labelNames: ["model"],
      registers: r,
    }),
    queueSeconds: new Histogram({
      name: "xlir_queue_wait_seconds",
      help: "time an input waited in the queue before its batch ran",
      labelNames: ["model"],
      buckets: seconds,
      registers: r,
    }),
    batchInputs: new Histogram({
      name: "xlir_batch_inputs",
      help: "inputs per model batch (above 1 under concurrent requests: coalescing)",
      labelNames: ["model"],
      buckets: [1, 2, 4, 8, 16, 32, 64, 128, 256],
      registers: r,
    }),
    batchTokens: new Histogram({
      name: "xlir_batch_tokens",
      help: "padded tokens per model batch",
      labelNames: ["model"],
      buckets: [16, 64, 256, 1024, 4096, 16384, 65536],
      registers: r,
    }),
    batchRequests: new Histogram({
      name: "xlir_batch_requests",
      help: "distinct HTTP requests whose inputs share a model batch",
      labelNames: ["model"],
      buckets: [1, 2, 4, 8, 16, 32, 64],
      registers: r,
    }),
    inferenceSeconds: new Histogram({
      name: "xlir_inference_seconds",
      help: "model time per batch",
      labelNames: ["model"],
      buckets: seconds,
      registers: r,
    }),
    inputTokens: new Counter({
      name: "xlir_input_tokens_total",
      help: "tokens embedded",
      labelNames: ["model"],
      registers: r,
    }),
    truncated: new Counter({
      name: "xlir_truncated_inputs_total",
      help: "inputs cut at the model's max length",
      labelNames: ["model"],
      registers: r,
    }),
    dropped: new Counter({
      name: "xlir_requests_dropped_total",
      help: "requests refused or dropped: queue_full (429) or deadline (expired while queued)",
      labelNames: ["reason"],
      registers: r,
    }),
    searchSeconds: new Histogram({
      name: "xlir_search_seconds",
      help: "collection search time by mode",
      labelNames: ["mode"],
      buckets: seconds,
      registers: r,
    }),
  };
}
