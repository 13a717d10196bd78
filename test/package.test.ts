// xlir as a user installs it: `npm pack` (whose prepack builds dist/ from src/), the tarball installed
// into a scratch project offline from the npm cache, then `npx xlir --help`, `import ... from "xlir"`
// in plain JavaScript (a real BM25 search and a metric), and a TypeScript consumer type-checked
// against the shipped declarations.
//
// The scratch project gets a lockfile pinning the dependency versions of this checkout's
// package-lock.json: `npm install ./xlir.tgz` would resolve them afresh from full registry
// documents, which the cache that `npm ci` fills does not hold, so it cannot run offline.
// Dependency install scripts are ignored: npm 11 blocks them by default, and xlir needs none
// (onnxruntime-node ships its CPU build in its tarball).
import assert from "node:assert/strict";
import { spawn } from "node:child_process";
import { createHash } from "node:crypto";
import { existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, before, describe, it } from "node:test";
import { repoRoot } from "./helpers/shared.ts";

interface Result {
  code: number | null;
  stdout: string;
  stderr: string;
}

/** Runs a command to its end (asynchronously, so the test runner's timeouts still fire). */
function run(cmd: string, args: string[], cwd: string, timeoutMs: number): Promise<Result> {
  return new Promise((resolve, reject) => {
    const child = spawn(cmd, args, {
      cwd,
      env: { ...process.env, ONNXRUNTIME_NODE_INSTALL: "skip" },
      timeout: timeoutMs,
      stdio: ["ignore", "pipe", "pipe"],
    });
    let stdout = "";
    let stderr = "";
    child.stdout.setEncoding("utf8").on("data", (s: string) => (stdout += s));
    child.stderr.setEncoding("utf8").on("data", (s: string) => (stderr += s));
    child.on("error", reject);
    child.on("close", (code) => resolve({ code, stdout, stderr }));
  });
}

/** The assertion message for a command that failed: what ran, where, and the end of its output. */
function failed(what: string, r: Result): string {
  const tail = (s: string) => s.trim().split("\n").slice(-25).join("\n");
  return `${what} exited with ${r.code}\n--- stdout (end) ---\n${tail(r.stdout)}\n--- stderr (end) ---\n${tail(r.stderr)}`;
}

const npm = process.platform === "win32" ? "npm.cmd" : "npm";
const npx = process.platform === "win32" ? "npx.cmd" : "npx";
const pkg = JSON.parse(readFileSync(join(repoRoot, "package.json"), "utf8"));

describe("the packed package", { timeout: 600_000, concurrency: true }, () => {
  const root = mkdtempSync(join(tmpdir(), "xlir-package-"));
  const app = join(root, "app");
  let packed: string[] = [];
  after(() => rmSync(root, { recursive: true, force: true }));

  before(
    async () => {
      const p = await run(npm, ["pack", "--json", "--pack-destination", root], repoRoot, 240_000);
      assert.equal(p.code, 0, failed("npm pack (its prepack runs `npm run build`)", p));
      const [info] = JSON.parse(p.stdout) as { filename: string; files: { path: string }[] }[];
      packed = info.files.map((f) => f.path);

      // the scratch project: depends on the tarball only, with this checkout's versions of its
      // dependencies (the lockfile's non-dev entries) pinned in its own lockfile
      mkdirSync(app);
      const tarball = `file:../${info.filename}`;
      const lock = JSON.parse(readFileSync(join(repoRoot, "package-lock.json"), "utf8"));
      const packages: Record<string, unknown> = {
        "": { name: "scratch", dependencies: { xlir: tarball } },
        "node_modules/xlir": {
          version: pkg.version,
          resolved: tarball,
          integrity: `sha512-${createHash("sha512")
            .update(readFileSync(join(root, info.filename)))
            .digest("base64")}`,
          license: pkg.license,
          dependencies: pkg.dependencies,
          bin: pkg.bin,
          engines: pkg.engines,
        },
      };
      for (const [path, entry] of Object.entries(lock.packages as Record<string, Record<string, unknown>>))
        // devOptional: a dev dependency's and also an optional one of production's (keep it)
        if (path !== "" && !entry.dev) packages[path] = entry;
      writeFileSync(
        join(app, "package.json"),
        JSON.stringify({ name: "scratch", private: true, type: "module", dependencies: { xlir: tarball } }),
      );
      writeFileSync(
        join(app, "package-lock.json"),
        JSON.stringify({ name: "scratch", lockfileVersion: 3, requires: true, packages }),
      );
      const i = await run(
        npm,
        ["ci", "--offline", "--ignore-scripts", "--no-audit", "--no-fund"],
        app,
        240_000,
      );
      assert.equal(
        i.code,
        0,
        failed("npm ci --offline of the tarball (ENOTCACHED: run `npm ci` in the checkout first)", i),
      );
    },
    { timeout: 480_000 },
  );

  it("ships dist/ and bin/, not the sources, tests or outputs", () => {
    for (const f of ["bin/xlir.js", "dist/xlir.js", "dist/xlir.d.ts", "dist/cli/main.js", "README.md"])
      assert.ok(packed.includes(f), `the tarball lacks ${f}; it holds:\n${packed.join("\n")}`);
    const stray = packed.filter((f) => /^(src|test|bench|scripts|data|xlir-eval|node_modules)\//.test(f));
    assert.deepEqual(stray, [], `the tarball ships files users do not need: ${stray.join(", ")}`);
    assert.ok(!existsSync(join(app, "node_modules", "tsx")), "tsx (a dev dependency) got installed");
  });

  it("runs `npx xlir --help` from the built files", async () => {
    const r = await run(npx, ["--offline", "xlir", "--help"], app, 60_000);
    assert.equal(r.code, 0, failed("npx xlir --help in the scratch project", r));
    for (const command of ["embed", "distill", "index", "search", "serve", "collections", "eval"])
      assert.match(r.stdout, new RegExp(`^\\s+${command}\\b`, "m"), `help lists no ${command}:\n${r.stdout}`);
  });

  it('imports the library from "xlir" and searches, evaluates with it', async () => {
    writeFileSync(
      join(app, "use.mjs"),
      `import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import * as xlir from "xlir";
const { Collection, addDocuments, search, evaluate } = xlir;
const home = mkdtempSync(join(tmpdir(), "xlir-package-home-"));
try {
  const col = await Collection.openOrCreate("two", { home, model: "bm25" });
  await addDocuments(col, [
    { id: "etna", text: "Mount Etna is the most active volcano in Europe.", lang: "en", source: "a" },
    { id: "bees", text: "Bees make honey from the nectar of flowers.", lang: "en", source: "b" },
  ]);
  const hits = await search(col, "volcanoes", { lang: "en", k: 2 });
  await col.close();
  // the server from the built files: its web UI and the search route
  const server = await xlir.startServer({ home, collections: ["two"], port: 0, log: () => {} });
  await server.ready;
  const page = await (await fetch(server.url + "/")).text();
  const served = await (
    await fetch(server.url + "/collections/two/search", {
      method: "POST",
      headers: { "content-type": "application/json" },
      body: JSON.stringify({ query: "volcanoes", lang: "en" }),
    })
  ).json();
  await server.close();
  const qrels = new Map([["q1", new Map([["bees", 1]])]]);
  const run = new Map([["q1", new Map([["etna", 2], ["bees", 1]])]]);
  const ndcg = evaluate(qrels, run, { measures: ["ndcg_cut.10"] }).all[0].value;
  const kinds = Object.fromEntries(Object.entries(xlir).map(([k, v]) => [k, typeof v]));
  console.log(JSON.stringify({ hits: hits.map((h) => h.id), served: served.hits.map((h) => h.id), page, ndcg, kinds }));
} finally {
  rmSync(home, { recursive: true, force: true });
}
`,
    );
    const r = await run(process.execPath, ["use.mjs"], app, 60_000);
    assert.equal(r.code, 0, failed('node use.mjs (import ... from "xlir")', r));
    const out = JSON.parse(r.stdout.trim().split("\n").at(-1)!);
    // "volcanoes" matches "volcano" only through the English stemmer
    assert.deepEqual(out.hits, ["etna"]);
    assert.deepEqual(out.served, ["etna"]);
    assert.match(
      out.page,
      /<script type="module" src="[^"]+\.js">/,
      "dist/serve/ui/index.html is not served",
    );
    assert.ok(Math.abs(out.ndcg - 1 / Math.log2(3)) < 1e-4, `ndcg_cut_10 ${out.ndcg}, not 1/log2(3)`);
    for (const name of [
      "Encoder",
      "Collection",
      "addDocuments",
      "search",
      "evaluate",
      "readQrels",
      "loadTask",
      "runTask",
      "runBenchmark",
      "distill",
      "readSafetensors",
      "resolveModel",
      "startServer",
    ])
      assert.equal(out.kinds[name], "function", `"xlir" exports no function ${name}`);
    assert.equal(out.kinds.default, undefined, '"xlir" has a default export');
    assert.equal(out.kinds.program, undefined, '"xlir" exports the CLI');
  });

  it("type-checks a TypeScript consumer against the shipped declarations", async () => {
    writeFileSync(
      join(app, "tsconfig.json"),
      JSON.stringify({
        compilerOptions: {
          module: "NodeNext",
          moduleResolution: "NodeNext",
          target: "ES2022",
          strict: true,
          noEmit: true,
          skipLibCheck: true,
          types: [],
        },
        files: ["use.ts"],
      }),
    );
    writeFileSync(
      join(app, "use.ts"),
      `import { Collection, evaluate, search, type SearchHit } from "xlir";
export async function top(name: string): Promise<number> {
  const col = await Collection.open(name);
  const hits: SearchHit[] = await search(col, "volcano", { k: 1, mode: "bm25" });
  // @ts-expect-error: a query is a string (this line fails if the types resolve to any)
  await search(col, 42);
  const score: number = hits[0].score;
  return score + evaluate(new Map(), new Map()).queries.length;
}
`,
    );
    const tsc = join(repoRoot, "node_modules", "typescript", "bin", "tsc");
    const r = await run(process.execPath, [tsc, "-p", "tsconfig.json"], app, 120_000);
    assert.equal(r.code, 0, failed("tsc on a consumer of the installed package", r));
  });
});
