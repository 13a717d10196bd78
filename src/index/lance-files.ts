// The files a LanceDB table version is made of, read from its manifest without LanceDB, so a
// missing or truncated file can be named: LanceDB's own errors for a truncated file name none.
//
// A table folder (NAME.lance) holds _versions/V.manifest (one per version; since Lance's V2 naming
// the file name is 2^64 - 1 - version, zero-padded to 20 digits), data/*.lance (the columns of each
// fragment) and _deletions/* (rows deleted from a fragment). A manifest file ends with the
// manifest's offset (u64), two u16 format numbers and the magic "LANC"; at that offset a u32
// length and the protobuf `Manifest`:
//   Manifest      2: repeated DataFragment
//   DataFragment  1: id (varint), 2: repeated DataFile, 3: DeletionFile
//   DataFile      1: path (relative to data/)
//   DeletionFile  1: file_type (0 arrow, 1 bitmap), 2: read_version, 3: id
// Data files end with the same magic, so a cut-off file shows at its last four bytes.
import { closeSync, existsSync, openSync, readdirSync, readFileSync, readSync, statSync } from "node:fs";
import { join } from "node:path";

const MAGIC = "LANC";

export interface TableFiles {
  manifest: string;
  /** Data files of every fragment, absolute paths. */
  data: string[];
  /** Deletion files, absolute paths. */
  deletions: string[];
}

/** The manifest file of `version` in a table folder, or null when there is none. */
export function manifestFile(tableDir: string, version: number): string | null {
  const v2 = ((1n << 64n) - 1n - BigInt(version)).toString().padStart(20, "0");
  for (const name of [`${v2}.manifest`, `${version}.manifest`]) {
    const p = join(tableDir, "_versions", name);
    if (existsSync(p)) return p;
  }
  return null;
}

/** The files table version `version` references; throws a one-line error when its manifest is unreadable. */
export function tableFiles(tableDir: string, version: number): TableFiles {
  const manifest = manifestFile(tableDir, version);
  if (manifest === null)
    throw new Error(`${join(tableDir, "_versions")} has no manifest of version ${version}`);
  const buf = readFileSync(manifest);
  const bad = (what: string) => new Error(`${manifest} is a damaged LanceDB manifest (${what})`);
  if (buf.length < 16 || buf.toString("latin1", buf.length - 4) !== MAGIC) throw bad("no end marker");
  const at = Number(buf.readBigUInt64LE(buf.length - 16));
  if (at + 4 > buf.length - 16) throw bad("bad offset");
  const len = buf.readUInt32LE(at);
  if (at + 4 + len > buf.length) throw bad("truncated");
  const out: TableFiles = { manifest, data: [], deletions: [] };
  try {
    for (const [field, frag] of fields(buf.subarray(at + 4, at + 4 + len))) {
      if (field !== 2 || !Buffer.isBuffer(frag)) continue;
      let id = 0n;
      let deletion: Buffer | null = null;
      for (const [f, v] of fields(frag)) {
        if (f === 1 && typeof v === "bigint") id = v;
        if (f === 2 && Buffer.isBuffer(v)) {
          for (const [g, path] of fields(v)) {
            if (g === 1 && Buffer.isBuffer(path))
              out.data.push(join(tableDir, "data", path.toString("utf8")));
          }
        }
        if (f === 3 && Buffer.isBuffer(v)) deletion = v;
      }
      if (deletion !== null) {
        const d = new Map(fields(deletion).map(([f, v]) => [f, v]));
        const ext = d.get(1) === 1n ? "bin" : "arrow";
        out.deletions.push(join(tableDir, "_deletions", `${id}-${d.get(2) ?? 0n}-${d.get(3) ?? 0n}.${ext}`));
      }
    }
  } catch {
    throw bad("unreadable fragment list");
  }
  return out;
}

/** Why a Lance data file cannot be read (missing, empty, cut off), or null when it looks whole. */
export function dataFileProblem(file: string): string | null {
  if (!existsSync(file)) return "is missing";
  const size = statSync(file).size;
  if (size < 16) return `is truncated (${size} bytes)`;
  const tail = Buffer.alloc(4);
  const fd = openSync(file, "r");
  try {
    readSync(fd, tail, 0, 4, size - 4);
  } finally {
    closeSync(fd);
  }
  return tail.toString("latin1") === MAGIC ? null : `is truncated or damaged (${size} bytes, no end marker)`;
}

/**
 * The first damaged file of a table version as "FILE is missing", or null when none is found. A
 * manifest this reader cannot follow proves nothing (LanceDB opened it): then it also says null.
 */
export function firstDamagedFile(tableDir: string, version: number): string | null {
  let files: TableFiles;
  try {
    files = tableFiles(tableDir, version);
  } catch {
    return null;
  }
  for (const f of files.data) {
    const p = dataFileProblem(f);
    if (p !== null) return `${f} ${p}`;
  }
  for (const f of files.deletions) if (!existsSync(f)) return `${f} is missing`;
  return null;
}

/** A version manifest of the table that is cut off ("FILE is truncated ..."), or null. */
export function damagedManifest(tableDir: string): string | null {
  const dir = join(tableDir, "_versions");
  if (!existsSync(dir)) return `${dir} is missing`;
  for (const name of readdirSync(dir).filter((n) => n.endsWith(".manifest"))) {
    const p = dataFileProblem(join(dir, name)); // manifests end with the same marker
    if (p !== null) return `${join(dir, name)} ${p}`;
  }
  return null;
}

// Protobuf wire format: (field number, value) pairs; varints as bigints (deletion file ids are
// random u64s), length-delimited values as bytes.
function fields(buf: Buffer): [number, bigint | Buffer][] {
  const out: [number, bigint | Buffer][] = [];
  let i = 0;
  const varint = (): bigint => {
    let v = 0n;
    for (let shift = 0n; ; shift += 7n) {
      if (i >= buf.length) throw new Error("truncated varint");
      const b = buf[i++];
      v |= BigInt(b & 0x7f) << shift;
      if (b < 0x80) return v;
    }
  };
  while (i < buf.length) {
    const key = Number(varint());
    const [field, wire] = [Math.floor(key / 8), key % 8];
    if (wire === 0) out.push([field, varint()]);
    else if (wire === 2) {
      const n = Number(varint());
      if (i + n > buf.length) throw new Error("truncated field");
      out.push([field, buf.subarray(i, i + n)]);
      i += n;
    } else if (wire === 1) i += 8;
    else if (wire === 5) i += 4;
    else throw new Error(`wire type ${wire}`);
  }
  return out;
}
