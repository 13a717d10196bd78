// A SentencePiece model file writer (the ModelProto protobuf, just the fields the reader uses plus
// a few it must skip), so tests build .model / .spm files with the pieces they need.
import type { PieceType } from "../../src/text/sentencepiece.ts";

const TYPE_NUMBER: Record<PieceType, number> = {
  NORMAL: 1,
  UNKNOWN: 2,
  CONTROL: 3,
  USER_DEFINED: 4,
  UNUSED: 5,
  BYTE: 6,
};

function varint(n: number | bigint): number[] {
  // negative int32 values are written as 64-bit two's complement, 10 bytes, as protobuf does
  let v = BigInt.asUintN(64, BigInt(n));
  const out: number[] = [];
  do {
    const b = Number(v & 0x7fn);
    v >>= 7n;
    out.push(v ? b | 0x80 : b);
  } while (v);
  return out;
}
const tag = (field: number, wire: number): number[] => varint(field * 8 + wire);
const int = (field: number, n: number | boolean): number[] => [...tag(field, 0), ...varint(Number(n))];
const bytes = (field: number, b: Uint8Array | number[]): number[] => [
  ...tag(field, 2),
  ...varint(b.length),
  ...b,
];
const str = (field: number, s: string): number[] => bytes(field, [...new TextEncoder().encode(s)]);
const float = (field: number, x: number): number[] => {
  const b = new Uint8Array(4);
  new DataView(b.buffer).setFloat32(0, x, true);
  return [...tag(field, 5), ...b];
};

export type PieceSpec = [piece: string, score: number, type?: PieceType];

export interface ModelSpec {
  pieces: PieceSpec[];
  modelType?: number;
  byteFallback?: boolean;
  unkId?: number;
  padId?: number;
  name?: string;
  charsmap?: number[];
  addDummyPrefix?: boolean;
  removeExtraWhitespaces?: boolean;
}

export function buildModel(spec: ModelSpec): Uint8Array {
  const out: number[] = [];
  for (const [piece, score, type] of spec.pieces) {
    const body = [...str(1, piece), ...float(2, score)];
    // NORMAL is the proto default and sentencepiece leaves it out
    if (type && type !== "NORMAL") body.push(...int(3, TYPE_NUMBER[type]));
    out.push(...bytes(1, body));
  }
  const trainer = [
    ...str(2, "m"),
    ...int(3, spec.modelType ?? 1),
    ...int(4, spec.pieces.length),
    ...float(10, 0.9995), // character_coverage: a field the reader skips
    ...int(35, spec.byteFallback ?? false),
    ...(spec.unkId !== undefined ? int(40, spec.unkId) : []),
    ...(spec.padId !== undefined ? int(43, spec.padId) : []),
    ...int(999, 7), // a field from a future version
  ];
  out.push(...bytes(2, trainer));
  const normalizer = [
    ...str(1, spec.name ?? "identity"),
    ...(spec.charsmap ? bytes(2, spec.charsmap) : []),
    ...(spec.addDummyPrefix !== undefined ? int(3, spec.addDummyPrefix) : []),
    ...(spec.removeExtraWhitespaces !== undefined ? int(4, spec.removeExtraWhitespaces) : []),
  ];
  out.push(...bytes(3, normalizer));
  return new Uint8Array(out);
}
