// Named flat tensors: the plain data the optimizer, the clipper and the accumulator share.
// A model's trainable parameters, their gradients and the optimizer's moments all have this shape,
// so one layout check here gives every caller the same one-line error.

/** name -> flat row-major data. Shapes live with the model; the optimizer only needs lengths. */
export type NamedArrays = Record<string, Float32Array>;

/**
 * Throws unless `actual` has exactly the names of `expected`, each with the same length.
 * `what` names the role of `actual` in the message ("gradient", "exp_avg", ...).
 */
export function assertSameLayout(expected: NamedArrays, actual: NamedArrays, what: string): void {
  for (const [name, a] of Object.entries(actual)) {
    const e = expected[name];
    if (e === undefined) {
      throw new Error(
        `${what} "${name}" has no matching parameter (parameters: ${listNames(expected)}); ` +
          `pass ${what}s only for the trainable parameters`,
      );
    }
    if (a.length !== e.length) {
      throw new Error(
        `${what} for parameter "${name}" has length ${a.length} but the parameter has length ${e.length}`,
      );
    }
  }
  for (const [name, e] of Object.entries(expected)) {
    if (actual[name] === undefined) {
      throw new Error(`parameter "${name}" (length ${e.length}) has no ${what}; every parameter needs one`);
    }
  }
}

/** Fresh zero buffers with the names and lengths of `like`. */
export function zerosLike(like: NamedArrays): NamedArrays {
  const out: NamedArrays = {};
  for (const [name, a] of Object.entries(like)) out[name] = new Float32Array(a.length);
  return out;
}

/** Deep copy, so a snapshot never aliases live buffers. */
export function cloneArrays(src: NamedArrays): NamedArrays {
  const out: NamedArrays = {};
  for (const [name, a] of Object.entries(src)) out[name] = a.slice();
  return out;
}

// Long parameter lists (a BERT has ~200) would make the message unreadable; show the first few.
function listNames(arrays: NamedArrays): string {
  const names = Object.keys(arrays);
  if (names.length === 0) return "none";
  const shown = names.slice(0, 5).join(", ");
  return names.length > 5 ? `${shown}, ... ${names.length - 5} more` : shown;
}
