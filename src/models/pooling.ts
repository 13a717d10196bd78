// Sentence embeddings from token states: mean over unmasked tokens, the first token ([CLS] / <s> /
// NLLB's language code), or max; then optional L2 normalisation (sentence-transformers semantics).

import type { Value } from "../tensor/graph.ts";
import * as o from "../tensor/ops.ts";

export type Pooling = "mean" | "cls" | "max";

export function pool(h: Value, mask: Value, mode: Pooling): Value {
  const m = o.cast(mask, h.dtype);
  switch (mode) {
    case "mean":
      // the 1e-9 floor is sentence-transformers'/the reference's clamp for all-padding rows
      return o.div(
        o.reduceSum(o.mul(h, o.unsqueeze(m, [2])), [1]),
        o.max(o.reduceSum(o.unsqueeze(m, [2]), [1]), 1e-9),
      );
    case "cls":
      return o.squeeze(o.slice(h, [0], [1], [1]), [1]);
    case "max":
      // padded positions are pushed to -1e9 so they never win (sentence-transformers does the same)
      return o.reduceMax(o.add(h, o.unsqueeze(o.mul(o.sub(1, m), -1e9), [2])), [1]);
  }
}

export { l2Normalize as normalize } from "../tensor/ops.ts";
