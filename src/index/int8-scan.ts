// Compressed exact search (an option beside scan-search.ts): an int8 copy of the vectors, a quarter
// of the bytes, is scanned first by ONNX Runtime's integer MatMul (u8 x s8: the AVX-512 VNNI kernel
// where the CPU has it), and the best `depth` rows of each query by that approximate score are
// re-scored exactly in double precision from the float32 vectors. The result is exact whenever the
// true top k is among those `depth` rows. At 1M x 384 clustered vectors (bench/search.bench.ts) one
// query took 33 ms against 86 ms for the float32 scan; recall@10 was 0.961 at depth 10 and 1.000
// from depth 50 (default 10 x k). Batched queries gain little (12 ms against 14 ms a query): the
// GEMM is bound by arithmetic there, not by reading the vectors. Not wired into collections yet.
//
// Each row is quantized symmetrically with its own scale (max |v| / 127), stored as uint8 with
// zero point 128 (VNNI multiplies unsigned by signed bytes); a query is quantized the same way, and
// since its scale multiplies all its scores alike it is left out of them.
import { Graph } from "../tensor/graph.ts";
import { cast, matMulInteger, mul } from "../tensor/ops.ts";
import { Session } from "../tensor/session.ts";
import {
  BATCH,
  BLOCK_FLOATS,
  type BatchScorer,
  type ScanSearchOptions,
  type ScanTopKOptions,
  type TopK,
  scanTopK,
} from "./scan-search.ts";

/** Row-quantized vectors: codes[r * dims + c] = round(v[r][c] / scales[r]) + 128. */
export interface Int8Vectors {
  dims: number;
  codes: Uint8Array;
  scales: Float32Array;
}

export interface Int8TopKOptions extends ScanTopKOptions {
  /** Rows per query re-scored exactly (default 10 * k). */
  depth?: number;
}

/** Signed bytes of `v` scaled so its largest magnitude is 127; the scale (1 for a zero row). */
function quantize(v: Float32Array, into: Uint8Array | Int8Array, offset: number): number {
  let max = 0;
  for (let i = 0; i < v.length; i++) max = Math.max(max, Math.abs(v[i]));
  const scale = max > 0 ? max / 127 : 1;
  for (let i = 0; i < v.length; i++) into[i] = Math.round(v[i] / scale) + offset;
  return scale;
}

/** The int8 copy of `vectors` ([rows, dims] row-major). */
export function quantizeRows(vectors: Float32Array, dims: number): Int8Vectors {
  const rows = Math.floor(vectors.length / dims);
  const codes = new Uint8Array(rows * dims);
  const scales = new Float32Array(rows);
  for (let r = 0; r < rows; r++)
    scales[r] = quantize(vectors.subarray(r * dims, (r + 1) * dims), codes.subarray(r * dims), 128);
  return { dims, codes, scales };
}

export class Int8Scan {
  private constructor(
    private readonly session: Session,
    private readonly blockFloats: number,
    private readonly batch: number,
  ) {}

  static async create(opts: ScanSearchOptions = {}): Promise<Int8Scan> {
    const g = new Graph("int8-scan-scores");
    const codes = g.input("codes", "uint8", ["m", "d"]);
    const zero = g.input("zero", "uint8", []);
    const scales = g.input("scales", "float32", ["m", 1]);
    const queriesT = g.input("queriesT", "int8", ["d", "n"]);
    g.output(mul(cast(matMulInteger(codes, queriesT, zero), "float32"), scales), "scores");
    const session = await Session.create(g, { threads: opts.threads, device: opts.device });
    return new Int8Scan(session, opts.blockFloats ?? BLOCK_FLOATS, opts.batch ?? BATCH);
  }

  /**
   * The top k rows of every query (`queries`: [n, dims] row-major): exact scores of the best `depth`
   * rows by the int8 scan. `vectors` are the float32 rows `q8` was made from.
   */
  async topK(
    q8: Int8Vectors,
    vectors: Float32Array,
    queries: Float32Array,
    k: number,
    opts: Int8TopKOptions = {},
  ): Promise<TopK> {
    const dims = q8.dims;
    if (q8.codes.length !== vectors.length) throw new Error("the int8 copy does not match the vectors");
    const zero = { dtype: "uint8" as const, dims: [], data: Uint8Array.of(128) };
    const scorer: BatchScorer = (batch, n) => {
      // queries quantized and transposed: [dims, n]
      const qT = new Int8Array(dims * n);
      const row = new Int8Array(dims);
      for (let j = 0; j < n; j++) {
        quantize(batch.subarray(j * dims, (j + 1) * dims), row, 0);
        for (let c = 0; c < dims; c++) qT[c * n + j] = row[c];
      }
      return async (from, to) => {
        const res = await this.session.run(
          {
            codes: {
              dtype: "uint8",
              dims: [to - from, dims],
              data: q8.codes.subarray(from * dims, to * dims),
            },
            zero,
            scales: { dtype: "float32", dims: [to - from, 1], data: q8.scales.subarray(from, to) },
            queriesT: { dtype: "int8", dims: [dims, n], data: qT },
          },
          ["scores"],
        );
        return res.scores.data as Float32Array;
      };
    };
    return scanTopK(scorer, vectors, dims, queries, k, {
      ...opts,
      keep: opts.depth ?? 10 * k,
      window: () => 0,
      batch: this.batch,
      blockFloats: this.blockFloats,
    });
  }

  async close(): Promise<void> {
    await this.session.release();
  }
}
