// Elementwise closeness for float32 results: |actual - expected| <= atol + rtol * |expected|.
import assert from "node:assert/strict";

export function assertClose(
  actual: ArrayLike<number>,
  expected: ArrayLike<number>,
  { rtol = 1e-6, atol = 0, what = "value" }: { rtol?: number; atol?: number; what?: string } = {},
): void {
  assert.equal(actual.length, expected.length, `${what}: length ${actual.length} != ${expected.length}`);
  for (let i = 0; i < expected.length; i++) {
    const a = actual[i];
    const e = expected[i];
    const ok = Math.abs(a - e) <= atol + rtol * Math.abs(e);
    assert.ok(ok, `${what}[${i}]: got ${a}, expected ${e} (rtol ${rtol}, atol ${atol})`);
  }
}
