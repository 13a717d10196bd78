// LoRA on a linear layer's output: y = W x + b + (alpha / r) B (A dropout(x)), with A [r, in] and
// B [out, r] named as PEFT names them (base_model.model.<module>.lora_A.weight). Dropout masks,
// when training with dropout, are graph inputs drawn by the trainer's own seeded generator, so a
// resumed run replays the same masks.

import type { Value } from "../tensor/graph.ts";
import * as o from "../tensor/ops.ts";
import { peftKey } from "../weights/peft.ts";
import type { Params } from "./checkpoint.ts";
import type { LinearHook } from "./layers.ts";

export interface LoraSpec {
  r: number;
  alpha: number;
  dropout: number;
  /** Last path component of the targeted modules, e.g. ["query", "key", "value"]. */
  targets: string[];
}

/** The graph input that carries the dropout mask (already scaled by 1/(1-p)) for `module`. */
export const dropoutInput = (module: string) => `lora_dropout.${module}`;

export const isTarget = (spec: LoraSpec, module: string) =>
  spec.targets.includes(module.slice(module.lastIndexOf(".") + 1));

/** A linear hook adding the LoRA term to every targeted module; `withDropout` adds mask inputs. */
export function loraHook(p: Params, spec: LoraSpec, withDropout: boolean): LinearHook {
  const scale = spec.alpha / spec.r;
  return (module, x, y) => {
    if (!isTarget(spec, module)) return y;
    const dIn = x.shape[x.rank - 1] as number;
    const dOut = y.shape[y.rank - 1] as number;
    const a = p(peftKey(module, "A"), [spec.r, dIn]);
    const b = p(peftKey(module, "B"), [dOut, spec.r]);
    const xin: Value = withDropout ? o.mul(x, p.graph.input(dropoutInput(module), "float32", x.shape)) : x;
    const low = o.matmul(o.matmul(xin, o.transpose(a, [1, 0])), o.transpose(b, [1, 0]));
    return o.add(y, o.mul(low, scale));
  };
}
