// Graph -> ONNX ModelProto bytes (protobuf encoding by onnx-proto / protobufjs). Small models are
// serialised whole; a model whose initializers pass the 2 GB protobuf limit is saved as a .onnx file
// plus one external-data file beside it, which ONNX Runtime then loads by path.

import { closeSync, openSync, writeFileSync, writeSync } from "node:fs";
import { basename } from "node:path";
import onnxProto from "onnx-proto";
import type { onnx as O } from "onnx-proto";
import { ONNX_DTYPE } from "./dtype.ts";
import { type Attr, type Graph, type TensorData, type ValueInfo, tensorBytes } from "./graph.ts";
import { lowerForOrt } from "./lower.ts";

const { onnx } = onnxProto;

export const OPSET = 18;
/** Version of ONNX Runtime's contrib op set (com.microsoft), imported when a graph uses one. */
const MS_OPSET = 1;
const IR_VERSION = 8;
/** Initializers at least this large go to the external-data file when saving with external data. */
const EXTERNAL_MIN_BYTES = 1024;
/** Offsets in the external file are aligned so ONNX Runtime can map them in place. */
const ALIGN = 4096;

/** The data's bytes (reads a lazy tensor once). */
const bytesOf = (t: TensorData) => {
  const d = t.data;
  return new Uint8Array(d.buffer, d.byteOffset, d.byteLength);
};

function tensorProto(name: string, t: TensorData, raw: boolean): O.ITensorProto {
  return { name, dims: t.dims, dataType: ONNX_DTYPE[t.dtype], ...(raw ? { rawData: bytesOf(t) } : {}) };
}

function attrProto(name: string, a: Attr): O.IAttributeProto {
  const T = onnx.AttributeProto.AttributeType;
  if ("i" in a) return { name, type: T.INT, i: a.i };
  if ("f" in a) return { name, type: T.FLOAT, f: a.f };
  if ("ints" in a) return { name, type: T.INTS, ints: a.ints };
  if ("floats" in a) return { name, type: T.FLOATS, floats: a.floats };
  if ("s" in a) return { name, type: T.STRING, s: new TextEncoder().encode(a.s) };
  return { name, type: T.TENSOR, t: tensorProto("", a.t, true) };
}

function valueInfoProto(v: ValueInfo): O.IValueInfoProto {
  const dim = v.shape.map((d) => (typeof d === "number" ? { dimValue: d } : { dimParam: d }));
  return { name: v.name, type: { tensorType: { elemType: ONNX_DTYPE[v.dtype], shape: { dim } } } };
}

function modelProto(g: Graph, initializers: O.ITensorProto[]): O.IModelProto {
  const domains = new Set(g.nodes.flatMap((n) => (n.domain ? [n.domain] : [])));
  return {
    irVersion: IR_VERSION,
    producerName: "xlir",
    opsetImport: [
      { domain: "", version: OPSET },
      ...[...domains].map((domain) => ({ domain, version: MS_OPSET })),
    ],
    graph: {
      name: g.name,
      node: g.nodes.map((n) => ({
        opType: n.op,
        ...(n.domain ? { domain: n.domain } : {}),
        name: n.name,
        input: n.inputs,
        output: n.outputs,
        attribute: Object.entries(n.attrs).map(([k, a]) => attrProto(k, a)),
      })),
      input: g.inputs.map(valueInfoProto),
      output: g.outputs.map(valueInfoProto),
      initializer: initializers,
    },
  };
}

/** The whole model as ONNX protobuf bytes, initializers inline (must stay under 2 GB). */
export function serialize(graph: Graph): Uint8Array {
  const g = lowerForOrt(graph);
  const total = g.initializerBytes();
  if (total >= 2 ** 31 - 2 ** 24)
    throw new Error(
      `graph ${g.name}: ${(total / 2 ** 30).toFixed(2)} GiB of initializers exceed protobuf's 2 GB limit; save it with saveModel(graph, path) (external data) and load it by path`,
    );
  const inits = [...g.initializers].map(([name, t]) => tensorProto(name, t, true));
  return onnx.ModelProto.encode(modelProto(g, inits)).finish();
}

/**
 * Write `path` (.onnx) and, for initializers of at least 1 KiB, `path.data` beside it as ONNX external
 * data, tensor by tensor so no single buffer holds the whole model. Works for any size.
 */
export function saveModel(graph: Graph, path: string): void {
  const g = lowerForOrt(graph);
  const dataPath = `${path}.data`;
  const location = basename(dataPath);
  const fd = openSync(dataPath, "w");
  let offset = 0;
  const inits: O.ITensorProto[] = [];
  try {
    for (const [name, t] of g.initializers) {
      if (tensorBytes(t) < EXTERNAL_MIN_BYTES) {
        inits.push(tensorProto(name, t, true));
        continue;
      }
      offset = Math.ceil(offset / ALIGN) * ALIGN;
      const bytes = bytesOf(t);
      // writeSync takes at most 2 GiB per call
      for (let done = 0; done < bytes.length;)
        done += writeSync(fd, bytes, done, Math.min(bytes.length - done, 2 ** 30), offset + done);
      inits.push({
        ...tensorProto(name, t, false),
        dataLocation: onnx.TensorProto.DataLocation.EXTERNAL,
        externalData: [
          { key: "location", value: location },
          { key: "offset", value: String(offset) },
          { key: "length", value: String(bytes.length) },
        ],
      });
      offset += bytes.length;
    }
  } finally {
    closeSync(fd);
  }
  writeFileSync(path, onnx.ModelProto.encode(modelProto(g, inits)).finish());
}
