import assert from "node:assert/strict";
import { describe, it } from "node:test";

import {
  constantSchedule,
  constantWithWarmup,
  cosineWithWarmup,
  linearWithWarmup,
} from "../../src/train/schedule.ts";

// Hand values: the multipliers are short float64 expressions, so they are compared to ~1e-15.
const near = (a: number, b: number, what: string) =>
  assert.ok(Math.abs(a - b) <= 1e-15, `${what}: ${a} != ${b}`);

describe("constant schedules", () => {
  it("constant is 1 at every step", () => {
    const s = constantSchedule();
    for (const t of [0, 1, 1000]) assert.equal(s(t), 1);
  });

  it("constant with warmup ramps step/warmup, then holds 1", () => {
    const s = constantWithWarmup(4);
    assert.deepEqual([0, 1, 2, 3, 4, 5, 100].map(s), [0, 0.25, 0.5, 0.75, 1, 1, 1]);
    // warmup 0: max(1, 0) guards the division; step 0 is already past warmup.
    assert.equal(constantWithWarmup(0)(0), 1);
  });
});

describe("linearWithWarmup (get_linear_schedule_with_warmup)", () => {
  const s = linearWithWarmup(10, 110);

  it("starts at 0 at step 0 and ramps linearly", () => {
    assert.equal(s(0), 0);
    near(s(1), 0.1, "step 1");
    near(s(9), 0.9, "step 9");
  });

  it("peaks at 1 exactly at the end of warmup", () => {
    assert.equal(s(10), 1);
  });

  it("decays linearly to 0 at total and stays 0 beyond", () => {
    near(s(60), 0.5, "half way");
    near(s(109), 0.01, "last step");
    assert.equal(s(110), 0);
    assert.equal(s(111), 0);
    assert.equal(s(10_000), 0);
  });

  it("without warmup starts at 1 and decays from step 0", () => {
    const z = linearWithWarmup(0, 4);
    assert.deepEqual([0, 1, 2, 3, 4, 5].map(z), [1, 0.75, 0.5, 0.25, 0, 0]);
  });

  it("handles warmup == total like transformers (max(1, total - warmup))", () => {
    const w = linearWithWarmup(3, 3);
    assert.deepEqual([0, 1, 2, 3, 4].map(w), [0, 1 / 3, 2 / 3, 0, 0]);
  });
});

describe("cosineWithWarmup (get_cosine_schedule_with_warmup)", () => {
  const s = cosineWithWarmup(10, 110);

  it("ramps like the linear warmup and peaks at 1", () => {
    assert.equal(s(0), 0);
    near(s(5), 0.5, "mid warmup");
    assert.equal(s(10), 1);
  });

  it("follows 0.5 * (1 + cos(pi * progress)) to 0 at total", () => {
    near(s(35), 0.5 * (1 + Math.cos(Math.PI * 0.25)), "quarter"); // 0.853553...
    near(s(60), 0.5, "half way");
    near(s(110), 0, "total");
  });

  it("like transformers, does not clamp progress past total (the cosine rises again)", () => {
    // progress 1.5 -> 0.5 * (1 + cos(1.5 pi)) = 0.5
    near(s(160), 0.5, "progress 1.5");
  });

  it("honours numCycles (hard restarts are a different schedule; this is the plain cosine)", () => {
    const one = cosineWithWarmup(0, 100, 1);
    near(one(50), 0, "one full cycle: zero half way");
    near(one(100), 1, "and back to 1 at total");
  });
});

describe("schedule argument checks", () => {
  it("rejects negative or fractional steps and counts with one-line errors", () => {
    const s = linearWithWarmup(2, 10);
    assert.throws(
      () => s(-1),
      /^Error: schedule step must be an integer >= 0 \(completed optimizer steps\), got -1$/,
    );
    assert.throws(() => s(1.5), /got 1\.5$/);
    assert.throws(
      () => linearWithWarmup(-1, 10),
      /^Error: schedule warmupSteps must be an integer >= 0, got -1$/,
    );
    assert.throws(() => cosineWithWarmup(0, 2.5), /totalSteps must be an integer >= 0, got 2\.5/);
    assert.throws(() => cosineWithWarmup(0, 10, -1), /numCycles must be a finite number >= 0/);
  });
});
