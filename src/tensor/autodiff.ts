// Reverse-mode autodiff on graphs: grad(graph, loss, wrt) returns a new graph whose outputs are the
// loss and d loss / d w for each w in `wrt` (graph inputs or initializers), named `grad.<w>`. The
// backward pass is appended as ordinary ONNX nodes (rules in gradients.ts), so one ONNX Runtime
// session computes forward and backward together.

import type { Graph, Value } from "./graph.ts";
import { NON_DIFFERENTIABLE, RULES } from "./gradients.ts";
import * as o from "./ops.ts";
import { formatShape, numel, sameShape } from "./shape.ts";

export const gradName = (w: string) => `grad.${w}`;

/** `keep`: other outputs of `graph` to return beside the loss (e.g. per-sample losses). */
export function grad(graph: Graph, loss: Value | string, wrt: string[], keep: string[] = []): Graph {
  const lossName = typeof loss === "string" ? loss : loss.name;
  const g = graph.clone();
  g.outputs.length = 0;
  const lossV = g.value(lossName);
  if (numel(lossV.shape) !== 1 || !lossV.dtype.startsWith("float"))
    throw new Error(`autodiff: the loss must be a float scalar, got ${lossV}`);
  for (const w of wrt) g.value(w); // throws on an unknown name

  // values that depend on some w (forward) and nodes that lead to the loss (backward)
  const varies = new Set(wrt);
  for (const n of g.nodes)
    if (n.inputs.some((i) => varies.has(i))) n.outputs.forEach((out) => varies.add(out));
  const reaches = new Set([lossName]);
  const nodes = graph.nodes.filter((n) => n.inputs.some((i) => varies.has(i)));
  for (let k = nodes.length - 1; k >= 0; k--)
    if (nodes[k].outputs.some((out) => reaches.has(out))) nodes[k].inputs.forEach((i) => reaches.add(i));

  const grads = new Map<string, Value>();
  grads.set(lossName, g.constant(lossV.dtype, [1], lossV.shape as number[]));
  g.output(lossV, lossV.name === "loss" ? undefined : "loss");
  for (const k of keep) g.output(g.value(k));

  for (let k = nodes.length - 1; k >= 0; k--) {
    const node = nodes[k];
    const dy = node.outputs.map((out) => grads.get(out));
    if (dy.every((d) => d === undefined) || NON_DIFFERENTIABLE.has(node.op)) continue;
    const rule = RULES[node.op];
    if (!rule)
      throw new Error(
        `autodiff: no gradient rule for ${node.op} (node ${node.name}) on the path from [${wrt}] to ${lossName}`,
      );
    const x = node.inputs.map((i) => (i ? g.value(i) : undefined));
    const need = node.inputs.map((i) => i !== "" && varies.has(i) && reaches.has(i));
    const dx = rule({ node, x, y: node.outputs.map((out) => g.value(out)), dy, need });
    node.inputs.forEach((name, i) => {
      const d = dx[i];
      if (!need[i] || !d) return;
      if (
        !sameShape(d.shape, x[i]!.shape) &&
        numel(d.shape) !== undefined &&
        numel(x[i]!.shape) !== undefined
      )
        throw new Error(
          `autodiff: ${node.op} rule gave ${formatShape(d.shape)} for input ${name} of shape ${formatShape(x[i]!.shape)}`,
        );
      const prev = grads.get(name);
      grads.set(name, prev ? o.add(prev, d) : d);
    });
  }

  for (const w of wrt) {
    const wv = g.value(w);
    // a w the loss does not depend on has a zero gradient
    const d = grads.get(w) ?? o.constantOfShape(o.shapeOf(wv), 0, wv.dtype, wv.shape);
    g.output(d, gradName(w));
  }
  return g;
}
