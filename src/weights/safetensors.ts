// safetensors: read a file's header, then only the tensors asked for (positioned reads, so a
// multi-GB checkpoint is never loaded whole), and write files byte-for-byte the way the Rust
// `safetensors` library (and so `save_file` / `save_pretrained`) writes them.
//
// Layout: [u64 little-endian n][n bytes of UTF-8 JSON header][data region]. The header maps each
// tensor name to {"dtype", "shape", "data_offsets": [begin, end)} relative to the data region, plus
// an optional "__metadata__" object of string -> string. The Rust reader insists that the tensors
// tile the data region exactly (no gaps, no overlaps, nothing after the last one); we do too.
import { closeSync, fstatSync, openSync, readSync, renameSync, rmSync, writeSync } from "node:fs";

/** A float tensor as plain data: row-major values and their dims. */
export interface Tensor {
  data: Float32Array;
  dims: number[];
}

/** A tensor's stored bytes, untouched (little-endian, row-major). */
export interface RawTensor {
  dtype: Dtype;
  dims: number[];
  bytes: Uint8Array;
}

/** A tensor decoded into the JS typed array that holds its dtype without loss (F16/BF16 widen to f32). */
export interface TypedTensor {
  dtype: Dtype;
  dims: number[];
  data:
    | Float32Array
    | Float64Array
    | Int8Array
    | Uint8Array
    | Int16Array
    | Uint16Array
    | Int32Array
    | Uint32Array
    | BigInt64Array
    | BigUint64Array;
}

/** One header entry. begin/end are byte offsets into the data region (which starts at dataStart). */
export interface TensorInfo {
  name: string;
  dtype: Dtype;
  shape: number[];
  begin: number;
  end: number;
}

export interface SafetensorsHeader {
  /** "__metadata__", or null when the header has none. */
  metadata: Record<string, string> | null;
  /** Every tensor, in file (offset) order. */
  tensors: TensorInfo[];
  /** Absolute file offset of the data region: 8 + the header length. */
  dataStart: number;
}

// The Rust crate's `Dtype` enum in declaration order (safetensors 0.8) with bits per element. Its
// writer sorts tensors by this order descending ("alignment", largest first), then by name; the
// position here is therefore part of the byte layout, not just a list.
const DTYPE_BITS = {
  BOOL: 8,
  F4: 4,
  F6_E2M3: 6,
  F6_E3M2: 6,
  U8: 8,
  I8: 8,
  F8_E5M2: 8,
  F8_E4M3: 8,
  F8_E8M0: 8,
  F8_E4M3FNUZ: 8,
  F8_E5M2FNUZ: 8,
  I16: 16,
  U16: 16,
  F16: 16,
  BF16: 16,
  I32: 32,
  U32: 32,
  F32: 32,
  C64: 64,
  F64: 64,
  I64: 64,
  U64: 64,
} as const;

export type Dtype = keyof typeof DTYPE_BITS;
export const DTYPES = Object.keys(DTYPE_BITS) as Dtype[];
const DTYPE_RANK = new Map(DTYPES.map((d, i) => [d, i]));

/** The Rust reader refuses headers above 100 MB; a larger length means a corrupt or foreign file. */
const MAX_HEADER_BYTES = 100_000_000;
/** readSync moves at most ~2 GiB per call; larger tensors are read in pieces of this size. */
const READ_CHUNK = 1 << 30;
const LITTLE_ENDIAN = new Uint8Array(new Uint16Array([1]).buffer)[0] === 1;

export function isDtype(s: unknown): s is Dtype {
  return typeof s === "string" && Object.prototype.hasOwnProperty.call(DTYPE_BITS, s);
}

/** Bytes a tensor of this dtype and shape occupies, or -1 when sub-byte dtypes leave a partial byte. */
export function byteLength(dtype: Dtype, shape: readonly number[]): number {
  const bits = shape.reduce((n, d) => n * d, 1) * DTYPE_BITS[dtype];
  return bits % 8 === 0 ? bits / 8 : -1;
}

// ---------------------------------------------------------------------------------------------
// Header parsing (pure)
// ---------------------------------------------------------------------------------------------

const isObject = (v: unknown): v is Record<string, unknown> =>
  typeof v === "object" && v !== null && !Array.isArray(v);
const isCount = (v: unknown): v is number => typeof v === "number" && Number.isSafeInteger(v) && v >= 0;

/**
 * Parses and validates the JSON header against a data region of `dataLength` bytes. `source` names
 * the file in error messages. Throws a one-line Error on anything the Rust reader would refuse.
 */
export function parseSafetensorsHeader(
  headerBytes: Uint8Array,
  dataLength: number,
  source: string,
): Omit<SafetensorsHeader, "dataStart"> {
  const bad = (what: string) =>
    new Error(`${source}: ${what} — the file is corrupt or not safetensors; download or export it again`);
  let text: string;
  try {
    text = new TextDecoder("utf-8", { fatal: true, ignoreBOM: true }).decode(headerBytes);
  } catch {
    throw bad("header is not valid UTF-8");
  }
  let json: unknown;
  try {
    json = JSON.parse(text);
  } catch (e) {
    throw bad(`header is not valid JSON (${(e as Error).message})`);
  }
  if (!isObject(json)) throw bad("header is not a JSON object");

  let metadata: Record<string, string> | null = null;
  const tensors: TensorInfo[] = [];
  for (const [name, entry] of Object.entries(json)) {
    if (name === "__metadata__") {
      if (!isObject(entry)) throw bad(`"__metadata__" is not an object`);
      for (const [k, v] of Object.entries(entry)) {
        if (typeof v !== "string") throw bad(`"__metadata__" value for "${k}" is not a string`);
      }
      metadata = entry as Record<string, string>;
      continue;
    }
    if (!isObject(entry)) throw bad(`entry for tensor "${name}" is not an object`);
    const { dtype, shape, data_offsets: offsets } = entry;
    if (!isDtype(dtype)) {
      throw new Error(
        `${source}: tensor "${name}" has unknown dtype ${JSON.stringify(dtype)}; known dtypes: ${DTYPES.join(", ")}`,
      );
    }
    if (!Array.isArray(shape) || !shape.every(isCount)) {
      throw bad(`tensor "${name}" has an invalid shape ${JSON.stringify(shape)}`);
    }
    if (!Array.isArray(offsets) || offsets.length !== 2 || !offsets.every(isCount)) {
      throw bad(`tensor "${name}" has invalid data_offsets ${JSON.stringify(offsets)}`);
    }
    tensors.push({ name, dtype, shape: shape as number[], begin: offsets[0], end: offsets[1] });
  }

  // Rust sorts by offsets and demands an exact tiling of the data region; do the same so that a
  // file we accept is one every other reader accepts.
  tensors.sort((a, b) => a.begin - b.begin || a.end - b.end);
  let expected = 0;
  let previous = "";
  for (const t of tensors) {
    const span = `data_offsets [${t.begin}, ${t.end}]`;
    if (t.end < t.begin) throw bad(`tensor "${t.name}" has ${span} that end before they begin`);
    if (t.end > dataLength) {
      throw bad(`tensor "${t.name}" has ${span} beyond the ${dataLength}-byte data region (truncated file?)`);
    }
    const size = byteLength(t.dtype, t.shape);
    if (size !== t.end - t.begin) {
      throw bad(
        `tensor "${t.name}" is ${t.dtype} [${t.shape.join(", ")}] (${size < 0 ? "a partial byte" : `${size} bytes`}) but its ${span} span ${t.end - t.begin} bytes`,
      );
    }
    if (t.begin < expected) throw bad(`tensor "${t.name}" ${span} overlap tensor "${previous}"`);
    if (t.begin > expected) throw bad(`gap of ${t.begin - expected} bytes before tensor "${t.name}"`);
    expected = t.end;
    previous = t.name;
  }
  if (expected !== dataLength) {
    throw bad(`${dataLength - expected} bytes after the last tensor that no header entry describes`);
  }
  return { metadata, tensors };
}

// ---------------------------------------------------------------------------------------------
// Reading
// ---------------------------------------------------------------------------------------------

function openForReading(path: string): number {
  try {
    return openSync(path, "r");
  } catch (e) {
    const code = (e as NodeJS.ErrnoException).code;
    if (code === "ENOENT")
      throw new Error(`${path}: safetensors file not found; check the path`, { cause: e });
    if (code === "EISDIR")
      throw new Error(`${path}: is a folder; pass the .safetensors file inside it`, { cause: e });
    throw new Error(`${path}: cannot open safetensors file (${(e as Error).message})`, { cause: e });
  }
}

/** Reads exactly `length` bytes at `position` into a fresh (so suitably aligned) buffer. */
function readAt(fd: number, position: number, length: number, source: string): Uint8Array {
  const out = new Uint8Array(length);
  for (let done = 0; done < length;) {
    const n = readSync(fd, out, done, Math.min(length - done, READ_CHUNK), position + done);
    if (n === 0) throw new Error(`${source}: file ended early (truncated?); download or export it again`);
    done += n;
  }
  return out;
}

function readHeaderFromFd(fd: number, source: string): SafetensorsHeader {
  const fileSize = fstatSync(fd).size;
  if (fileSize < 8) {
    throw new Error(
      `${source}: file is ${fileSize} bytes, too short for a safetensors header (truncated or not safetensors); download or export it again`,
    );
  }
  const n64 = Buffer.from(readAt(fd, 0, 8, source)).readBigUInt64LE(0);
  if (n64 > BigInt(MAX_HEADER_BYTES)) {
    throw new Error(
      `${source}: header length ${n64} exceeds the 100 MB limit of the format (corrupt header length or not safetensors); download or export it again`,
    );
  }
  const n = Number(n64);
  if (8 + n > fileSize) {
    throw new Error(
      `${source}: header length ${n} runs past the end of the ${fileSize}-byte file (truncated, or a corrupt header length); download or export it again`,
    );
  }
  const parsed = parseSafetensorsHeader(readAt(fd, 8, n, source), fileSize - 8 - n, source);
  return { ...parsed, dataStart: 8 + n };
}

/** Reads and validates only the header (names, dtypes, shapes, offsets, metadata). */
export function readSafetensorsHeader(path: string): SafetensorsHeader {
  const fd = openForReading(path);
  try {
    return readHeaderFromFd(fd, path);
  } finally {
    closeSync(fd);
  }
}

/** An open safetensors file: the parsed header plus positioned reads of single tensors. Call close(). */
export class SafetensorsFile {
  readonly path: string;
  readonly metadata: Record<string, string> | null;
  /** Every tensor in file order. */
  readonly tensors: readonly TensorInfo[];
  readonly dataStart: number;
  private fd: number | null;
  private readonly byName: Map<string, TensorInfo>;

  private constructor(path: string, fd: number, header: SafetensorsHeader) {
    this.path = path;
    this.fd = fd;
    this.metadata = header.metadata;
    this.tensors = header.tensors;
    this.dataStart = header.dataStart;
    this.byName = new Map(header.tensors.map((t) => [t.name, t]));
  }

  static open(path: string): SafetensorsFile {
    const fd = openForReading(path);
    try {
      return new SafetensorsFile(path, fd, readHeaderFromFd(fd, path));
    } catch (e) {
      closeSync(fd);
      throw e;
    }
  }

  names(): string[] {
    return this.tensors.map((t) => t.name);
  }

  has(name: string): boolean {
    return this.byName.has(name);
  }

  info(name: string): TensorInfo {
    const t = this.byName.get(name);
    if (!t) {
      const some = this.names().slice(0, 5).join(", ");
      throw new Error(
        `${this.path}: no tensor named "${name}" (${this.tensors.length} tensors, e.g. ${some}); check the checkpoint's key names`,
      );
    }
    return t;
  }

  /** The tensor's stored bytes, unconverted. */
  readRaw(name: string): RawTensor {
    const t = this.info(name);
    if (this.fd === null) throw new Error(`${this.path}: read "${name}" after close()`);
    const bytes = readAt(this.fd, this.dataStart + t.begin, t.end - t.begin, this.path);
    return { dtype: t.dtype, dims: [...t.shape], bytes };
  }

  /** The tensor as f32: F32 as stored, F16/BF16 widened exactly, F64 rounded to nearest. */
  read(name: string): Tensor {
    const raw = this.readRaw(name);
    if (raw.dtype === "F64") {
      return { data: Float32Array.from(decode(raw, this.path) as Float64Array), dims: raw.dims };
    }
    if (raw.dtype !== "F32" && raw.dtype !== "F16" && raw.dtype !== "BF16") {
      throw new Error(
        `${this.path}: tensor "${name}" is ${raw.dtype}, not a float tensor; use readTyped() for integer data`,
      );
    }
    return { data: decode(raw, this.path) as Float32Array, dims: raw.dims };
  }

  /** The tensor in the typed array matching its dtype (I64 -> BigInt64Array, F16/BF16 -> Float32Array). */
  readTyped(name: string): TypedTensor {
    const raw = this.readRaw(name);
    return { dtype: raw.dtype, dims: raw.dims, data: decode(raw, this.path) };
  }

  close(): void {
    if (this.fd !== null) closeSync(this.fd);
    this.fd = null;
  }
}

/** Opens `path`, reads the named tensors (all when `names` is omitted) as f32, and closes it. */
export function readSafetensors(path: string, names?: readonly string[]): Map<string, Tensor> {
  const file = SafetensorsFile.open(path);
  try {
    const out = new Map<string, Tensor>();
    for (const name of names ?? file.names()) out.set(name, file.read(name));
    return out;
  } finally {
    file.close();
  }
}

function decode(raw: RawTensor, source: string): TypedTensor["data"] {
  if (!LITTLE_ENDIAN) throw new Error(`${source}: safetensors is little-endian; this host is big-endian`);
  const { buffer, byteOffset, byteLength: n } = raw.bytes;
  switch (raw.dtype) {
    case "F32":
      return new Float32Array(buffer, byteOffset, n / 4);
    case "F16":
      return f16ToF32(new Uint16Array(buffer, byteOffset, n / 2));
    case "BF16":
      return bf16ToF32(new Uint16Array(buffer, byteOffset, n / 2));
    case "F64":
      return new Float64Array(buffer, byteOffset, n / 8);
    case "I8":
      return new Int8Array(buffer, byteOffset, n);
    case "U8":
    case "BOOL":
      return new Uint8Array(buffer, byteOffset, n);
    case "I16":
      return new Int16Array(buffer, byteOffset, n / 2);
    case "U16":
      return new Uint16Array(buffer, byteOffset, n / 2);
    case "I32":
      return new Int32Array(buffer, byteOffset, n / 4);
    case "U32":
      return new Uint32Array(buffer, byteOffset, n / 4);
    case "I64":
      return new BigInt64Array(buffer, byteOffset, n / 8);
    case "U64":
      return new BigUint64Array(buffer, byteOffset, n / 8);
    default:
      throw new Error(`${source}: decoding ${raw.dtype} is not supported; use readRaw() for its bytes`);
  }
}

// ---------------------------------------------------------------------------------------------
// Half-precision conversions (bit-exact; f32 -> f16/bf16 rounds to nearest even like PyTorch)
// ---------------------------------------------------------------------------------------------

let F16_TABLE: Float32Array | null = null;

/** f32 value of one IEEE binary16 bit pattern. */
function f16Bits(h: number): number {
  const sign = (h & 0x8000) << 16;
  const exp = (h >> 10) & 0x1f;
  let man = h & 0x3ff;
  if (exp === 0x1f) return sign | 0x7f800000 | (man << 13); // inf / NaN (payload kept)
  if (exp !== 0) return sign | ((exp + 112) << 23) | (man << 13); // rebias 15 -> 127
  if (man === 0) return sign; // +-0
  let e = 113; // subnormal man * 2^-24: shift the leading 1 up to the implicit bit
  while ((man & 0x400) === 0) {
    man <<= 1;
    e--;
  }
  return sign | (e << 23) | ((man & 0x3ff) << 13);
}

/** Widens binary16 bit patterns to f32 (exact). A 65536-entry table makes this one lookup per value. */
export function f16ToF32(src: Uint16Array): Float32Array {
  if (!F16_TABLE) {
    const bits = new Uint32Array(65536);
    for (let h = 0; h < 65536; h++) bits[h] = f16Bits(h);
    F16_TABLE = new Float32Array(bits.buffer);
  }
  const table = F16_TABLE;
  const out = new Float32Array(src.length);
  for (let i = 0; i < src.length; i++) out[i] = table[src[i]];
  return out;
}

/** Widens bfloat16 bit patterns to f32 (exact: bf16 is the top half of an f32). */
export function bf16ToF32(src: Uint16Array): Float32Array {
  const out = new Uint32Array(src.length);
  for (let i = 0; i < src.length; i++) out[i] = src[i] << 16;
  return new Float32Array(out.buffer);
}

/** Rounds f32 values to binary16 bit patterns (nearest, ties to even; overflow -> inf). */
export function f32ToF16(src: Float32Array): Uint16Array {
  const bits = new Uint32Array(src.buffer, src.byteOffset, src.length);
  const out = new Uint16Array(src.length);
  for (let i = 0; i < src.length; i++) {
    const x = bits[i];
    const sign = (x >>> 16) & 0x8000;
    const exp = (x >>> 23) & 0xff;
    let man = x & 0x7fffff;
    if (exp === 0xff) {
      out[i] = sign | 0x7c00 | (man ? 0x200 | (man >>> 13) : 0); // NaN stays (quiet) NaN
      continue;
    }
    const e = exp - 112; // f16 biased exponent
    if (e >= 0x1f) {
      out[i] = sign | 0x7c00;
    } else if (e >= 1) {
      let r = (e << 10) | (man >>> 13);
      const rest = man & 0x1fff;
      if (rest > 0x1000 || (rest === 0x1000 && r & 1)) r++; // a carry correctly bumps the exponent
      out[i] = sign | r;
    } else if (e >= -10) {
      man |= 0x800000; // subnormal result: value = man * 2^(exp-150) = r * 2^-24
      const shift = 14 - e;
      let r = man >>> shift;
      const rest = man & ((1 << shift) - 1);
      const half = 1 << (shift - 1);
      if (rest > half || (rest === half && r & 1)) r++;
      out[i] = sign | r;
    } else {
      out[i] = sign; // below 2^-25: rounds to zero
    }
  }
  return out;
}

/** Rounds f32 values to bfloat16 bit patterns (nearest, ties to even; NaN stays NaN). */
export function f32ToBf16(src: Float32Array): Uint16Array {
  const bits = new Uint32Array(src.buffer, src.byteOffset, src.length);
  const out = new Uint16Array(src.length);
  for (let i = 0; i < src.length; i++) {
    const x = bits[i];
    if ((x & 0x7fffffff) > 0x7f800000) out[i] = (x >>> 16) | 0x40;
    else out[i] = (x + 0x7fff + ((x >>> 16) & 1)) >>> 16;
  }
  return out;
}

// ---------------------------------------------------------------------------------------------
// Writing
// ---------------------------------------------------------------------------------------------

/** Float storage dtypes the writer converts f32 data into. */
export type FloatStorage = "F32" | "F16" | "BF16";

/** A float tensor to write, optionally stored as F16/BF16; or raw bytes of any dtype. */
export type WritableTensor = (Tensor & { dtype?: FloatStorage }) | RawTensor;

export interface WriteOptions {
  /** "__metadata__" (e.g. {format: "pt"}, which transformers expects); written in insertion order. */
  metadata?: Record<string, string>;
  /** Storage for float tensors that name no dtype of their own (default F32). */
  dtype?: FloatStorage;
}

interface PlannedTensor {
  name: string;
  dtype: Dtype;
  dims: number[];
  size: number;
  bytes: () => Uint8Array;
}

/** Byte-wise UTF-8 order, which is how Rust compares Strings (JS `<` compares UTF-16 units). */
const compareUtf8 = (a: string, b: string) => Buffer.compare(Buffer.from(a, "utf8"), Buffer.from(b, "utf8"));

function plan(
  tensors: Record<string, WritableTensor> | Map<string, WritableTensor>,
  options: WriteOptions,
  target: string,
): { header: Uint8Array; entries: PlannedTensor[] } {
  if (!LITTLE_ENDIAN) throw new Error(`${target}: safetensors is little-endian; this host is big-endian`);
  const entries: PlannedTensor[] = [];
  const pairs = tensors instanceof Map ? [...tensors] : Object.entries(tensors);
  for (const [name, t] of pairs) {
    if (name === "__metadata__") throw new Error(`${target}: "__metadata__" is reserved; rename that tensor`);
    if (!Array.isArray(t.dims) || !t.dims.every(isCount)) {
      throw new Error(`${target}: tensor "${name}" has invalid dims ${JSON.stringify(t.dims)}`);
    }
    const count = t.dims.reduce((n, d) => n * d, 1);
    if ("bytes" in t) {
      if (!isDtype(t.dtype))
        throw new Error(`${target}: tensor "${name}" has unknown dtype ${String(t.dtype)}`);
      const size = byteLength(t.dtype, t.dims);
      if (size !== t.bytes.byteLength) {
        throw new Error(
          `${target}: tensor "${name}" is ${t.dtype} [${t.dims.join(", ")}] = ${size} bytes but has ${t.bytes.byteLength}`,
        );
      }
      entries.push({ name, dtype: t.dtype, dims: t.dims, size, bytes: () => t.bytes });
      continue;
    }
    if (t.data.length !== count) {
      throw new Error(
        `${target}: tensor "${name}" has dims [${t.dims.join(", ")}] (${count} values) but ${t.data.length} values`,
      );
    }
    const dtype = t.dtype ?? options.dtype ?? "F32";
    if (dtype !== "F32" && dtype !== "F16" && dtype !== "BF16") {
      throw new Error(
        `${target}: tensor "${name}": float data can be stored as F32, F16 or BF16, not ${dtype}`,
      );
    }
    const data = t.data;
    const bytes =
      dtype === "F32"
        ? () => new Uint8Array(data.buffer, data.byteOffset, data.byteLength)
        : () => {
            const h = dtype === "F16" ? f32ToF16(data) : f32ToBf16(data);
            return new Uint8Array(h.buffer, h.byteOffset, h.byteLength);
          };
    entries.push({ name, dtype, dims: t.dims, size: byteLength(dtype, t.dims), bytes });
  }
  // The Rust writer's order: dtype rank descending, then name; offsets follow that order.
  entries.sort((a, b) => DTYPE_RANK.get(b.dtype)! - DTYPE_RANK.get(a.dtype)! || compareUtf8(a.name, b.name));

  // serde_json's compact output: "__metadata__" first, then tensors in layout order, each as
  // {"dtype","shape","data_offsets"}; JSON.stringify escapes strings exactly as serde_json does.
  const parts: string[] = [];
  if (options.metadata) {
    for (const [k, v] of Object.entries(options.metadata)) {
      if (typeof v !== "string")
        throw new Error(`${target}: metadata "${k}" must be a string, got ${typeof v}`);
    }
    parts.push(`"__metadata__":${JSON.stringify(options.metadata)}`);
  }
  let offset = 0;
  for (const e of entries) {
    const info = { dtype: e.dtype, shape: e.dims, data_offsets: [offset, offset + e.size] };
    parts.push(`${JSON.stringify(e.name)}:${JSON.stringify(info)}`);
    offset += e.size;
  }
  const json = Buffer.from(`{${parts.join(",")}}`, "utf8");
  const padded = Math.ceil(json.length / 8) * 8; // spaces up to 8 bytes keep every tensor aligned
  const header = Buffer.alloc(8 + padded, 0x20);
  header.writeBigUInt64LE(BigInt(padded), 0);
  json.copy(header, 8);
  return { header, entries };
}

/** Serialises tensors into one in-memory safetensors buffer (for small files and tests). */
export function serializeSafetensors(
  tensors: Record<string, WritableTensor> | Map<string, WritableTensor>,
  options: WriteOptions = {},
): Uint8Array {
  const { header, entries } = plan(tensors, options, "safetensors");
  const out = new Uint8Array(header.length + entries.reduce((n, e) => n + e.size, 0));
  out.set(header, 0);
  let at = header.length;
  for (const e of entries) {
    out.set(e.bytes(), at);
    at += e.size;
  }
  return out;
}

/**
 * Writes tensors to `path` one at a time (never one buffer for the whole file), into a temporary
 * file renamed over `path` at the end, so a failure leaves any existing file untouched.
 */
export function writeSafetensors(
  path: string,
  tensors: Record<string, WritableTensor> | Map<string, WritableTensor>,
  options: WriteOptions = {},
): void {
  const { header, entries } = plan(tensors, options, path);
  const tmp = `${path}.partial-${process.pid}`;
  let fd: number;
  try {
    fd = openSync(tmp, "w");
  } catch (e) {
    throw new Error(
      `${path}: cannot write safetensors file (${(e as Error).message}); check the folder exists`,
      { cause: e },
    );
  }
  try {
    writeAll(fd, header);
    for (const e of entries) writeAll(fd, e.bytes());
    closeSync(fd);
    fd = -1;
    renameSync(tmp, path);
  } catch (e) {
    if (fd >= 0) closeSync(fd);
    rmSync(tmp, { force: true });
    throw new Error(`${path}: writing safetensors failed (${(e as Error).message})`, { cause: e });
  }
}

function writeAll(fd: number, bytes: Uint8Array): void {
  for (let done = 0; done < bytes.byteLength;) {
    done += writeSync(fd, bytes, done, Math.min(bytes.byteLength - done, READ_CHUNK));
  }
}
