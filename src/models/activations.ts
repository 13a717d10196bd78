// The hidden activations that BERT-family and M2M100 configs name, by their transformers names.

import type { Value } from "../tensor/graph.ts";
import * as o from "../tensor/ops.ts";

/** tanh-approximate GELU (transformers' "gelu_new" / "gelu_pytorch_tanh"). */
const geluTanh = (x: Value) =>
  o.mul(
    o.mul(x, 0.5),
    o.add(o.tanh(o.mul(o.add(x, o.mul(o.pow(x, 3), 0.044715)), Math.sqrt(2 / Math.PI))), 1),
  );

const ACTIVATIONS: Record<string, (x: Value) => Value> = {
  gelu: o.gelu,
  gelu_new: geluTanh,
  gelu_pytorch_tanh: geluTanh,
  relu: o.relu,
  tanh: o.tanh,
  silu: (x) => o.mul(x, o.sigmoid(x)),
  swish: (x) => o.mul(x, o.sigmoid(x)),
};

export function activation(name: string, source: string): (x: Value) => Value {
  const f = ACTIVATIONS[name];
  if (!f)
    throw new Error(
      `${source}: activation "${name}" is not supported (supported: ${Object.keys(ACTIVATIONS).join(", ")})`,
    );
  return f;
}
