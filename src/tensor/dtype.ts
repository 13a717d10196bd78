// Element types the engine knows, their ONNX TensorProto codes and the typed arrays that hold them.
// float64 exists so gradient checks can run at double precision; models run in float32, or with int8
// weights and uint8 activations where a graph is quantized (quantize.ts).

export type DType = "float32" | "float64" | "float16" | "int64" | "int32" | "int8" | "uint8" | "bool";

export type TypedArray =
  Float32Array | Float64Array | Uint16Array | BigInt64Array | Int32Array | Int8Array | Uint8Array;

/** TensorProto.DataType codes. */
export const ONNX_DTYPE: Record<DType, number> = {
  float32: 1,
  bool: 9,
  int32: 6,
  int64: 7,
  int8: 3,
  uint8: 2,
  float16: 10,
  float64: 11,
};

/** Bytes per element. */
export const BYTES: Record<DType, number> = {
  float32: 4,
  float64: 8,
  float16: 2,
  int64: 8,
  int32: 4,
  int8: 1,
  uint8: 1,
  bool: 1,
};

export const isFloat = (d: DType): boolean => d.startsWith("float");

export function dtypeFromOnnx(code: number): DType {
  const hit = (Object.keys(ONNX_DTYPE) as DType[]).find((d) => ONNX_DTYPE[d] === code);
  if (!hit)
    throw new Error(`ONNX element type ${code} is not supported (supported: ${Object.keys(ONNX_DTYPE)})`);
  return hit;
}

/** A fresh zero-filled array of `n` elements of `dtype`. */
export function allocate(dtype: DType, n: number): TypedArray {
  switch (dtype) {
    case "float32":
      return new Float32Array(n);
    case "float64":
      return new Float64Array(n);
    case "float16":
      return new Uint16Array(n);
    case "int64":
      return new BigInt64Array(n);
    case "int32":
      return new Int32Array(n);
    case "int8":
      return new Int8Array(n);
    case "uint8":
    case "bool":
      return new Uint8Array(n);
  }
}

/** An array of `dtype` holding `values` (numbers, converted as the dtype needs). */
export function fromNumbers(dtype: DType, values: readonly number[]): TypedArray {
  const out = allocate(dtype, values.length);
  if (out instanceof BigInt64Array) values.forEach((v, i) => (out[i] = BigInt(v)));
  else if (dtype === "float16")
    throw new Error("fromNumbers: float16 constants are not supported; use float32");
  else out.set(values);
  return out;
}
