// Crash safety of `xlir index`: the indexing process is SIGKILLed mid-way (after a few batches were
// committed), the same command is run again, and the collection must then hold every document
// exactly once, with chunk vectors equal to those of a run that was never interrupted.
import assert from "node:assert/strict";
import { spawn, spawnSync } from "node:child_process";
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, it } from "node:test";
import { loadLareqa } from "../../src/eval/datasets/lareqa.ts";
import { Collection } from "../../src/index/collection.ts";
import { repoRoot, sharedDir } from "../helpers/shared.ts";
import { wordE5Dir, wordsOf } from "../helpers/tiny-models.ts";

const root = mkdtempSync(join(tmpdir(), "xlir-crash-"));
after(() => rmSync(root, { recursive: true, force: true }));
const home = join(root, "home");
const xlir = join(repoRoot, "bin", "xlir.js");

// ~300 sentences in 11 languages (the first two articles' first paragraphs), as JSONL
const docs = loadLareqa(join(sharedDir, "data", "xquad-r")).flatMap((l) =>
  l.candidates
    .filter((c) => /^\w+\/[01]\.[0-2]\./.test(c.id))
    .map((c) => ({ id: c.id, text: c.text, lang: c.lang })),
);
const input = join(root, "docs.jsonl");
writeFileSync(input, docs.map((d) => JSON.stringify(d)).join("\n") + "\n");
const model = wordE5Dir(
  wordsOf(
    docs.map((d) => d.text),
    3000,
  ),
  { d: 32, layers: 2, parent: root },
);
const args = (name: string) => [
  "index",
  name,
  "--model",
  model,
  "--input",
  input,
  "--batch-size",
  "16",
  "--threads",
  "1",
  "--home",
  home,
  "--json",
];

/** Runs `xlir index` and SIGKILLs it once `batches` progress lines have been printed. */
function runAndKill(name: string, batches: number): Promise<{ seen: number; signal: string | null }> {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, [xlir, ...args(name)], { stdio: ["ignore", "pipe", "pipe"] });
    let seen = 0;
    let out = "";
    let err = "";
    child.stdout.on("data", (b: Buffer) => {
      out += b.toString();
      const lines = out.split("\n");
      out = lines.pop()!;
      for (const l of lines)
        if (JSON.parse(l).event === "progress" && ++seen === batches) child.kill("SIGKILL");
    });
    child.stderr.on("data", (b: Buffer) => (err += b.toString()));
    child.on("error", reject);
    child.on("exit", (code, signal) =>
      signal === "SIGKILL"
        ? resolve({ seen, signal })
        : reject(new Error(`exit ${code} before the kill: ${err}`)),
    );
  });
}

async function contents(name: string) {
  const col = await Collection.open(name, { home });
  try {
    const d = await col.store.readDocs();
    const c = await col.store.readChunks(true);
    const dims = col.store.dims!;
    const vectors = new Map(c.ids.map((id, i) => [id, c.vectors!.subarray(i * dims, (i + 1) * dims)]));
    return {
      docIds: d.ids,
      chunkIds: c.ids,
      vectors,
      docHashes: new Map(d.ids.map((id, i) => [id, d.hashes[i]])),
    };
  } finally {
    await col.close();
  }
}

it("a run killed mid-way and run again equals an uninterrupted run", async () => {
  const killed = await runAndKill("crashed", 4);
  assert.equal(killed.seen, 4);
  const partial = await contents("crashed");
  assert.ok(
    partial.docIds.length >= 4 * 16 && partial.docIds.length < docs.length,
    `${partial.docIds.length} committed`,
  );

  const rerun = spawnSync(process.execPath, [xlir, ...args("crashed")], {
    encoding: "utf8",
    timeout: 120_000,
  });
  assert.equal(rerun.status, 0, rerun.stderr);
  const done = JSON.parse(rerun.stdout.trim().split("\n").at(-1)!);
  assert.equal(done.event, "done");
  assert.equal(done.unchanged, partial.docIds.length); // resumed: committed documents are not redone
  assert.equal(done.added, docs.length - partial.docIds.length);

  const clean = spawnSync(process.execPath, [xlir, ...args("clean")], { encoding: "utf8", timeout: 120_000 });
  assert.equal(clean.status, 0, clean.stderr);

  const [a, b] = [await contents("crashed"), await contents("clean")];
  assert.equal(a.docIds.length, docs.length);
  assert.equal(new Set(a.docIds).size, docs.length, "every document exactly once");
  assert.deepEqual(new Set(a.docIds), new Set(docs.map((d) => d.id)));
  assert.deepEqual([...a.chunkIds].sort(), [...b.chunkIds].sort(), "the same chunks, once each");
  assert.deepEqual(a.docHashes, b.docHashes);
  for (const [id, v] of b.vectors) assert.deepEqual(a.vectors.get(id), v, `vector of ${id}`);

  // and search agrees
  const q = (name: string) =>
    spawnSync(
      process.execPath,
      [
        xlir,
        "search",
        name,
        "Panthers defense points",
        "--lang",
        "en",
        "--mode",
        "hybrid",
        "--json",
        "--home",
        home,
      ],
      {
        encoding: "utf8",
      },
    );
  const [qa, qb] = [q("crashed"), q("clean")];
  assert.equal(qa.status, 0, qa.stderr);
  assert.equal(qa.stdout, qb.stdout);
  assert.equal(qa.stdout.trim().split("\n").length, 10);
});
