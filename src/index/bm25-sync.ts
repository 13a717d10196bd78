// The collection's BM25 index (bm25.xlir, every chunk's text) kept in step with the chunks table,
// both in the collection's store (store.ts: files for the embedded store, rows for PostgreSQL).
// Rewriting the whole BM25 file after every batch would make indexing quadratic, so the writer
// saves it when it finishes (and on the way, every few minutes), stamped in state.json with the
// chunks table version it matches. A reader or writer that finds another version (a crash came
// between) rebuilds BM25 from the chunks' stored texts: slower, never wrong. The rebuilt index is
// saved at once when the collection's write lock is free, so the rebuild happens once, not on every
// search; while another writer holds the lock it is only used in memory (that writer saves its own).
// Analysis runs through makeAsyncAnalyzer, so a long document does not block the event loop.
import { makeAsyncAnalyzer } from "../text/analyzer.ts";
import { yieldToEventLoop } from "../text/segment.ts";
import { addTerms, createBm25Index, type Bm25Document, type Bm25Index } from "./bm25.ts";
import { BM25_FILE, decodeBm25, encodeBm25 } from "./bm25-store.ts";
import type { Manifest } from "./manifest.ts";
import type { Store } from "./store.ts";

export const STATE_FILE = "state.json";

export interface State {
  /** The chunks table version bm25.xlir was saved at. */
  bm25ChunksVersion: number;
}

export async function readState(store: Store): Promise<State | null> {
  const bytes = await store.readBlob(STATE_FILE);
  if (bytes === null) return null;
  try {
    const s = JSON.parse(bytes.toString("utf8")) as State;
    return Number.isInteger(s.bm25ChunksVersion) ? s : null;
  } catch {
    return null; // a damaged state only costs a rebuild
  }
}

/** BM25 over the chunks as committed now: the saved index when it matches, else rebuilt (and saved). */
export async function loadCollectionBm25(store: Store, manifest: Manifest): Promise<Bm25Index> {
  const state = await readState(store);
  const version = await store.chunksVersion();
  if (state !== null && state.bm25ChunksVersion === version) {
    const bytes = await store.readBlob(BM25_FILE);
    try {
      if (bytes !== null) return decodeBm25(bytes, BM25_FILE);
    } catch {
      // corrupt or from another analyzer version: rebuild below
    }
  }
  const index = createBm25Index({ analyzer: manifest.analyzer, bm25: manifest.bm25 });
  const { ids, texts, langs } = await store.readChunkTexts();
  await addDocumentsAsync(
    index,
    ids.map((id, i) => ({ id, text: texts[i], lang: langs[i] })),
  );
  // Saved only if no write came between (the stamp must be the version the texts were read at).
  if ((await store.chunksVersion()) === version) await saveIfUnlocked(store, index, version);
  return index;
}

async function saveIfUnlocked(store: Store, index: Bm25Index, version: number): Promise<void> {
  let unlock: (() => Promise<void>) | null = null;
  try {
    unlock = await store.tryLock();
    if (unlock === null) return; // a writer holds it and saves its own index
    if ((await store.chunksVersion()) !== version) return;
    await writeBm25(store, index, version);
  } catch {
    // a read-only or full disk: the index still serves this process, the next one rebuilds again
  } finally {
    await unlock?.();
  }
}

/** Saves BM25 and stamps it with the current chunks version (the caller holds the write lock). */
export async function saveCollectionBm25(index: Bm25Index, store: Store): Promise<void> {
  await writeBm25(store, index, await store.chunksVersion());
}

async function writeBm25(store: Store, index: Bm25Index, version: number): Promise<void> {
  await store.writeBlob(BM25_FILE, encodeBm25(index));
  const state: State = { bm25ChunksVersion: version };
  await store.writeBlob(STATE_FILE, Buffer.from(JSON.stringify(state) + "\n"));
}

/**
 * bm25.ts's addDocuments() with the event loop given a turn every few thousand characters of
 * analysis: the same terms in the same order, so the same index and scores.
 */
export async function addDocumentsAsync(index: Bm25Index, docs: Iterable<Bm25Document>): Promise<void> {
  const analyzers = new Map<string | undefined, (text: string) => Promise<string[]>>();
  let last = performance.now();
  for (const doc of docs) {
    // many short documents: a turn every 20 ms too (a long one yields inside its analysis)
    if (performance.now() - last >= 20) {
      await yieldToEventLoop();
      last = performance.now();
    }
    if (typeof doc !== "object" || doc === null) {
      throw new Error(`BM25 document must be an object with id and text, got ${JSON.stringify(doc)}`);
    }
    if (typeof doc.text !== "string") {
      throw new Error(`BM25 document ${JSON.stringify(doc.id)} has no text: give a string "text" field`);
    }
    let analyze = analyzers.get(doc.lang);
    if (analyze === undefined)
      analyzers.set(doc.lang, (analyze = makeAsyncAnalyzer(doc.lang, index.analyzer)));
    addTerms(index, doc.id, await analyze(doc.text));
  }
}
