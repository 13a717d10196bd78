// Rewrites a graph into what stock ONNX Runtime kernels accept before it is serialised. Today one
// rule: ONNX Runtime's CPU provider has no float64 Erf kernel, and float64 graphs exist for
// gradient checks, so a float64 Erf becomes the series
//   erf(x) = 2/sqrt(pi) * exp(-x^2) * x * sum_n (2x^2)^n / (1*3*...*(2n+1)),
// whose terms are all positive (no cancellation): about 1e-15 relative accuracy for |x| <= 6
// with 120 terms; |x| is clamped at 6, where erf is 1 to double precision.

import type { Graph, Value } from "./graph.ts";
import * as o from "./ops.ts";

const TERMS = 120;

function erf64(x: Value): Value {
  const xc = o.where(o.greater(x, 6), 6, o.where(o.less(x, -6), -6, x));
  const t = o.mul(o.mul(xc, xc), 2);
  let s: Value = o.add(o.mul(t, 1 / (2 * TERMS + 1)), 1);
  for (let n = TERMS - 1; n >= 1; n--) s = o.add(o.mul(o.mul(t, s), 1 / (2 * n + 1)), 1);
  return o.mul(o.mul(o.mul(o.exp(o.neg(o.mul(xc, xc))), xc), s), 2 / Math.sqrt(Math.PI));
}

export function lowerForOrt(g: Graph): Graph {
  const hit = (n: Graph["nodes"][number]) => n.op === "Erf" && g.info.get(n.inputs[0])?.dtype === "float64";
  if (!g.nodes.some(hit)) return g;
  const out = g.clone();
  out.nodes.length = 0;
  for (const n of g.nodes) {
    if (!hit(n)) {
      out.nodes.push(n);
      continue;
    }
    const y = erf64(out.value(n.inputs[0]));
    out.nodes.push({
      op: "Identity",
      name: out.fresh("Identity"),
      inputs: [y.name],
      outputs: n.outputs,
      attrs: {},
    });
  }
  return out;
}
