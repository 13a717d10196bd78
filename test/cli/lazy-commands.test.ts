// src/cli/main.ts loads only the command that argv names (start-up time), and everything for the
// overview and for words it does not know; heavy packages load where they are used. A BM25
// search must not load ONNX Runtime, and a command that opens no collection must not load LanceDB.
import assert from "node:assert/strict";
import { spawnSync } from "node:child_process";
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { pathToFileURL } from "node:url";
import { after, before, describe, it } from "node:test";
import { Collection } from "../../src/index/collection.ts";
import { addDocuments } from "../../src/index/indexer.ts";
import { runXlir } from "../helpers/cli.ts";
import { repoRoot } from "../helpers/shared.ts";

const home = mkdtempSync(join(tmpdir(), "xlir-lazy-commands-"));
after(() => rmSync(home, { recursive: true, force: true }));

// The command run in a child process as bin/xlir.js runs the sources; at exit it prints which of
// the heavy CommonJS packages got loaded (their files are in require's cache then).
const probe = join(home, "probe.mjs");
writeFileSync(
  probe,
  `
import { createRequire } from "node:module";
const HEAVY = ["onnxruntime-node", "@lancedb/lancedb"];
process.on("exit", () => {
  const files = Object.keys(createRequire(process.cwd() + "/").cache);
  const loaded = HEAVY.filter((p) => files.some((f) => f.includes("/node_modules/" + p + "/")));
  process.stderr.write("LOADED " + JSON.stringify(loaded) + "\\n");
});
await import(${JSON.stringify(pathToFileURL(join(repoRoot, "src", "cli", "main.ts")).href)});
`,
);

function loadedBy(args: string[]): { loaded: string[]; stdout: string; stderr: string } {
  const r = spawnSync(process.execPath, ["--import", "tsx", probe, ...args], {
    cwd: repoRoot,
    encoding: "utf8",
    timeout: 60_000,
  });
  const line = /^LOADED (.*)$/m.exec(r.stderr);
  assert.ok(line, `no LOADED line:\n${r.stderr}`);
  return { loaded: JSON.parse(line[1]), stdout: r.stdout, stderr: r.stderr };
}

describe("xlir loads what the command needs", () => {
  before(async () => {
    const col = await Collection.openOrCreate("notes", { home, model: "bm25" });
    await addDocuments(col, [
      { id: "etna", text: "Mount Etna is the most active volcano in Europe.", lang: "en", source: "t" },
      { id: "bees", text: "Bees make honey from the nectar of flowers.", lang: "en", source: "t" },
    ]);
    await col.close();
  });

  it("a BM25 search finds its document without loading ONNX Runtime", () => {
    const r = loadedBy(["search", "notes", "volcanoes", "--lang", "en", "--json", "--home", home]);
    assert.equal(JSON.parse(r.stdout.split("\n")[0]).id, "etna", r.stderr);
    assert.deepEqual(r.loaded, ["@lancedb/lancedb"]);
  });

  it("a command that opens no collection loads neither", () => {
    const r = loadedBy(["collections", "list", "--home", home]);
    assert.match(r.stdout, /^notes\t2 documents/m);
    const missing = loadedBy(["search", "nothing", "q", "--home", home]);
    assert.match(missing.stderr, /xlir: no collection "nothing" .* the collections there are notes/);
    assert.deepEqual(missing.loaded, []);
  });

  it("lists every command in the overview, and suggests one for a misspelt name", () => {
    const help = runXlir(["--help"]);
    assert.equal(help.status, 0, help.stderr);
    const commands = [
      ...["embed", "distill", "index", "search", "serve", "mine", "augment", "train"],
      ...["collections", "agg-vocab", "translate", "eval"],
    ];
    const listed = [...help.stdout.split("\nCommands:\n")[1].matchAll(/^ {2}([a-z-]+)\b/gm)].map((m) => m[1]);
    assert.deepEqual(listed.slice(0, commands.length), commands);
    const typo = runXlir(["serch", "notes", "q"]);
    assert.equal(typo.status, 1);
    assert.match(typo.stderr, /^xlir: unknown command 'serch'\n\(Did you mean search\?\)/);
  });
});
