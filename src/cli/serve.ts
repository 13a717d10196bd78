// xlir serve: the HTTP server (src/serve) in the foreground until SIGINT/SIGTERM, which shut it
// down gracefully (work in flight finishes; a second signal exits at once).
import { Command } from "commander";
import type { Role } from "../encode/conventions.ts";
import { startServer } from "../serve/server.ts";
import { dtypeOption, integer, positiveInt, storeOption, threadsOption } from "./options.ts";

const collect = (value: string, previous: string[]) => [...previous, value];

export function serveCommand(): Command {
  return new Command("serve")
    .description("serve embeddings (OpenAI- and TEI-compatible), collections, search and a web UI over HTTP")
    .option("--model <name=path>", "a model to serve: hub id, folder, or NAME=PATH; repeatable", collect, [])
    .option(
      "--collections <names>",
      "collections to load before /ready (comma-separated); others open on first use",
    )
    .option("--home <dir>", "xlir home holding the collections (default: $XLIR_HOME or ~/.xlir)")
    .addOption(storeOption())
    .option("--host <host>", "address to listen on", "127.0.0.1")
    .option("--port <n>", "port (0: any free one)", integer({ min: 0, max: 65535 }), 8080)
    .option(
      "--api-key <key>",
      "require Authorization: Bearer KEY (repeatable; also $XLIR_API_KEYS, comma-separated)",
      collect,
      [],
    )
    .option("--cors-origin <origin>", "allowed CORS origin(s), comma-separated", "*")
    .option(
      "--input-type <role>",
      "role of embedding inputs that name none: query or passage (default), or NAME=ROLE for one model; repeatable",
      collect,
      [],
    )
    .option("--max-batch <n>", "inputs per model batch", positiveInt, 64)
    .option("--batch-tokens <n>", "padded tokens per model batch", positiveInt, 16384)
    .option("--max-queue <n>", "inputs that may wait; beyond it requests get 429", positiveInt, 16384)
    .option(
      "--max-inputs <n>",
      "inputs per embedding request (default: --max-queue, at most 16384)",
      positiveInt,
    )
    .option("--body-limit <mb>", "request body limit in MiB", positiveInt, 64)
    .option(
      "--request-timeout <s>",
      "seconds a request may wait for the model before it is dropped",
      positiveInt,
      60,
    )
    .addOption(threadsOption())
    .addOption(dtypeOption("float32"))
    .action(async (o) => {
      const keys = [...o.apiKey, ...(process.env.XLIR_API_KEYS ?? "").split(",")]
        .map((k: string) => k.trim())
        .filter(Boolean);
      if (o.model.length === 0 && !o.collections)
        throw new Error("nothing to serve: give --model M (embeddings) and/or --collections NAMES");
      const server = await startServer({
        models: o.model,
        collections: o.collections
          ? String(o.collections)
              .split(",")
              .map((s) => s.trim())
              .filter(Boolean)
          : [],
        home: o.home,
        store: o.store,
        host: o.host,
        port: o.port,
        apiKeys: keys,
        corsOrigin: o.corsOrigin.includes(",") ? o.corsOrigin.split(",") : o.corsOrigin,
        inputType: inputTypes(o.inputType),
        maxBatch: o.maxBatch,
        tokenBudget: o.batchTokens,
        maxQueue: o.maxQueue,
        maxInputs: o.maxInputs,
        bodyLimit: o.bodyLimit * 1024 * 1024,
        requestTimeoutMs: o.requestTimeout * 1000,
        threads: o.threads,
        dtype: o.dtype,
      });
      process.stderr.write(
        `xlir: serving on ${server.url} (loading models; GET /ready says when they are ready)\n`,
      );
      let stopping = false;
      const stop = (signal: string) => {
        if (stopping) process.exit(1);
        stopping = true;
        process.stderr.write(`xlir: ${signal}: finishing requests in flight, then stopping\n`);
        server.close().then(
          () => process.exit(0),
          (e: Error) => {
            process.stderr.write(`xlir: ${e.message}\n`);
            process.exit(1);
          },
        );
      };
      process.on("SIGINT", () => stop("SIGINT"));
      process.on("SIGTERM", () => stop("SIGTERM"));
      await server.ready.then(
        () => process.stderr.write(`xlir: ready on ${server.url}\n`),
        () => {},
      );
    });
}

/** --input-type ROLE (all models) or NAME=ROLE (one model), repeatable. */
function inputTypes(given: string[]): Role | Record<string, Role> | undefined {
  const role = (r: string, arg: string): Role => {
    if (r !== "query" && r !== "passage")
      throw new Error(`--input-type ${arg}: the role is query or passage`);
    return r;
  };
  const perModel: Record<string, Role> = {};
  let all: Role | undefined;
  for (const arg of given) {
    const eq = arg.indexOf("=");
    if (eq < 0) all = role(arg, arg);
    else perModel[arg.slice(0, eq)] = role(arg.slice(eq + 1), arg);
  }
  if (all !== undefined && Object.keys(perModel).length)
    throw new Error("--input-type: give one role for all models, or NAME=ROLE per model, not both");
  return all ?? (Object.keys(perModel).length ? perModel : undefined);
}
