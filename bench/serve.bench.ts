// `xlir serve` under load, next to the library in-process in the same run (figures printed, never
// asserted). The server runs in a child process (startServer, as `xlir serve` runs it); the load
// comes from this process: N clients, each looping POST requests one at a time over its own
// keep-alive connection (node:http) for a fixed time, then waiting for its last answer, so that no
// request of one measurement still runs on the server during the next (autocannon abandons them at
// its deadline, and the server would still be busy with them).
//   1. Embedding throughput, texts/s: 1, 8 and 32 clients, each looping POST /v1/embeddings with a
//      batch of 1 or 8 XQuAD-R sentences of ~32 tokens (base64, the openai client's default), on an
//      e5-small-shaped random BERT (hidden 384, 12 layers, 12 heads, FFN 1536, vocabulary 30522);
//      baseline: the same batches through Encoder.embed here, one after another. server/in-process
//      > 1 means the server's batching (xlir_batch_inputs, mean printed) gains more than HTTP costs.
//   2. Search latency, p50/p99 ms, dense, bm25 and hybrid (rrf), k 10, over a 10k-document
//      collection of XQuAD-R sentences (11 languages) built with a small random BERT (hidden 128,
//      2 layers; speed, not quality) and XQuAD-R questions as queries (lang auto): 1 and 16 clients;
//      baseline: searchDetailed here, one query at a time.
// The machine may be small and shared: baselines run in this process between the server runs.
// Models and the collection are cached in the temp dir, keyed by their parameters (--fresh rebuilds).
//
// Each figure is the median of --rounds rounds (in-process, then server) of --seconds each; about
// 2.5 minutes in all on 2 cores.
//
//   npm run bench:serve -- [--quick] [--seconds 3] [--rounds 2] [--clients 1,8,32] [--batches 1,8]
//        [--search-clients 16] [--docs 10000] [--threads N] [--fresh]
// --quick: one round of 2 s and a 2,000-document collection (under a minute).

import { createHash } from "node:crypto";
import { existsSync, mkdirSync, rmSync, writeFileSync } from "node:fs";
import { Agent, request } from "node:http";
import { availableParallelism, loadavg, tmpdir } from "node:os";
import { dirname, join, resolve } from "node:path";
import { fileURLToPath } from "node:url";
import { Encoder } from "../src/encode/encoder.ts";
import { loadLareqa } from "../src/eval/datasets/lareqa.ts";
import { Collection } from "../src/index/collection.ts";
import { addDocuments } from "../src/index/indexer.ts";
import type { InputDoc } from "../src/index/ingest.ts";
import { searchDetailed, type SearchMode } from "../src/index/search.ts";
import { startServer } from "../src/serve/server.ts";
import { cpu, fmt, median, onExit, parseOptions, printTable, wordBertDir, wordsByCount } from "./util.ts";
import { forkChild } from "./worker.ts";

const HERE = fileURLToPath(import.meta.url);
const XQUAD = resolve(dirname(HERE), "..", "..", "shared", "data", "xquad-r");
const SHAPES = {
  "e5-small": { hidden: 384, layers: 12, heads: 12, ffn: 1536 },
  mini: { hidden: 128, layers: 2, heads: 2, ffn: 512 },
};

// ---------------------------------------------------------------------------------------------
// Load: `clients` loops of POST over keep-alive connections (node:http)
// ---------------------------------------------------------------------------------------------

interface Load {
  /** Completed 200 requests per second. */
  rps: number;
  p50: number;
  p99: number;
  errors: number;
}

/**
 * `clients` clients, each posting `bodies` in turn (from its own start) for `seconds`, one request
 * at a time, and then waiting for its last answer: no request is left running on the server for the
 * next measurement. Latency: from the request's start to its response's end, in ms.
 */
async function load(
  url: string,
  path: string,
  bodies: string[],
  clients: number,
  seconds: number,
): Promise<Load> {
  const u = new URL(url);
  const agent = new Agent({ keepAlive: true, maxSockets: clients });
  const payloads = bodies.map((b) => Buffer.from(b));
  const post = (body: Buffer) =>
    new Promise<number>((ok, fail) => {
      const req = request(
        {
          host: u.hostname,
          port: u.port,
          path,
          method: "POST",
          agent,
          headers: { "content-type": "application/json", "content-length": body.length },
        },
        (res) => {
          res.on("end", () => ok(res.statusCode ?? 0));
          res.resume();
        },
      );
      req.on("error", fail);
      req.end(body);
    });
  const ms: number[] = [];
  let errors = 0;
  const t0 = performance.now();
  const end = t0 + seconds * 1000;
  await Promise.all(
    Array.from({ length: clients }, async (_, c) => {
      for (let i = c * 7; performance.now() < end; i++) {
        const t = performance.now();
        if ((await post(payloads[i % payloads.length])) === 200) ms.push(performance.now() - t);
        else errors++;
      }
    }),
  );
  const s = (performance.now() - t0) / 1000;
  agent.destroy();
  ms.sort((a, b) => a - b);
  return {
    rps: ms.length / s,
    p50: median(ms),
    p99: ms[Math.min(ms.length - 1, Math.floor(0.99 * ms.length))],
    errors,
  };
}

// ---------------------------------------------------------------------------------------------
// Models and collection (cached)
// ---------------------------------------------------------------------------------------------

interface Prepared {
  root: string;
  e5: string;
  mini: string;
  home: string;
  built_s: number | null;
}

/** The two model folders and the collection "bench" of `docs` sentences, built once per parameter set. */
async function prepare(docs: InputDoc[], threads: number, fresh: boolean): Promise<Prepared> {
  const key = createHash("sha256")
    .update(
      JSON.stringify({ v: 1, shapes: SHAPES, docs: docs.length, first: docs[0].id, last: docs.at(-1)!.id }),
    )
    .digest("hex")
    .slice(0, 12);
  const root = join(tmpdir(), `xlir-bench-serve-${key}`);
  const p = { root, e5: join(root, "e5-small"), mini: join(root, "mini"), home: join(root, "home") };
  const done = join(root, "complete.json");
  if (!fresh && existsSync(done)) return { ...p, built_s: null };
  rmSync(root, { recursive: true, force: true });
  mkdirSync(root, { recursive: true });
  const t0 = performance.now();
  const words = wordsByCount(docs.map((d) => d.text));
  wordBertDir(p.e5, SHAPES["e5-small"], words, 3, true);
  wordBertDir(p.mini, SHAPES.mini, words, 4, true);
  const enc = await Encoder.load(p.mini, { threads, batchSize: 64, warn: () => {} });
  const col = await Collection.openOrCreate("bench", { home: p.home, model: enc });
  await addDocuments(col, docs, { batchSize: 1000 });
  await col.close();
  await enc.close();
  const built_s = (performance.now() - t0) / 1000;
  writeFileSync(done, JSON.stringify({ docs: docs.length, built_s }));
  return { ...p, built_s };
}

// ---------------------------------------------------------------------------------------------
// The server child
// ---------------------------------------------------------------------------------------------

interface ServerArgs {
  e5: string;
  mini: string;
  home: string;
  threads: number;
}

async function serverChild(args: ServerArgs): Promise<void> {
  const server = await startServer({
    models: [`e5=${args.e5}`, `mini=${args.mini}`],
    collections: ["bench"],
    home: args.home,
    port: 0,
    threads: args.threads,
    log: (l) => console.error(`[server] ${l}`),
  });
  await server.ready;
  process.send!({ type: "ready", url: server.url });
  process.on("disconnect", () => void server.close().then(() => process.exit(0)));
}

async function startChild(args: ServerArgs): Promise<{ url: string; stop: () => void }> {
  const child = forkChild(HERE, ["--server", JSON.stringify(args)]);
  const stop = () => {
    if (child.connected) child.disconnect();
    if (child.exitCode === null) child.kill();
  };
  onExit(stop);
  const url = await new Promise<string>((ok, fail) => {
    child.once("message", (m: { url: string }) => ok(m.url));
    child.once("exit", (code) =>
      fail(new Error(`the server child exited (code ${code}) before it was ready`)),
    );
  });
  return { url, stop };
}

/** Mean inputs per model batch of `model` from /metrics (sum, count of xlir_batch_inputs). */
async function batchStats(url: string, model: string): Promise<{ sum: number; count: number }> {
  const text = await (await fetch(`${url}/metrics`)).text();
  const read = (what: string) =>
    Number(new RegExp(`^xlir_batch_inputs_${what}\\{model="${model}"\\} (\\S+)$`, "m").exec(text)?.[1] ?? 0);
  return { sum: read("sum"), count: read("count") };
}

// ---------------------------------------------------------------------------------------------
// Main
// ---------------------------------------------------------------------------------------------

async function main(): Promise<void> {
  const argv = process.argv.slice(2);
  const quick = argv.includes("--quick");
  const fresh = argv.includes("--fresh");
  const { opts, int } = parseOptions(
    argv.filter((a) => a !== "--quick" && a !== "--fresh"),
    ["seconds", "rounds", "clients", "batches", "search-clients", "docs", "threads"],
  );
  const list = (k: string, d: string) =>
    (opts[k] ?? d).split(",").map((x) => {
      const n = Number(x);
      if (!Number.isInteger(n) || n < 1) throw new Error(`--${k}: "${x}" is not a positive integer`);
      return n;
    });
  const seconds = int("seconds", quick ? 2 : 3);
  const rounds = int("rounds", quick ? 1 : 2);
  const clients = list("clients", "1,8,32");
  const batches = list("batches", "1,8");
  const searchClients = int("search-clients", 16);
  const nDocs = int("docs", quick ? 2000 : 10000);
  const threads = int("threads", availableParallelism());
  const log = (m: string) => console.error(`[bench:serve] ${m}`);

  const langs = loadLareqa(XQUAD);
  const all = langs.flatMap((l) => l.candidates);
  const step = all.length / Math.min(nDocs, all.length);
  const docs = Array.from({ length: Math.min(nDocs, all.length) }, (_, i) => all[Math.floor(i * step)]).map(
    (c) => ({ id: c.id, text: c.text, title: c.title, lang: c.lang, source: c.id }),
  );
  const c = cpu();
  const loadStart = loadavg()[0];
  console.log(
    `# xlir serve: ${c.model} (${c.flags.join(" ") || "no AVX flags"}), ${availableParallelism()} cores, ${threads} ORT threads, Node ${process.version}`,
  );
  log(`preparing models and a ${docs.length}-document collection (cached in the temp dir)`);
  const p = await prepare(docs, threads, fresh);
  log(p.built_s === null ? `reusing ${p.root}` : `built in ${fmt(p.built_s)} s: ${p.root}`);

  const server = await startChild({ e5: p.e5, mini: p.mini, home: p.home, threads });
  log(`server at ${server.url}`);

  // ---- 1. embeddings
  const e5 = await Encoder.load(p.e5, { threads, batchSize: 64, warn: () => {} });
  const lengths = e5.tokenize(
    all.map((d) => d.text),
    { role: "passage" },
  );
  const pool = all.filter((_, i) => Math.abs(lengths[i].length - 32) <= 2).map((d) => d.text);
  log(`${pool.length} sentences of 30-34 tokens for the embedding batches`);
  const embRows: string[][] = [
    [
      "batch",
      "clients",
      "server texts/s",
      "p50 ms",
      "p99 ms",
      "in-process texts/s",
      "server/in-process",
      "mean model batch",
    ],
  ];
  const embJson: object[] = [];
  for (const batch of batches) {
    const groups = Array.from({ length: 64 }, (_, i) =>
      Array.from({ length: batch }, (_, j) => pool[(i * batch + j) % pool.length]),
    );
    const bodies = groups.map((input) => JSON.stringify({ model: "e5", input, encoding_format: "base64" }));
    /** The same batches through Encoder.embed, one after another: texts/s. */
    const inProcess = async (s: number) => {
      let n = 0;
      const t0 = performance.now();
      while (performance.now() - t0 < s * 1000)
        await e5.embed(groups[n++ % groups.length], { role: "passage" });
      return (n * batch) / ((performance.now() - t0) / 1000);
    };
    await inProcess(0.5); // warm-up
    await load(server.url, "/v1/embeddings", bodies, 1, 0.5);
    for (const k of clients) {
      const inp: number[] = [];
      const srv: Load[] = [];
      const before = await batchStats(server.url, "e5");
      for (let r = 0; r < rounds; r++) {
        inp.push(await inProcess(seconds));
        srv.push(await load(server.url, "/v1/embeddings", bodies, k, seconds));
      }
      const after = await batchStats(server.url, "e5");
      const meanBatch = (after.sum - before.sum) / (after.count - before.count);
      const tps = median(srv.map((x) => x.rps * batch));
      const ratio = median(srv.map((x, r) => (x.rps * batch) / inp[r]));
      const errors = srv.reduce((a, x) => a + x.errors, 0);
      const row = {
        batch,
        clients: k,
        server_texts_per_s: tps,
        p50_ms: median(srv.map((x) => x.p50)),
        p99_ms: median(srv.map((x) => x.p99)),
        in_process_texts_per_s: median(inp),
        server_over_in_process: ratio,
        mean_model_batch: meanBatch,
        errors,
        rounds: srv.map((x, r) => ({ server_texts_per_s: x.rps * batch, in_process_texts_per_s: inp[r] })),
      };
      embJson.push(row);
      embRows.push([
        String(batch),
        String(k),
        fmt(tps),
        fmt(row.p50_ms),
        fmt(row.p99_ms),
        fmt(row.in_process_texts_per_s),
        fmt(ratio, 2),
        fmt(meanBatch) + (errors ? ` (${errors} errors)` : ""),
      ]);
      log(`embeddings batch ${batch} x ${k} clients: ${fmt(tps)} texts/s, in-process ${fmt(median(inp))}`);
    }
  }
  await e5.close();

  // ---- 2. search
  const questions = langs.flatMap((l) => l.questions.filter((_, i) => i % 50 === 0).map((q) => q.text));
  const col = await Collection.open("bench", { home: p.home });
  const searchRows: string[][] = [
    [
      "mode",
      "in-process p50 / p99 ms",
      "in-process q/s",
      "server 1 client p50 / p99 ms",
      `server ${searchClients} clients p50 / p99 ms`,
      `server ${searchClients} clients q/s`,
    ],
  ];
  const searchJson: object[] = [];
  const path = "/collections/bench/search";
  for (const mode of ["dense", "bm25", "hybrid"] as SearchMode[]) {
    const opts = { mode, k: 10 };
    const bodies = questions.map((query) => JSON.stringify({ query, ...opts }));
    for (const q of questions.slice(0, 3)) await searchDetailed(col, q, opts);
    await load(server.url, path, bodies, 1, 0.5); // warm-up
    const ms: number[] = [];
    const inQps: number[] = [];
    const one: Load[] = [];
    const many: Load[] = [];
    for (let r = 0; r < rounds; r++) {
      const t0 = performance.now();
      let n = 0;
      for (; performance.now() - t0 < seconds * 1000; n++) {
        const t = performance.now();
        await searchDetailed(col, questions[n % questions.length], opts);
        ms.push(performance.now() - t);
      }
      inQps.push(n / ((performance.now() - t0) / 1000));
      one.push(await load(server.url, path, bodies, 1, seconds));
      many.push(await load(server.url, path, bodies, searchClients, seconds));
    }
    ms.sort((a, b) => a - b);
    const pct = (l: Load[], f: "p50" | "p99") => median(l.map((x) => x[f]));
    const errors = [...one, ...many].reduce((a, x) => a + x.errors, 0);
    const row = {
      mode,
      in_process_p50_ms: median(ms),
      in_process_p99_ms: ms[Math.floor(0.99 * (ms.length - 1))],
      in_process_qps: median(inQps),
      server_1: { p50_ms: pct(one, "p50"), p99_ms: pct(one, "p99"), qps: median(one.map((x) => x.rps)) },
      [`server_${searchClients}`]: {
        p50_ms: pct(many, "p50"),
        p99_ms: pct(many, "p99"),
        qps: median(many.map((x) => x.rps)),
      },
      errors,
    };
    searchJson.push(row);
    searchRows.push([
      mode,
      `${fmt(row.in_process_p50_ms, 2)} / ${fmt(row.in_process_p99_ms, 2)}`,
      fmt(row.in_process_qps),
      `${fmt(pct(one, "p50"), 2)} / ${fmt(pct(one, "p99"), 2)}`,
      `${fmt(pct(many, "p50"), 2)} / ${fmt(pct(many, "p99"), 2)}`,
      fmt(median(many.map((x) => x.rps))) + (errors ? ` (${errors} errors)` : ""),
    ]);
    log(`search ${mode}: done`);
  }
  await col.close();
  server.stop();
  const loadEnd = loadavg()[0];

  console.log(
    `\n## Embeddings: POST /v1/embeddings, e5-small-shaped (random), 30-34-token XQuAD-R sentences, ${rounds} x ${seconds} s each`,
  );
  printTable(embRows);
  console.log(
    "medians over rounds; in-process: Encoder.embed of the same batches, one after another, before each server round; " +
      "server/in-process: median of the per-round ratios; mean model batch: inputs per model run (xlir_batch_inputs sum/count).",
  );
  console.log(
    `\n## Search: POST /collections/bench/search, k 10, ${docs.length} XQuAD-R sentences (11 languages), mini BERT (random), ${questions.length} XQuAD-R questions (lang auto), ${rounds} x ${seconds} s each`,
  );
  printTable(searchRows);
  console.log(
    "medians over rounds; in-process: searchDetailed here, one query at a time, before each server round. hybrid: rrf.",
  );
  console.log(`load average (1 min): ${fmt(loadStart, 2)} at the start, ${fmt(loadEnd, 2)} at the end`);
  console.log(
    JSON.stringify({
      bench: "serve",
      cpu: c,
      threads,
      seconds,
      rounds,
      load_average: [loadStart, loadEnd],
      docs: docs.length,
      collection_built_s: p.built_s,
      embeddings: embJson,
      search: searchJson,
    }),
  );
}

if (process.argv[2] === "--server") {
  serverChild(JSON.parse(process.argv[3]) as ServerArgs).catch((e) => {
    console.error(`[server] ${(e as Error).stack ?? e}`);
    process.exit(1);
  });
} else {
  main().then(
    () => process.exit(0),
    (e) => {
      console.error(`bench:serve: ${(e as Error).stack ?? e}`);
      process.exit(1);
    },
  );
}
