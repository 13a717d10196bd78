// `xlir collections check --repair`: fixes what check.ts found, where the data still holds what is
// needed. A stale lock is removed (by taking it), orphan chunks are deleted, chunks without a
// usable vector are embedded again from their stored text, documents missing chunks are cut into
// chunks again from the text their row keeps, and BM25 is rebuilt from the chunks and saved
// stamped with the chunks version. A lost or cut-off table file, or a damaged collection.json,
// cannot be repaired here: the report's remaining problems say to re-index from the source.
import type { Encoder, EncoderOptions } from "../encode/encoder.ts";
import { DEFAULT_NLLB_LANG } from "../text/nllb-input.ts";
import { UNDETERMINED } from "../text/langid.ts";
import { addDocuments as bm25Add, createBm25Index } from "./bm25.ts";
import { saveCollectionBm25 } from "./bm25-sync.ts";
import { type CheckOptions, type CheckReport, checkWithDetails, type ProblemKind } from "./check.ts";
import { Collection } from "./collection.ts";
import { normalizeRows } from "./exact-search.ts";
import { collectionPath } from "./home.ts";
import { addDocuments } from "./indexer.ts";
import type { InputDoc } from "./ingest.ts";
import { lockCollection } from "./lock.ts";

export interface RepairOptions extends CheckOptions {
  /** The collection's encoder, already loaded (dense collections); else loaded when vectors are needed. */
  encoder?: Encoder;
  encoderOptions?: EncoderOptions;
}

export interface RepairReport {
  before: CheckReport;
  /** One line per repair done. */
  repaired: string[];
  /** One line per repair tried that failed. */
  failed: string[];
  /** The check after the repairs: what is left (each problem's hint says what to do). */
  after: CheckReport;
}

export async function repairCollection(name: string, opts: RepairOptions = {}): Promise<RepairReport> {
  const { report: before, details } = await checkWithDetails(name, opts);
  const repaired: string[] = [];
  const failed: string[] = [];
  const found = (kind: ProblemKind) => before.problems.find((p) => p.kind === kind && p.repair !== null);
  const done = async () => ({
    before,
    repaired,
    failed,
    after: (await checkWithDetails(name, opts)).report,
  });
  if (!before.problems.some((p) => p.repair !== null)) return { before, repaired, failed, after: before };

  const dir = collectionPath(name, opts.home);
  const lock = found("lock");
  if (details.manifest === null || !details.chunksReadable) {
    // nothing but the lock can be fixed without the manifest and the chunks
    if (lock) {
      lockCollection(dir, name)();
      repaired.push(`removed the stale write lock ${lock.file}`);
    }
    return done();
  }

  const col = await Collection.openDir(name, dir);
  try {
    if (opts.encoder) col.useEncoder(opts.encoder);
    let changed = false;
    let unlock = await col.lock(); // takes over a stale lock
    try {
      if (lock) repaired.push(`removed the stale write lock ${lock.file}`);
      const orphans = found("orphan-chunks");
      if (orphans?.ids?.length) {
        await col.store.deleteChunks(orphans.ids);
        repaired.push(`deleted ${orphans.ids.length} orphan chunk(s) from ${orphans.file}`);
        changed = true;
      }
      const vectors = found("missing-vectors");
      if (vectors?.ids?.length) {
        try {
          const n = await reembed(col, vectors.ids, opts.encoderOptions);
          repaired.push(`embedded ${n} chunk(s) again in ${vectors.file}`);
          changed = true;
        } catch (e) {
          failed.push(`could not embed the chunks again: ${(e as Error).message}`);
        }
      }
      const missing = found("missing-chunks");
      if (missing?.ids?.length) {
        // mark them changed (an empty hash matches no content), so the indexer cuts them again;
        // a crash from here on leaves them marked, and the next check finds them again
        const rows = [...(await col.store.fetchDocs(missing.ids)).values()];
        await col.store.upsertDocs(rows.map((r) => ({ ...r, hash: "" })));
        await unlock(); // the indexer takes the lock itself
        const docs: InputDoc[] = rows.map((r) => ({
          id: r.id,
          text: r.text,
          title: r.title ?? undefined,
          lang: r.lang,
          metadata: JSON.parse(r.metadata || "{}"),
          source: `${dir} (document "${r.id}")`,
        }));
        try {
          await addDocuments(col, docs); // saves BM25 too
          repaired.push(`cut ${rows.length} document(s) into chunks again from their stored text`);
          changed = false; // the indexer saved BM25
        } catch (e) {
          failed.push(`could not chunk the documents again: ${(e as Error).message}`);
        }
        unlock = await col.lock();
      }
      if (changed || (found("bm25") && !missing)) {
        const m = col.manifest;
        const index = createBm25Index({ analyzer: m.analyzer, bm25: m.bm25 });
        const { ids, texts, langs } = await col.store.readChunkTexts();
        bm25Add(
          index,
          ids.map((id, i) => ({ id, text: texts[i], lang: langs[i] })),
        );
        await saveCollectionBm25(index, col.store);
        repaired.push(`rebuilt and saved the BM25 index over ${ids.length} chunks`);
      }
    } finally {
      await unlock();
      col.invalidate();
    }
  } finally {
    await col.close();
  }
  return done();
}

/** Embeds the given chunks' stored text again and writes the vectors in one commit. */
async function reembed(col: Collection, ids: string[], opts?: EncoderOptions): Promise<number> {
  const enc = await col.encoder(opts);
  const rows = await col.store.fetchChunkRows(ids);
  let n = 0;
  for (let i = 0; i < rows.length; i += 256) {
    const batch = rows.slice(i, i + 256);
    const emb = await enc.embed(
      batch.map((r) => r.prefix + r.text),
      { role: "passage", lang: batch.map((r) => (r.lang === UNDETERMINED ? DEFAULT_NLLB_LANG : r.lang)) },
    );
    const vectors = col.cosine ? normalizeRows(emb.data, emb.dims[1]) : emb.data;
    await col.store.replaceChunks(batch, vectors);
    n += batch.length;
  }
  return n;
}
