// Learning-rate schedules as pure functions of the step, returning a multiplier of the base lr,
// exactly as the lr_lambda functions of transformers' get_*_schedule_with_warmup.
//
// Step index: 0-based, with torch's LambdaLR semantics. `schedule(t)` is the multiplier used by the
// optimizer step that runs after `t` completed steps, i.e. after `scheduler.step()` has been called
// t times. So the very first update uses schedule(0), which is 0 under any warmup, as in
// transformers. In a loop: `lr = config.lr * schedule(state.step); adamwStep(..., lr)`.

/** step (0-based count of completed optimizer steps) -> multiplier of the base learning rate. */
export type Schedule = (step: number) => number;

/** get_constant_schedule: always 1. */
export function constantSchedule(): Schedule {
  return (step) => {
    checkStep(step);
    return 1;
  };
}

/** get_constant_schedule_with_warmup: step / warmup during warmup, then 1. */
export function constantWithWarmup(warmupSteps: number): Schedule {
  checkCount("warmupSteps", warmupSteps);
  return (step) => {
    checkStep(step);
    if (step < warmupSteps) return step / Math.max(1, warmupSteps);
    return 1;
  };
}

/**
 * get_linear_schedule_with_warmup: step / warmup during warmup, then linear decay reaching 0 at
 * `totalSteps` and staying 0 beyond it.
 */
export function linearWithWarmup(warmupSteps: number, totalSteps: number): Schedule {
  checkCount("warmupSteps", warmupSteps);
  checkCount("totalSteps", totalSteps);
  return (step) => {
    checkStep(step);
    if (step < warmupSteps) return step / Math.max(1, warmupSteps);
    return Math.max(0, (totalSteps - step) / Math.max(1, totalSteps - warmupSteps));
  };
}

/**
 * get_cosine_schedule_with_warmup: step / warmup during warmup, then
 * max(0, 0.5 * (1 + cos(pi * cycles * 2 * progress))), progress = (step - warmup) / (total - warmup).
 * With the default 0.5 cycles it falls from 1 to 0 at `totalSteps`. Like transformers, progress is
 * not clamped: past `totalSteps` the cosine rises again (don't step past the total you gave).
 */
export function cosineWithWarmup(warmupSteps: number, totalSteps: number, numCycles = 0.5): Schedule {
  checkCount("warmupSteps", warmupSteps);
  checkCount("totalSteps", totalSteps);
  if (!(Number.isFinite(numCycles) && numCycles >= 0)) {
    throw new Error(`cosine schedule numCycles must be a finite number >= 0, got ${numCycles}`);
  }
  return (step) => {
    checkStep(step);
    if (step < warmupSteps) return step / Math.max(1, warmupSteps);
    const progress = (step - warmupSteps) / Math.max(1, totalSteps - warmupSteps);
    return Math.max(0, 0.5 * (1 + Math.cos(Math.PI * numCycles * 2 * progress)));
  };
}

function checkCount(what: string, n: number): void {
  if (!(Number.isInteger(n) && n >= 0)) throw new Error(`schedule ${what} must be an integer >= 0, got ${n}`);
}

function checkStep(step: number): void {
  if (!(Number.isInteger(step) && step >= 0)) {
    throw new Error(`schedule step must be an integer >= 0 (completed optimizer steps), got ${step}`);
  }
}
