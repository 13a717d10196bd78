// Moving a collection between stores (the embedded one and PostgreSQL, either way) without
// re-embedding: documents, chunks with their vectors, BM25, token sets, then the manifest last, so a
// copy cut short is no collection yet and a rerun starts it again. The ANN index is not copied (the
// two stores build different kinds): build one on the copy with xlir index NAME --build-ann.
import { Collection } from "./collection.ts";
import { BM25_FILE } from "./bm25-store.ts";
import { readState, STATE_FILE } from "./bm25-sync.ts";
import { MANIFEST_FILE, manifestBytes } from "./manifest.ts";
import { AGG_VOCAB_DIR } from "./agg-vocab.ts";
import { collectionExists, collectionLocation, type LocateOptions, openStore } from "./stores.ts";
import { listTokenSegments } from "./token-vectors.ts";

export interface CopyResult {
  documents: number;
  chunks: number;
  to: string;
}

/** Copies collection `name` from `from` to `to` (where it must not exist yet). */
export async function copyCollection(
  name: string,
  from: LocateOptions,
  to: LocateOptions,
  opts: { batch?: number; onProgress?: (done: number, total: number) => void } = {},
): Promise<CopyResult> {
  if (collectionLocation(name, from) === collectionLocation(name, to))
    throw new Error(`collection "${name}": --to names where it already is; give another store or home`);
  if (await collectionExists(name, to))
    throw new Error(
      `collection "${name}" already exists in ${collectionLocation(name, to)}: delete it there first`,
    );
  const src = await Collection.open(name, from);
  try {
    const m = src.manifest;
    const dims = m.encoder.kind === "dense" ? m.encoder.dims : null;
    const dst = await openStore(name, to, dims, true);
    const unlock = await dst.lock();
    try {
      const batch = opts.batch ?? 1000;
      const docIds = (await src.store.readDocs()).ids;
      const chunks = await src.store.readChunks(dims !== null);
      for (let i = 0; i < docIds.length; i += batch) {
        const rows = await src.store.fetchDocs(docIds.slice(i, i + batch));
        await dst.upsertDocs([...rows.values()]);
        opts.onProgress?.(Math.min(i + batch, docIds.length), docIds.length + chunks.ids.length);
      }
      for (let i = 0; i < chunks.ids.length; i += batch) {
        const ids = chunks.ids.slice(i, i + batch);
        const rows = await src.store.fetchChunkRows(ids);
        const order = new Map(rows.map((r) => [r.id, r]));
        const vectors = dims === null ? null : chunks.vectors!.slice(i * dims, (i + ids.length) * dims);
        await dst.addChunks(
          ids.map((id) => order.get(id)!),
          vectors,
        );
        opts.onProgress?.(docIds.length + i + ids.length, docIds.length + chunks.ids.length);
      }
      // BM25, when saved for the chunks as they are, covers exactly the copied ones: stamped with the
      // copy's own chunks version (else the copy rebuilds it on first use)
      const bm25 = await src.store.readBlob(BM25_FILE);
      const state = await readState(src.store);
      if (bm25 !== null && state?.bm25ChunksVersion === (await src.store.chunksVersion())) {
        await dst.writeBlob(BM25_FILE, bm25);
        const stamp = { bm25ChunksVersion: await dst.chunksVersion() };
        await dst.writeBlob(STATE_FILE, Buffer.from(JSON.stringify(stamp) + "\n"));
      }
      // token sets, and a multi-vector collection's token vectors (segments as they are; the PLAID
      // index is left behind like an ANN index: --build-ann builds it again)
      const blobs = [
        ...(await src.store.listBlobs(`${AGG_VOCAB_DIR}/`)),
        ...(await listTokenSegments(src.store)),
      ];
      for (const blob of blobs) await dst.writeBlob(blob, (await src.store.readBlob(blob))!);
      await dst.writeBlob(MANIFEST_FILE, manifestBytes({ ...m, ann: { ...m.ann, index: null } }));
      return { documents: docIds.length, chunks: chunks.ids.length, to: collectionLocation(name, to) };
    } finally {
      await unlock();
      await dst.close();
    }
  } finally {
    await src.close();
  }
}
