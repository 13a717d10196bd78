// Static shapes with symbolic dims. A dim is a number, or a name such as "batch" that is only known
// when the graph runs. Convention: a symbolic dim never broadcasts (it is never 1 at run time
// against a larger dim); write a literal 1 where you mean to broadcast. That makes every broadcast
// decidable at build time, which is what lets autodiff reduce gradients back with static axes.

export type Dim = number | string;
export type Shape = readonly Dim[];

export const formatShape = (s: Shape): string => `[${s.join(",")}]`;

export const sameDim = (a: Dim, b: Dim): boolean => a === b;

export const sameShape = (a: Shape, b: Shape): boolean =>
  a.length === b.length && a.every((d, i) => sameDim(d, b[i]));

/** numpy broadcasting of two shapes; throws naming the op and both shapes when they don't fit. */
export function broadcast(op: string, a: Shape, b: Shape): Dim[] {
  const n = Math.max(a.length, b.length);
  const out: Dim[] = [];
  for (let i = 0; i < n; i++) {
    const da = i < n - a.length ? 1 : a[i - (n - a.length)];
    const db = i < n - b.length ? 1 : b[i - (n - b.length)];
    if (da === db || db === 1) out.push(da);
    else if (da === 1) out.push(db);
    else if (typeof da === "string" || typeof db === "string") out.push(typeof da === "number" ? da : db);
    else
      throw new Error(
        `${op}: shapes ${formatShape(a)} and ${formatShape(b)} do not broadcast (axis ${i - n}: ${da} vs ${db})`,
      );
  }
  return out;
}

/** Normalise a possibly negative axis against a rank, with an error naming the op. */
export function normAxis(op: string, axis: number, rank: number): number {
  const a = axis < 0 ? axis + rank : axis;
  if (a < 0 || a >= rank) throw new Error(`${op}: axis ${axis} is out of range for rank ${rank}`);
  return a;
}

/** Product of the dims if all are numbers, else undefined. */
export function numel(s: Shape): number | undefined {
  let n = 1;
  for (const d of s) {
    if (typeof d !== "number") return undefined;
    n *= d;
  }
  return n;
}
