// After a crash: a missing or stale bm25.xlir is rebuilt once and saved (when the write lock is
// free), so later loads read the file instead of analysing every chunk again; with another live
// writer holding the lock the rebuilt index is only used in memory. A write lock left by a process
// killed with SIGKILL does not block the next index run.
import assert from "node:assert/strict";
import { spawn } from "node:child_process";
import { existsSync, mkdtempSync, readFileSync, rmSync, statSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, before, describe, it } from "node:test";
import { BM25_FILE } from "../../src/index/bm25-store.ts";
import { STATE_FILE } from "../../src/index/bm25-sync.ts";
import { Collection } from "../../src/index/collection.ts";
import { addDocuments } from "../../src/index/indexer.ts";
import type { InputDoc } from "../../src/index/ingest.ts";
import { LOCK_FILE } from "../../src/index/lock.ts";
import { search } from "../../src/index/search.ts";
import { repoRoot } from "../helpers/shared.ts";

const home = mkdtempSync(join(tmpdir(), "xlir-bm25-sync-"));
after(() => rmSync(home, { recursive: true, force: true }));

const DOCS: InputDoc[] = [
  { id: "a", text: "The river floods the old market every winter.", lang: "en", source: "t:1" },
  { id: "b", text: "A stone bridge crosses the river near the harbour.", lang: "en", source: "t:2" },
  { id: "c", text: "Der Fluss überschwemmt den alten Markt.", lang: "de", source: "t:3" },
];

async function withCollection<T>(name: string, f: (col: Collection) => Promise<T>): Promise<T> {
  const col = await Collection.open(name, { home });
  try {
    return await f(col);
  } finally {
    await col.close();
  }
}

const stamp = (dir: string) => JSON.parse(readFileSync(join(dir, STATE_FILE), "utf8")).bm25ChunksVersion;

describe("BM25 after a crash", () => {
  let dir: string;
  let want: unknown;
  before(async () => {
    const col = await Collection.openOrCreate("sync", { home, model: "bm25" });
    try {
      await addDocuments(col, DOCS);
      dir = col.dir;
      want = await search(col, "river market", { lang: "en", k: 3 });
    } finally {
      await col.close();
    }
  });

  // what a crash between the chunks' commit and the BM25 save leaves
  const crash = () => {
    rmSync(join(dir, BM25_FILE), { force: true });
    rmSync(join(dir, STATE_FILE), { force: true });
  };

  it("rebuilds a missing index once, saves it stamped, and later loads read the file", async () => {
    crash();
    const version = await withCollection("sync", async (col) => {
      assert.deepEqual(await search(col, "river market", { lang: "en", k: 3 }), want);
      return col.store.chunksVersion();
    });
    assert.ok(existsSync(join(dir, BM25_FILE)), "the rebuilt index was saved");
    assert.equal(stamp(dir), version);
    assert.ok(!existsSync(join(dir, LOCK_FILE)), "the lock taken to save it was released");
    // a second load reads the file: no rebuild, so no new file (a save renames a new one in)
    const saved = statSync(join(dir, BM25_FILE));
    await withCollection("sync", async (col) => {
      assert.deepEqual(await search(col, "river market", { lang: "en", k: 3 }), want);
    });
    const now = statSync(join(dir, BM25_FILE));
    assert.equal(now.ino, saved.ino);
    assert.equal(now.mtimeMs, saved.mtimeMs);
  });

  it("rebuilds a stale index (state from another chunks version) and saves it", async () => {
    writeFileSync(join(dir, STATE_FILE), JSON.stringify({ bm25ChunksVersion: 1 }) + "\n");
    const version = await withCollection("sync", async (col) => {
      assert.deepEqual(await search(col, "river market", { lang: "en", k: 3 }), want);
      return col.store.chunksVersion();
    });
    assert.notEqual(version, 1);
    assert.equal(stamp(dir), version);
  });

  it("uses the rebuilt index in memory only while another live process holds the lock", async () => {
    crash();
    // the parent of this test process is alive and is not this process: a writer's pid for the lock
    writeFileSync(join(dir, LOCK_FILE), String(process.ppid));
    try {
      await withCollection("sync", async (col) => {
        assert.deepEqual(await search(col, "river market", { lang: "en", k: 3 }), want);
      });
      assert.ok(!existsSync(join(dir, BM25_FILE)), "nothing saved under another writer's lock");
      assert.equal(readFileSync(join(dir, LOCK_FILE), "utf8"), String(process.ppid));
    } finally {
      rmSync(join(dir, LOCK_FILE), { force: true });
    }
  });

  it("a lock left by a writer killed with SIGKILL does not block the next index run", async () => {
    // a real process takes the lock, then is killed with no chance to release it
    const child = spawn(
      process.execPath,
      [
        "--import",
        "tsx",
        "-e",
        `import { lockCollection } from ${JSON.stringify(join(repoRoot, "src", "index", "lock.ts"))};` +
          `lockCollection(${JSON.stringify(dir)}, "sync"); console.log("locked"); setInterval(() => {}, 1000);`,
      ],
      { stdio: ["ignore", "pipe", "inherit"], cwd: repoRoot },
    );
    await new Promise<void>((resolve, reject) => {
      child.stdout.on("data", (b: Buffer) => b.toString().includes("locked") && resolve());
      child.on("exit", (code) => reject(new Error(`lock holder exited early (${code})`)));
    });
    const exited = new Promise((resolve) => child.on("exit", resolve));
    child.kill("SIGKILL");
    await exited;
    assert.equal(readFileSync(join(dir, LOCK_FILE), "utf8"), String(child.pid));

    const col = await Collection.open("sync", { home });
    try {
      const p = await addDocuments(col, [
        { id: "d", text: "Night rain on the harbour road.", lang: "en", source: "t:4" },
      ]);
      assert.equal(p.added, 1);
      assert.deepEqual(
        (await search(col, "harbour road", { lang: "en", k: 1 })).map((h) => h.id),
        ["d"],
      );
    } finally {
      await col.close();
    }
    assert.ok(!existsSync(join(dir, LOCK_FILE)));
  });
});
