// A BM25 index on disk: one file, DIR/bm25.xlir (or a store's blob of that name), written whole to
// a temporary file, flushed, then renamed over the old one (folder-files.ts), so a crash leaves
// either the old index or the new one, never a mix.
//
// Layout (format version 1, little-endian):
//   "XLIRBM25"   8-byte magic
//   u32          format version
//   u32          header length H, then H bytes of JSON header, zero-padded to a multiple of 8
//   body         sections, each zero-padded to a multiple of 8; the header gives [offset, length]
//                in bytes from the body start:
//     ids        JSON array: document id of each document number (live documents only)
//     terms      JSON array: the terms, in postings order
//     lengths    u32 per document: its token count
//     termStarts u32 per term + 1: where each term's postings begin in docs/freqs
//     docs       u32 per posting: document number (increasing within a term)
//     freqs      u32 per posting: term frequency
// The header also holds the analyzer config, the BM25 parameters, the counts, and the body's
// SHA-256, so loading detects truncation, bit rot and indexes from another analyzer version.
//
// Loading is on every CLI search's path (tens of thousands of terms for a 20k-document
// collection), so it makes no copy per term: the u32 sections are views of the one buffer the file
// was read into, and a term's postings become the number[] arrays of Postings only when first read
// (StoredPostings); a search reads its query's few terms. Every check still covers the whole file.
import { createHash } from "node:crypto";
import { existsSync, readFileSync, statSync } from "node:fs";
import { endianness } from "node:os";
import { join } from "node:path";
import { checkAnalyzerConfig } from "../text/analyzer.ts";
import { compactBm25, createBm25Index, type Bm25Index, type Postings } from "./bm25.ts";
import { intToByte4 } from "./bm25-norms.ts";
import { bm25Params } from "./bm25-similarity.ts";
import { writeFolderFile } from "./folder-files.ts";

export const BM25_FILE = "bm25.xlir";
export const BM25_FORMAT_VERSION = 1;

const MAGIC = Buffer.from("XLIRBM25", "latin1");
const SECTIONS = ["ids", "terms", "lengths", "termStarts", "docs", "freqs"] as const;
type Section = (typeof SECTIONS)[number];

interface Header {
  format: "xlir-bm25";
  version: number;
  analyzer: unknown;
  bm25: unknown;
  documents: number;
  terms: number;
  postings: number;
  docCount: number;
  sumTotalTermFreq: number;
  sections: Record<Section, [number, number]>;
  sha256: string;
}

/** Writes the index to DIR/bm25.xlir atomically (creating DIR); compacts the index first. */
export function saveBm25Index(index: Bm25Index, dir: string): void {
  writeFolderFile(dir, BM25_FILE, encodeBm25(index));
}

/** True when DIR holds a BM25 index file. */
export function hasBm25Index(dir: string): boolean {
  return existsSync(join(dir, BM25_FILE));
}

/** Reads DIR/bm25.xlir, checking everything; throws a one-line error naming the file. */
export function loadBm25Index(dir: string): Bm25Index {
  const file = join(dir, BM25_FILE);
  if (!existsSync(file) || !statSync(file).isFile()) {
    throw new Error(`no BM25 index in ${dir} (${BM25_FILE} is missing): build the index first`);
  }
  return decodeBm25(readFileSync(file), file);
}

/** The index in the bm25.xlir layout, compacted first. */
export function encodeBm25(index: Bm25Index): Buffer {
  checkLittleEndian();
  compactBm25(index);
  return encode(index);
}

/** An index from bm25.xlir bytes, checked; `source` names them in errors. */
export function decodeBm25(buf: Buffer, source: string): Bm25Index {
  checkLittleEndian();
  return decode(buf, source);
}

function encode(index: Bm25Index): Buffer {
  const terms = [...index.postings.keys()];
  const termStarts = new Uint32Array(terms.length + 1);
  let total = 0;
  terms.forEach((t, i) => {
    termStarts[i] = total;
    total += index.postings.get(t)!.docs.length;
  });
  termStarts[terms.length] = total;
  const docs = new Uint32Array(total);
  const freqs = new Uint32Array(total);
  terms.forEach((t, i) => {
    const p = index.postings.get(t)!;
    docs.set(p.docs, termStarts[i]);
    freqs.set(p.freqs, termStarts[i]);
  });
  const parts: Record<Section, Buffer> = {
    ids: Buffer.from(JSON.stringify(index.ids), "utf8"),
    terms: Buffer.from(JSON.stringify(terms), "utf8"),
    lengths: bytesOf(Uint32Array.from(index.lengths)),
    termStarts: bytesOf(termStarts),
    docs: bytesOf(docs),
    freqs: bytesOf(freqs),
  };
  const sections = {} as Record<Section, [number, number]>;
  const chunks: Buffer[] = [];
  let offset = 0;
  for (const name of SECTIONS) {
    const b = parts[name];
    sections[name] = [offset, b.length];
    chunks.push(b, Buffer.alloc(pad8(b.length) - b.length));
    offset += pad8(b.length);
  }
  const body = Buffer.concat(chunks);
  const header: Header = {
    format: "xlir-bm25",
    version: BM25_FORMAT_VERSION,
    analyzer: index.analyzer,
    bm25: index.params,
    documents: index.ids.length,
    terms: terms.length,
    postings: total,
    docCount: index.docCount,
    sumTotalTermFreq: index.sumTotalTermFreq,
    sections,
    sha256: createHash("sha256").update(body).digest("hex"),
  };
  const json = Buffer.from(JSON.stringify(header), "utf8");
  const prefix = Buffer.alloc(16);
  MAGIC.copy(prefix, 0);
  prefix.writeUInt32LE(BM25_FORMAT_VERSION, 8);
  prefix.writeUInt32LE(json.length, 12);
  return Buffer.concat([prefix, json, Buffer.alloc(pad8(16 + json.length) - 16 - json.length), body]);
}

function decode(buf: Buffer, file: string): Bm25Index {
  const corrupt = (what: string) => new Error(`${file} is a corrupt BM25 index (${what}): rebuild it`);
  if (buf.length < 16 || !buf.subarray(0, 8).equals(MAGIC)) {
    throw new Error(
      `${file} is not an xlir BM25 index (bad magic bytes): rebuild it or point at another folder`,
    );
  }
  const version = buf.readUInt32LE(8);
  if (version !== BM25_FORMAT_VERSION) {
    throw new Error(
      `${file} has BM25 format version ${version}, this xlir reads version ${BM25_FORMAT_VERSION}: ` +
        (version > BM25_FORMAT_VERSION ? "upgrade xlir or rebuild the index" : "rebuild the index"),
    );
  }
  const headerLength = buf.readUInt32LE(12);
  if (16 + headerLength > buf.length) throw corrupt("truncated header");
  let header: Header;
  try {
    header = JSON.parse(buf.toString("utf8", 16, 16 + headerLength)) as Header;
  } catch {
    throw corrupt("unreadable header");
  }
  if (typeof header !== "object" || header === null || header.format !== "xlir-bm25")
    throw corrupt("bad header");
  const analyzer = checkAnalyzerConfig(header.analyzer, file);
  const stored = header.bm25 as Record<string, unknown> | null;
  if (
    typeof stored !== "object" ||
    stored === null ||
    !["k1", "b", "lengths"].every((key) => key in stored)
  ) {
    throw corrupt("missing BM25 parameters");
  }
  const params = bm25Params(stored, file);

  const body = buf.subarray(pad8(16 + headerLength));
  if (
    typeof header.sha256 !== "string" ||
    createHash("sha256").update(body).digest("hex") !== header.sha256
  ) {
    throw corrupt("checksum mismatch: the file is truncated or damaged");
  }
  const count = (name: "documents" | "terms" | "postings" | "docCount" | "sumTotalTermFreq") => {
    const v = header[name];
    if (!Number.isSafeInteger(v) || v < 0) throw corrupt(`bad ${name} ${JSON.stringify(v)}`);
    return v;
  };
  const [nDocs, nTerms, nPostings] = [count("documents"), count("terms"), count("postings")];
  const section = (name: Section): Buffer => {
    const s = header.sections?.[name];
    if (
      !Array.isArray(s) ||
      !s.every((v) => Number.isSafeInteger(v) && v >= 0) ||
      s[0] + s[1] > body.length
    ) {
      throw corrupt(`bad ${name} section`);
    }
    return body.subarray(s[0], s[0] + s[1]);
  };
  const strings = (name: Section, n: number): string[] => {
    let v: unknown;
    try {
      v = JSON.parse(section(name).toString("utf8"));
    } catch {
      throw corrupt(`unreadable ${name}`);
    }
    if (!Array.isArray(v) || v.length !== n || !v.every((s) => typeof s === "string" && s !== "")) {
      throw corrupt(`${name} must be ${n} non-empty strings`);
    }
    return v as string[]; // distinct: checked by the maps built from them below
  };
  const u32 = (name: Section, n: number): Uint32Array => {
    const b = section(name);
    if (b.length !== 4 * n) throw corrupt(`${name} holds ${b.length} bytes, expected ${4 * n}`);
    // a view when aligned (sections start at multiples of 8 in the file); a copy otherwise
    return b.byteOffset % 4 === 0
      ? new Uint32Array(b.buffer, b.byteOffset, n)
      : new Uint32Array(b.buffer.slice(b.byteOffset, b.byteOffset + b.length));
  };
  const ids = strings("ids", nDocs);
  const terms = strings("terms", nTerms);
  const lengths = u32("lengths", nDocs);
  const termStarts = u32("termStarts", nTerms + 1);
  const docs = u32("docs", nPostings);
  const freqs = u32("freqs", nPostings);

  // Structure: postings sorted and in range, and every document's term frequencies adding up to
  // its length; then the stored statistics must be the ones the postings give.
  if (termStarts[0] !== 0 || termStarts[nTerms] !== nPostings) throw corrupt("bad term offsets");
  const lengthFromPostings = new Float64Array(nDocs);
  const index = createBm25Index({ analyzer, bm25: params });
  const sections = { docs, freqs };
  for (let t = 0; t < nTerms; t++) {
    const start = termStarts[t];
    const end = termStarts[t + 1];
    if (end <= start || end > nPostings) throw corrupt(`bad postings range for term ${t}`);
    let last = -1;
    for (let j = start; j < end; j++) {
      const d = docs[j];
      if (d >= nDocs || d <= last || freqs[j] === 0) {
        throw corrupt(`bad posting ${j} of term ${JSON.stringify(terms[t])}`);
      }
      lengthFromPostings[d] += freqs[j];
      last = d;
    }
    index.postings.set(terms[t], new StoredPostings(sections, start, end));
  }
  if (index.postings.size !== nTerms) throw corrupt("duplicate terms");
  for (let d = 0; d < nDocs; d++) index.byId.set(ids[d], d);
  if (index.byId.size !== nDocs) throw corrupt("duplicate ids");
  let docCount = 0;
  let sum = 0;
  for (let d = 0; d < nDocs; d++) {
    if (lengthFromPostings[d] !== lengths[d]) throw corrupt(`length of document ${JSON.stringify(ids[d])}`);
    if (lengths[d] > 0) docCount++;
    sum += lengths[d];
  }
  if (docCount !== count("docCount") || sum !== count("sumTotalTermFreq")) throw corrupt("statistics");
  index.ids = ids;
  index.lengths = Array.from(lengths);
  index.norms = index.lengths.map(intToByte4);
  index.docCount = docCount;
  index.sumTotalTermFreq = sum;
  return index;
}

/**
 * A term's postings in the decoded file, turned into Postings' arrays the first time they are read
 * and kept (so writers that add to a loaded index push onto them as onto any other Postings).
 */
class StoredPostings implements Postings {
  private docsRead: number[] | null = null;
  private freqsRead: number[] | null = null;

  constructor(
    private readonly stored: { docs: Uint32Array; freqs: Uint32Array },
    private readonly start: number,
    private readonly end: number,
  ) {}

  get docs(): number[] {
    return (this.docsRead ??= Array.from(this.stored.docs.subarray(this.start, this.end)));
  }

  set docs(docs: number[]) {
    this.docsRead = docs;
  }

  get freqs(): number[] {
    return (this.freqsRead ??= Array.from(this.stored.freqs.subarray(this.start, this.end)));
  }

  set freqs(freqs: number[]) {
    this.freqsRead = freqs;
  }
}

function bytesOf(a: Uint32Array): Buffer {
  return Buffer.from(a.buffer, a.byteOffset, a.byteLength);
}

function pad8(n: number): number {
  return Math.ceil(n / 8) * 8;
}

function checkLittleEndian(): void {
  if (endianness() !== "LE")
    throw new Error("xlir BM25 index files are little-endian: this host is big-endian");
}
