// The collection's BM25 index (bm25.xlir, every chunk's text) kept in step with the chunks table.
// Rewriting the whole BM25 file after every batch would make indexing quadratic, so the writer
// saves it when it finishes (and on the way, every few minutes), stamped in state.json with the
// chunks table version it matches. A reader or writer that finds another version (a crash came
// between) rebuilds BM25 from the chunks' stored texts: slower, never wrong.
import { existsSync, readFileSync, renameSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { addDocuments, createBm25Index, type Bm25Index } from "./bm25.ts";
import { hasBm25Index, loadBm25Index, saveBm25Index } from "./bm25-store.ts";
import type { LanceStore } from "./lance-store.ts";
import type { Manifest } from "./manifest.ts";

const STATE_FILE = "state.json";

interface State {
  /** The chunks table version bm25.xlir was saved at. */
  bm25ChunksVersion: number;
}

function readState(dir: string): State | null {
  const file = join(dir, STATE_FILE);
  if (!existsSync(file)) return null;
  try {
    const s = JSON.parse(readFileSync(file, "utf8")) as State;
    return Number.isInteger(s.bm25ChunksVersion) ? s : null;
  } catch {
    return null; // a damaged state only costs a rebuild
  }
}

/** BM25 over the chunks as committed now: the saved file when it matches, else rebuilt. */
export async function loadCollectionBm25(
  dir: string,
  store: LanceStore,
  manifest: Manifest,
): Promise<Bm25Index> {
  const state = readState(dir);
  if (state !== null && hasBm25Index(dir) && state.bm25ChunksVersion === (await store.chunksVersion())) {
    try {
      return loadBm25Index(dir);
    } catch {
      // corrupt or from another analyzer version: rebuild below
    }
  }
  const index = createBm25Index({ analyzer: manifest.analyzer, bm25: manifest.bm25 });
  const { ids, texts, langs } = await store.readChunkTexts();
  addDocuments(
    index,
    ids.map((id, i) => ({ id, text: texts[i], lang: langs[i] })),
  );
  return index;
}

/** Saves BM25 and stamps it with the current chunks table version (the caller holds the write lock). */
export async function saveCollectionBm25(dir: string, index: Bm25Index, store: LanceStore): Promise<void> {
  saveBm25Index(index, dir);
  const state: State = { bm25ChunksVersion: await store.chunksVersion() };
  const tmp = join(dir, `${STATE_FILE}.tmp`);
  writeFileSync(tmp, JSON.stringify(state) + "\n");
  renameSync(tmp, join(dir, STATE_FILE));
}
