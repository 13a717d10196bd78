// Lucene's one-byte document-length norm (org.apache.lucene.util.SmallFloat.intToByte4 and
// byte4ToInt, Lucene 7+): BM25Similarity stores each document's length in one byte and scores with
// the decoded value. Lengths 0..40 survive exactly; above that the length is rounded DOWN to a
// value with 4 significant bits past an offset of 24 (41 -> 40, 45 -> 44, 100 -> 96, 1000 -> 984).
// Scoring with these lossy lengths is what makes our BM25 scores equal Lucene's (and Pyserini's).

// longToInt4(Integer.MAX_VALUE) = 231, so values below 255 - 231 = 24 are stored as themselves.
const NUM_FREE_VALUES = 24;

// A positive integer as 4 significant bits (the leading one implicit) and a 5-bit shift; values
// below 8 are "subnormal" and stored as is. Truncates, as Lucene does.
function longToInt4(i: number): number {
  const numBits = 32 - Math.clz32(i);
  if (numBits < 4) return i;
  const shift = numBits - 4;
  return ((i >>> shift) & 0x07) | ((shift + 1) << 3);
}

function int4ToLong(i: number): number {
  const bits = i & 0x07;
  const shift = (i >>> 3) - 1;
  // (bits | 8) << shift, in floating point: shift reaches 27 and the result 2^31 - ... overflows int32.
  return shift === -1 ? bits : (bits | 0x08) * 2 ** shift;
}

/** SmallFloat.intToByte4: a length (0 .. 2^31-1) as an unsigned byte 0..255. */
export function intToByte4(length: number): number {
  if (!Number.isInteger(length) || length < 0 || length > 0x7fffffff) {
    throw new Error(`document length ${length} cannot be encoded: give an integer in 0..2147483647`);
  }
  return length < NUM_FREE_VALUES ? length : NUM_FREE_VALUES + longToInt4(length - NUM_FREE_VALUES);
}

/** SmallFloat.byte4ToInt: the length an encoded byte (0..255) stands for. */
export function byte4ToInt(b: number): number {
  const i = b & 0xff;
  return i < NUM_FREE_VALUES ? i : NUM_FREE_VALUES + int4ToLong(i - NUM_FREE_VALUES);
}

/** The length Lucene scores a document of `length` tokens with. */
export function luceneLength(length: number): number {
  return byte4ToInt(intToByte4(length));
}

/** BM25Similarity.LENGTH_TABLE: the decoded length of every byte, as a float. */
export const LENGTH_TABLE: Float32Array = Float32Array.from({ length: 256 }, (_, i) => byte4ToInt(i));
