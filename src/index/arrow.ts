// Apache Arrow as LanceDB sees it. @lancedb/lancedb is CommonJS and checks `instanceof Table`
// against its own require("apache-arrow"); an ESM import would load Arrow's ESM build, a second
// copy whose tables LanceDB does not recognise. So we take the CommonJS copy too.
import { isAscii } from "node:buffer";
import { createRequire } from "node:module";
import type * as ArrowModule from "apache-arrow";

export const arrow = createRequire(import.meta.url)("apache-arrow") as typeof ArrowModule;
export type { Table as ArrowTable, Schema, Data } from "apache-arrow";

/** A non-null field. */
export function field(name: string, type: ArrowModule.DataType, nullable = false): ArrowModule.Field {
  return new arrow.Field(name, type, nullable);
}

export function vectorType(dims: number): ArrowModule.FixedSizeList<ArrowModule.Float32> {
  return new arrow.FixedSizeList(dims, new arrow.Field("item", new arrow.Float32(), true));
}

/** Column data, in schema order, for tableOf. */
export type Column = { strings: (string | null)[] } | { int32: Int32Array } | { vectors: Float32Array };

/**
 * Arrow's JavaScript reader decodes each string with a TextDecoder that drops a leading byte order
 * mark, so a text starting with U+FEFF (XQuAD-R has some) would come back without it. Storing one
 * more BOM in front of such strings makes the round trip exact; LanceDB SQL literals must use the
 * stored form too (lance-store.ts sqlString).
 */
export function stored(s: string): string {
  return s.charCodeAt(0) === 0xfeff ? "\uFEFF" + s : s;
}

/** A one-batch Arrow table of `schema` from columns given in the schema's field order. */
export function tableOf(schema: ArrowModule.Schema, rows: number, columns: Column[]): ArrowModule.Table {
  const children = schema.fields.map((f, i) => {
    const c = columns[i];
    if ("strings" in c)
      return arrow.vectorFromArray(
        c.strings.map((x) => (x === null ? x : stored(x))),
        new arrow.Utf8(),
      ).data[0];
    if ("int32" in c) return arrow.makeData({ type: new arrow.Int32(), length: rows, data: c.int32 });
    const dims = (f.type as ArrowModule.FixedSizeList).listSize;
    const child = arrow.makeData({ type: new arrow.Float32(), length: rows * dims, data: c.vectors });
    return arrow.makeData({ type: f.type as ArrowModule.FixedSizeList, length: rows, nullCount: 0, child });
  });
  const data = arrow.makeData({
    type: new arrow.Struct(schema.fields),
    length: rows,
    nullCount: 0,
    children,
  });
  return new arrow.Table([new arrow.RecordBatch(schema, data)]);
}

/**
 * A string column of a query result. Decoded here from each batch's offsets and bytes, the same
 * strings as Arrow's own iterator gives (its TextDecoder drops one leading byte order mark, so this
 * does too) in a fraction of the time: search reads every document's id, language, title and
 * metadata this way on each start. An all-ASCII batch is decoded once and sliced.
 */
export function stringsOf(t: ArrowModule.Table, name: string): (string | null)[] {
  const col = column(t, name);
  if (col === null) return [];
  const out: (string | null)[] = new Array(t.numRows);
  let at = 0;
  for (const d of col.data) {
    if (!arrow.DataType.isUtf8(d.type)) {
      for (let i = 0; i < d.length; i++, at++) out[at] = col.get(at) as string | null; // LargeUtf8
      continue;
    }
    const offsets = d.valueOffsets as Int32Array;
    const bytes = Buffer.from(d.values.buffer, d.values.byteOffset, d.values.byteLength);
    const ascii = isAscii(bytes) ? bytes.toString("latin1") : null;
    const nulls = d.nullCount > 0 ? d.nullBitmap : null; // Data.getValid costs more than the decoding
    for (let i = 0; i < d.length; i++) {
      if (nulls !== null && (nulls[(d.offset + i) >> 3] & (1 << ((d.offset + i) & 7))) === 0)
        out[at++] = null;
      else if (ascii !== null) out[at++] = ascii.slice(offsets[i], offsets[i + 1]);
      else {
        const s = bytes.toString("utf8", offsets[i], offsets[i + 1]);
        out[at++] = s.charCodeAt(0) === 0xfeff ? s.slice(1) : s;
      }
    }
  }
  return out;
}

export function int32sOf(t: ArrowModule.Table, name: string): Int32Array {
  const col = column(t, name);
  if (col === null) return new Int32Array(0);
  const out = new Int32Array(t.numRows);
  let at = 0;
  for (const d of col.data) {
    out.set((d.values as Int32Array).subarray(d.offset, d.offset + d.length), at);
    at += d.length;
  }
  return out;
}

/** A FixedSizeList<float32> column as one row-major Float32Array [rows, dims]. */
export function vectorsOf(t: ArrowModule.Table, name: string, dims: number): Float32Array {
  const col = column(t, name);
  if (col === null) return new Float32Array(0);
  const out = new Float32Array(t.numRows * dims);
  let at = 0;
  for (const d of col.data) {
    const child = d.children[0];
    const from = (child.offset + d.offset * dims) | 0;
    out.set((child.values as Float32Array).subarray(from, from + d.length * dims), at);
    at += d.length * dims;
  }
  return out;
}

// An empty LanceDB result comes back with no schema at all: no column, no rows.
function column(t: ArrowModule.Table, name: string): ArrowModule.Vector | null {
  const col = t.getChild(name);
  if (col === null && t.numRows > 0) throw new Error(`LanceDB result has no column ${name}`);
  return col;
}
