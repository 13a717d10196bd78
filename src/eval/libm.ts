// exp, log and log2 rounded as glibc rounds them (correctly, to the nearest double), for the
// measures that must print what trec_eval prints. V8's Math.exp and Math.log2 are 1 ulp off for
// some inputs (Math.exp(Math.log(0.21875)) is 0.21875, glibc's exp gives 0.21874999999999997, so
// gm_bpref printed 0.2188 where trec_eval prints 0.2187; Math.log2(1375) is 1 ulp above glibc's).
// Each result is computed in double-double arithmetic (about 106 bits) and then rounded once.

/** A double-double: the unevaluated sum hi + lo, |lo| <= ulp(hi) / 2. */
interface DD {
  hi: number;
  lo: number;
}

const SPLIT = 134217729; // 2^27 + 1, Dekker's splitter

function twoSum(a: number, b: number): DD {
  const s = a + b;
  const bb = s - a;
  return { hi: s, lo: a - (s - bb) + (b - bb) };
}

function quickTwoSum(a: number, b: number): DD {
  const s = a + b;
  return { hi: s, lo: b - (s - a) };
}

function twoProd(a: number, b: number): DD {
  const p = a * b;
  let t = SPLIT * a;
  const ah = t - (t - a);
  const al = a - ah;
  t = SPLIT * b;
  const bh = t - (t - b);
  const bl = b - bh;
  return { hi: p, lo: ah * bh - p + ah * bl + al * bh + al * bl };
}

function add(a: DD, b: DD): DD {
  const s = twoSum(a.hi, b.hi);
  return quickTwoSum(s.hi, s.lo + a.lo + b.lo);
}

function mul(a: DD, b: DD): DD {
  const p = twoProd(a.hi, b.hi);
  return quickTwoSum(p.hi, p.lo + a.hi * b.lo + a.lo * b.hi);
}

function divByInt(a: DD, n: number): DD {
  const q = a.hi / n;
  const p = twoProd(q, n);
  return quickTwoSum(q, (a.hi - p.hi - p.lo + a.lo) / n);
}

const LN2: DD = { hi: 0.6931471805599453, lo: 2.3190468138462996e-17 };
const INV_LN2: DD = { hi: 1.4426950408889634, lo: 2.0355273740931033e-17 };

/** e^x as a double-double, for finite x in double's range. */
function expDD(x: number): DD {
  // x = k ln2 + r with |r| <= ln2 / 2; e^r by its Taylor series (24 terms: the remainder is below
  // 1e-33 there), then scaled by 2^k exactly.
  const k = Math.round(x / LN2.hi);
  const r = add({ hi: x, lo: 0 }, mul({ hi: -k, lo: 0 }, LN2));
  let t: DD = { hi: 1, lo: 0 };
  for (let n = 24; n >= 1; n--) t = add({ hi: 1, lo: 0 }, divByInt(mul(r, t), n));
  const scale = 2 ** k;
  return { hi: t.hi * scale, lo: t.lo * scale };
}

/** ln x as a double-double, for finite x > 0: one Newton step on e^y = x from Math.log. */
function logDD(x: number): DD {
  const y = Math.log(x);
  const e = expDD(y);
  const d = add({ hi: x, lo: 0 }, { hi: -e.hi, lo: -e.lo });
  return twoSum(y, d.hi / e.hi);
}

/** glibc's exp(x). */
export function exp(x: number): number {
  if (!Number.isFinite(x) || x > 709 || x < -708) return Math.exp(x);
  const r = expDD(x);
  return r.hi + r.lo;
}

/** glibc's log(x). */
export function log(x: number): number {
  if (!(x > 0) || !Number.isFinite(x) || x < 2 ** -1000) return Math.log(x);
  const r = logDD(x);
  return r.hi + r.lo;
}

/** log2 of the small whole numbers (ranks), computed once: the measures call it per rank. */
const INT_LOG2 = new Float64Array(1 << 16);

/** glibc's log2(x): exact for powers of two, correctly rounded otherwise. */
export function log2(x: number): number {
  if (!(x > 0) || !Number.isFinite(x) || x < 2 ** -1000) return Math.log2(x);
  if (Number.isInteger(x) && x < INT_LOG2.length) return INT_LOG2[x] || (INT_LOG2[x] = log2Rounded(x));
  return log2Rounded(x);
}

function log2Rounded(x: number): number {
  const exact = Math.log2(x);
  if (Number.isInteger(exact) && 2 ** exact === x) return exact;
  const r = mul(logDD(x), INV_LN2);
  return r.hi + r.lo;
}
