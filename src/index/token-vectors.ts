// The token vectors of a multi-vector (ColBERT) collection, kept in the store's blobs, so both stores
// hold them the same way and the chunk rows stay what they are for every collection.
//
// Writers append segments: one blob per committed batch, `tokens/<time>-<random>.bin`, holding each
// chunk's id, the hash of the document it was cut from and its token vectors as float16 (2 bytes per
// dimension: ColBERT vectors are unit length, so half precision changes MaxSim by ~1e-3). The segment
// is written before the batch's chunk rows, so a committed chunk always has its vectors; a segment
// entry counts only while its (chunk id, document hash) is a live chunk, and a later segment wins
// over an earlier one (an updated document, or a batch redone after a crash). Compaction rewrites the
// live entries as one segment and removes the rest.
//
// Search reads every live entry into memory (view order) and scores chunks by MaxSim: exactly for
// small collections, and through a PLAID index (multi-vector.ts, built by buildTokenIndex, stored as
// `tokens-index/plaid.bin`) for large ones. The index covers the chunks live when it was built;
// chunks added since are scored exactly beside it, chunks deleted since are skipped, so an index is
// never wrong, only less useful, until it is rebuilt (xlir index NAME --build-ann).
import { randomBytes } from "node:crypto";
import type { TokenVectors } from "../encode/colbert.ts";
import type { ChunkScore } from "./doc-score.ts";
import {
  buildPlaidIndex,
  exactMaxSim,
  float16Table,
  type MultiVectors,
  type PlaidIndex,
  type PlaidSearchOptions,
  searchPlaid,
  toFloat16,
} from "./multi-vector.ts";
import type { StoreFiles } from "./store.ts";

export const SEGMENT_DIR = "tokens";
export const PLAID_BLOB = "tokens-index/plaid.bin";
/** More segments than this are merged into one whatever their dead share. */
const MAX_SEGMENTS = 64;

/** Unit-length token vectors of one chunk, with what identifies its version. */
export interface ChunkTokens {
  id: string;
  docHash: string;
  vectors: TokenVectors;
}

// ---------------------------------------------------------------------------------------------
// A small container: a JSON header (scalars and each array's type and length), then the arrays,
// each at an 8-byte aligned offset, so they are read back as views of one buffer.
// ---------------------------------------------------------------------------------------------

type Arrays = Record<string, Float32Array | Uint16Array | Uint32Array | Uint8Array>;
const ARRAY_TYPES = { Float32Array, Uint16Array, Uint32Array, Uint8Array } as const;
const MAGIC = "XLIRTOK1";

function pack(meta: Record<string, unknown>, arrays: Arrays): Buffer {
  const layout: [string, string, number][] = Object.entries(arrays).map(([k, a]) => [
    k,
    a.constructor.name,
    a.length,
  ]);
  const header = Buffer.from(JSON.stringify({ meta, layout }));
  const start = align(MAGIC.length + 4 + header.length);
  let size = start;
  for (const a of Object.values(arrays)) size = align(size + a.byteLength);
  const out = Buffer.alloc(size);
  out.write(MAGIC, 0, "latin1");
  out.writeUInt32LE(header.length, MAGIC.length);
  header.copy(out, MAGIC.length + 4);
  let at = start;
  for (const a of Object.values(arrays)) {
    out.set(new Uint8Array(a.buffer, a.byteOffset, a.byteLength), at);
    at = align(at + a.byteLength);
  }
  return out;
}

function unpack(bytes: Buffer, name: string): { meta: Record<string, unknown>; arrays: Arrays } {
  if (bytes.toString("latin1", 0, MAGIC.length) !== MAGIC)
    throw new Error(`${name} is not an xlir token-vector file: rebuild the collection`);
  const len = bytes.readUInt32LE(MAGIC.length);
  const { meta, layout } = JSON.parse(bytes.toString("utf8", MAGIC.length + 4, MAGIC.length + 4 + len)) as {
    meta: Record<string, unknown>;
    layout: [string, keyof typeof ARRAY_TYPES, number][];
  };
  // copy once into an 8-byte aligned buffer (a Buffer from a file or the network may sit anywhere)
  const own = new Uint8Array(bytes.length);
  own.set(bytes);
  const arrays: Arrays = {};
  let at = align(MAGIC.length + 4 + len);
  for (const [key, type, n] of layout) {
    const T = ARRAY_TYPES[type];
    arrays[key] = new T(own.buffer, at, n);
    at = align(at + n * T.BYTES_PER_ELEMENT);
  }
  return { meta, arrays };
}

const align = (n: number) => (n + 7) & ~7;

// ---------------------------------------------------------------------------------------------
// Segments
// ---------------------------------------------------------------------------------------------

/** Writes one segment with these chunks' vectors (before their rows are committed). */
export async function writeTokenSegment(store: StoreFiles, chunks: readonly ChunkTokens[]): Promise<void> {
  if (chunks.length === 0) return;
  const dim = chunks[0].vectors.dims[1];
  const counts = Uint32Array.from(chunks, (c) => c.vectors.dims[0]);
  const all = new Float32Array(counts.reduce((a, b) => a + b, 0) * dim);
  let at = 0;
  for (const c of chunks) {
    all.set(c.vectors.vectors, at);
    at += c.vectors.vectors.length;
  }
  const meta = { dim, ids: chunks.map((c) => c.id), docHashes: chunks.map((c) => c.docHash) };
  await store.writeBlob(segmentName(), pack(meta, { counts, tokens: toFloat16(all) }));
}

/** Sortable by time (later wins), unique across writers on several machines. */
function segmentName(): string {
  return `${SEGMENT_DIR}/${String(Date.now()).padStart(15, "0")}-${randomBytes(6).toString("hex")}.bin`;
}

interface Segment {
  dim: number;
  ids: string[];
  docHashes: string[];
  counts: Uint32Array;
  tokens: Uint16Array;
}

async function readSegments(store: StoreFiles): Promise<{ names: string[]; segments: Segment[] }> {
  const names = await store.listBlobs(`${SEGMENT_DIR}/`);
  const segments: Segment[] = [];
  for (const name of names) {
    const bytes = await store.readBlob(name);
    if (bytes === null) continue; // compacted away meanwhile: its entries are in a later segment
    const { meta, arrays } = unpack(bytes, name);
    segments.push({
      dim: meta.dim as number,
      ids: meta.ids as string[],
      docHashes: meta.docHashes as string[],
      counts: arrays.counts as Uint32Array,
      tokens: arrays.tokens as Uint16Array,
    });
  }
  return { names, segments };
}

/** Every live chunk's float16 tokens, in the order of `chunkIds`: rows offsets[c] .. offsets[c + 1]. */
export interface LiveTokens {
  dim: number;
  offsets: Uint32Array;
  f16: Uint16Array;
  /** Chunks of `chunkIds` with no stored vectors (none, unless a segment was lost). */
  missing: number;
}

/**
 * The live tokens of the chunks `chunkIds` / `docHashes` (a chunk of no live document has docHash
 * null and gets no tokens), and the segment names read.
 */
export async function readLiveTokens(
  store: StoreFiles,
  chunkIds: readonly string[],
  docHashes: readonly (string | null)[],
  dim: number,
): Promise<LiveTokens & { segmentNames: string[]; storedTokens: number }> {
  const { names, segments } = await readSegments(store);
  const index = new Map(chunkIds.map((id, c) => [id, c]));
  // the last segment entry of each live chunk: [segment, row start, count]
  const where = new Array<[number, number, number] | undefined>(chunkIds.length);
  let storedTokens = 0;
  segments.forEach((s, si) => {
    if (s.dim !== dim)
      throw new Error(
        `a token segment holds ${s.dim}-dim vectors, the collection ${dim}: rebuild the collection`,
      );
    let row = 0;
    s.ids.forEach((id, e) => {
      const c = index.get(id);
      if (c !== undefined && docHashes[c] !== null && docHashes[c] === s.docHashes[e])
        where[c] = [si, row, s.counts[e]];
      row += s.counts[e];
    });
    storedTokens += row;
  });
  const offsets = new Uint32Array(chunkIds.length + 1);
  let missing = 0;
  for (let c = 0; c < chunkIds.length; c++) {
    offsets[c + 1] = offsets[c] + (where[c]?.[2] ?? 0);
    if (where[c] === undefined && docHashes[c] !== null) missing++;
  }
  const f16 = new Uint16Array(offsets[chunkIds.length] * dim);
  where.forEach((w, c) => {
    if (!w) return;
    const [si, row, n] = w;
    f16.set(segments[si].tokens.subarray(row * dim, (row + n) * dim), offsets[c] * dim);
  });
  return { dim, offsets, f16, missing, segmentNames: names, storedTokens };
}

/**
 * Rewrites the live entries as one segment and removes the others, when dead entries (deleted or
 * replaced chunks) are at least half of what is stored or there are many segments (an add-only run
 * reads nothing to find out). The new segment
 * is written first: a crash in between leaves duplicates that the later one wins over.
 */
export async function compactTokenSegments(
  store: StoreFiles,
  chunkIds: readonly string[],
  docHashes: readonly (string | null)[],
  dim: number,
  /** Whether vectors may have died since the last check (chunks replaced or deleted): else only
   *  the number of segments is looked at, and nothing is read. */
  replaced: boolean,
): Promise<boolean> {
  if (!replaced && (await listTokenSegments(store)).length <= MAX_SEGMENTS) return false;
  const live = await readLiveTokens(store, chunkIds, docHashes, dim);
  const liveTokens = live.offsets[chunkIds.length];
  if (live.segmentNames.length <= MAX_SEGMENTS && live.storedTokens < 2 * liveTokens) return false;
  const keep = chunkIds.flatMap((id, c) =>
    live.offsets[c + 1] > live.offsets[c] ? [{ id, docHash: docHashes[c]!, c }] : [],
  );
  const counts = Uint32Array.from(keep, (k) => live.offsets[k.c + 1] - live.offsets[k.c]);
  const meta = { dim, ids: keep.map((k) => k.id), docHashes: keep.map((k) => k.docHash) };
  if (keep.length) await store.writeBlob(segmentName(), pack(meta, { counts, tokens: live.f16 }));
  await store.deleteBlobs(live.segmentNames);
  return true;
}

/** Every stored segment's name (a copy moves them as they are). */
export function listTokenSegments(store: StoreFiles): Promise<string[]> {
  return store.listBlobs(`${SEGMENT_DIR}/`);
}

// ---------------------------------------------------------------------------------------------
// Search structure
// ---------------------------------------------------------------------------------------------

/** A stored PLAID index and the chunks (id, document hash) its documents are. */
export async function writePlaidBlob(
  store: StoreFiles,
  index: PlaidIndex,
  ids: readonly string[],
  docHashes: readonly string[],
): Promise<void> {
  const { centroids, codes, residuals, cutoffs, bucketValues, docOffsets, ivfOffsets, ivfDocs } = index;
  const meta = {
    ids,
    docHashes,
    dim: index.dim,
    bits: index.bits,
    numCentroids: index.numCentroids,
    rowBytes: index.rowBytes,
  };
  await store.writeBlob(
    PLAID_BLOB,
    pack(meta, { centroids, codes, residuals, cutoffs, bucketValues, docOffsets, ivfOffsets, ivfDocs }),
  );
}

async function readPlaidBlob(
  store: StoreFiles,
): Promise<{ index: PlaidIndex; ids: string[]; docHashes: string[] } | null> {
  const bytes = await store.readBlob(PLAID_BLOB);
  if (bytes === null) return null;
  const { meta, arrays } = unpack(bytes, PLAID_BLOB);
  const index = {
    dim: meta.dim as number,
    bits: meta.bits as 1 | 2,
    numCentroids: meta.numCentroids as number,
    rowBytes: meta.rowBytes as number,
    ...arrays,
  } as unknown as PlaidIndex;
  return { index, ids: meta.ids as string[], docHashes: meta.docHashes as string[] };
}

/** Builds the PLAID index over the live tokens (view order) and stores it. */
export async function buildTokenIndex(
  store: StoreFiles,
  chunkIds: readonly string[],
  docHashes: readonly (string | null)[],
  dim: number,
  opts: { bits?: 1 | 2; centroids?: number; seed?: number } = {},
): Promise<{ tokens: number; bytesPerToken: number }> {
  const live = await readLiveTokens(store, chunkIds, docHashes, dim);
  const keep = chunkIds.map((_, c) => c).filter((c) => live.offsets[c + 1] > live.offsets[c]);
  const { docOffsets, tokens } = gather(live, keep);
  const n = docOffsets[keep.length];
  const index = buildPlaidIndex(tokens, [n, dim], docOffsets, opts);
  await writePlaidBlob(
    store,
    index,
    keep.map((c) => chunkIds[c]),
    keep.map((c) => docHashes[c]!),
  );
  return { tokens: n, bytesPerToken: index.rowBytes + index.codes.BYTES_PER_ELEMENT };
}

/** The float32 tokens of `chunks` (view chunk numbers), packed as a TokenMatrix's rows. */
function gather(
  live: LiveTokens,
  chunks: readonly number[],
): { docOffsets: Uint32Array; tokens: Float32Array } {
  const { dim, offsets, f16 } = live;
  const docOffsets = new Uint32Array(chunks.length + 1);
  chunks.forEach((c, i) => (docOffsets[i + 1] = docOffsets[i] + offsets[c + 1] - offsets[c]));
  const tokens = new Float32Array(docOffsets[chunks.length] * dim);
  const table = float16Table();
  chunks.forEach((c, i) => {
    const src = f16.subarray(offsets[c] * dim, offsets[c + 1] * dim);
    const at = docOffsets[i] * dim;
    for (let j = 0; j < src.length; j++) tokens[at + j] = table[src[j]];
  });
  return { docOffsets, tokens };
}

/** What MaxSim search holds in memory for a collection's view. */
export interface TokenSearch {
  dim: number;
  live: LiveTokens;
  /** Chunks scored exactly (view chunk numbers) and their float32 tokens. */
  exact: { chunks: Uint32Array; docOffsets: Uint32Array; tokens: Float32Array };
  /** The PLAID index and the view chunk of each of its documents (-1: no longer live). */
  plaid: { index: PlaidIndex; chunks: Int32Array } | null;
}

/** Loads the live tokens of the view's chunks and the PLAID index, when there is one. */
export async function loadTokenSearch(
  store: StoreFiles,
  chunkIds: readonly string[],
  docHashes: readonly (string | null)[],
  dim: number,
  withIndex: boolean,
): Promise<TokenSearch> {
  const live = await readLiveTokens(store, chunkIds, docHashes, dim);
  const stored = withIndex ? await readPlaidBlob(store) : null;
  let plaid: TokenSearch["plaid"] = null;
  const indexed = new Uint8Array(chunkIds.length);
  if (stored) {
    const at = new Map(chunkIds.map((id, c) => [id, c]));
    const chunks = Int32Array.from(stored.ids, (id, i) => {
      const c = at.get(id);
      return c !== undefined && docHashes[c] === stored.docHashes[i] ? c : -1;
    });
    for (const c of chunks) if (c >= 0) indexed[c] = 1;
    // the final re-score reads float16 copies in index order: the live ones (dead ones stay zero)
    const { docOffsets } = stored.index;
    const f16 = new Uint16Array(docOffsets[docOffsets.length - 1] * dim);
    chunks.forEach((c, i) => {
      if (c >= 0)
        f16.set(live.f16.subarray(live.offsets[c] * dim, live.offsets[c + 1] * dim), docOffsets[i] * dim);
    });
    plaid = { index: { ...stored.index, float16: f16 }, chunks };
  }
  const rest = chunkIds.map((_, c) => c).filter((c) => !indexed[c] && live.offsets[c + 1] > live.offsets[c]);
  const { docOffsets, tokens } = gather(live, rest);
  return { dim, live, exact: { chunks: Uint32Array.from(rest), docOffsets, tokens }, plaid };
}

/**
 * MaxSim scores of chunks for `query`: every exactly scored chunk that `allowed` accepts, and the
 * `want` best of the PLAID index's (taken before the filter, as ANN search does: over-fetch), its
 * candidates re-scored over the float16 vectors the collection keeps anyway (no 2-bit stage).
 */
export function scoreTokenChunks(
  ts: TokenSearch,
  query: MultiVectors,
  want: number,
  allowed: (chunk: number) => boolean,
  opts: PlaidSearchOptions = {},
): ChunkScore[] {
  const out: ChunkScore[] = [];
  const { exact } = ts;
  if (exact.chunks.length) {
    const scores = exactMaxSim(query, {
      tokens: exact.tokens,
      dims: [exact.tokens.length / ts.dim, ts.dim],
      docOffsets: exact.docOffsets,
    });
    exact.chunks.forEach((c, i) => allowed(c) && out.push({ chunk: c, score: scores[i] }));
  }
  if (ts.plaid) {
    const hits = searchPlaid(ts.plaid.index, query, want, { rescore: "float16", ...opts });
    hits.ids.forEach((d, i) => {
      const c = ts.plaid!.chunks[d];
      if (c >= 0 && allowed(c)) out.push({ chunk: c, score: hits.scores[i] });
    });
  }
  return out;
}

/** One chunk's stored tokens as float32 ([tokens, dim]). */
export function chunkTokens(ts: TokenSearch, chunk: number): Float32Array {
  const { offsets, f16 } = ts.live;
  const table = float16Table();
  return Float32Array.from(
    f16.subarray(offsets[chunk] * ts.dim, offsets[chunk + 1] * ts.dim),
    (h) => table[h],
  );
}
