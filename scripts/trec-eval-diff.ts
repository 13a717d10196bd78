// Differential check of `xlir eval trec` against a trec_eval binary: random qrels and runs (graded
// and negative judgments, tied scores, truncated runs, topics missing from either file, repeated
// documents), evaluated with -m all_trec under combinations of -q, -c, -M and -l; stdout compared
// line for line and exit status compared (both fail, or both succeed).
//
//   node --import tsx scripts/trec-eval-diff.ts --trec-eval PATH [--cases N] [--seed S] [--keep DIR]
//   node --import tsx scripts/trec-eval-diff.ts --trec-eval PATH --write-fixtures DIR [--seed S]
//
// --keep DIR saves the first failing case (qrels, run, flags, both outputs); --write-fixtures DIR
// writes a few small cases with the binary's output for each flag set (test/eval/data/trec-eval-10).
//
// One rule is adapted on purpose: without -c, trec_eval 10.0 stops ("result qid ... not found")
// at a qrels topic missing from the run, where 9.x and its own help skip the topic; xlir skips it,
// so such cases are compared against the binary run on the qrels of the run's topics only.
import { spawnSync } from "node:child_process";
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";

import { CommanderError } from "commander";

import { evalTrecCommand } from "../src/cli/eval-trec.ts";

interface Case {
  qrels: string;
  run: string;
  /** trec_eval's flags, which `xlir eval trec` takes as they are. */
  flags: string[];
  /** Qrels with only the run's topics: what the binary gets without -c (see above). */
  qrelsInRun: string;
}

/** mulberry32: a small seeded generator, so a failing case can be rerun from its seed. */
function rng(seed: number) {
  let a = seed >>> 0;
  const next = () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
  const int = (lo: number, hi: number) => lo + Math.floor(next() * (hi - lo + 1));
  const pick = <T>(xs: readonly T[]): T => xs[Math.floor(next() * xs.length)];
  return { next, int, pick, chance: (p: number) => next() < p };
}
type Rng = ReturnType<typeof rng>;

const PARAMETERISED = [
  "P.1,7,25",
  "recall.3,50",
  "relstring.4",
  "set_F.0.5",
  "utility.2,-1,1,0.5",
  "11pt_avg.0.5,0.2,0.9",
  "iprec_at_recall.0.25,0.75,0.33",
  "Rprec_mult.0.5,1.5,3",
  "success.2,3",
  "unj.1,3",
  "ndcg_cut.1,3",
  "map_cut.2,7",
  "relative_P.2,9",
];

const TOPIC_IDS = ["1", "2", "3", "10", "11", "301", "q1", "q2", "Q7", "a-b", "t_9"];

function shuffle<T>(r: Rng, xs: T[]): T[] {
  for (let i = xs.length - 1; i > 0; i--) {
    const k = r.int(0, i);
    [xs[i], xs[k]] = [xs[k], xs[i]];
  }
  return xs;
}

/** One random case. Every qrels topic holds a judgment >= 0 and its highest value is at least
 *  -l minus 1: beyond that trec_eval reads memory it never wrote (its rel_levels array). */
function makeCase(r: Rng, small = false): Case {
  const topics = shuffle(r, [...TOPIC_IDS]).slice(0, r.int(1, small ? 3 : 6));
  const maxRel = r.pick([1, 1, 2, 3, 4, 12]);
  const qrelsLines: string[] = [];
  const runLines: string[] = [];
  const tag = r.pick(["runA", "sys_1", "bm25"]);
  const runTopics: string[] = [];
  const maxByTopic: number[] = [];
  for (const t of topics) {
    const deep = !small && r.chance(0.1); // deep enough to cross the cutoffs 100 and 200
    const poolSize = r.int(1, small ? 12 : deep ? 250 : 40);
    const docs = Array.from({ length: poolSize }, (_, i) => `${r.pick(["d", "D", "doc", "x"])}${i}`);
    const judged = shuffle(r, [...docs]).slice(0, r.int(1, poolSize));
    let max = -1;
    const values = judged.map(() => {
      const v = r.chance(0.1) ? -1 : r.chance(0.45) ? 0 : r.int(1, maxRel);
      return v;
    });
    if (!values.some((v) => v >= 0)) values[0] = r.int(0, maxRel);
    values.forEach((v, i) => {
      max = Math.max(max, v);
      qrelsLines.push(`${t} ${r.pick(["0", "Q0", "1"])} ${judged[i]} ${v}`);
    });
    maxByTopic.push(max);
    if (r.chance(0.15)) continue; // topic missing from the run
    runTopics.push(t);
    // Retrieved: some judged documents, some never judged; depth truncated at random.
    const unjudged = Array.from({ length: r.int(0, small ? 5 : deep ? 200 : 20) }, (_, i) => `u${i}`);
    const ranked = shuffle(r, [...docs, ...unjudged]).slice(0, r.int(1, docs.length + unjudged.length));
    const tied = r.chance(0.5);
    for (const d of ranked) {
      const score = tied ? r.int(0, 4) : (r.next() * 1000 - 200).toFixed(3);
      runLines.push(`${t} Q0 ${d} 0 ${score} ${tag}`);
    }
    // A repeated document at the bottom: fine for trec_eval when -M cuts it off.
    if (r.chance(0.03)) runLines.push(`${t} Q0 ${ranked[0]} 0 -1000 ${tag}`);
  }
  if (r.chance(0.3)) runLines.push(`zz9 Q0 d0 0 1 ${tag}`); // a topic only the run has
  if (runTopics.length === 0) {
    runLines.push(`${topics[0]} Q0 d0 0 1 ${tag}`);
    runTopics.push(topics[0]);
  }
  if (r.chance(0.2)) runLines.splice(r.int(0, runLines.length), 0, "# a comment line");
  shuffle(r, runLines);
  const lowest = Math.min(...maxByTopic);
  const flags = ["-m", "all_trec"];
  if (r.chance(0.15)) flags.push("-m", "dcg", "-m", "ideal_dcg");
  // Measures with parameters other than the defaults (the first -m of a measure wins, as all_trec
  // gives none).
  if (r.chance(0.3)) for (let k = r.int(1, 3); k > 0; k--) flags.unshift("-m", r.pick(PARAMETERISED));
  if (r.chance(0.6)) flags.push("-q");
  if (r.chance(0.5)) flags.push("-c");
  if (r.chance(0.35)) flags.push("-M", String(r.pick([0, 1, 2, 3, 5, 8, 15, 150])));
  if (r.chance(0.35)) {
    const level = r.pick([-1, 0, 0, 2, 2, 3]);
    if (level <= lowest + 1) flags.push("-l", String(level));
  }
  if (r.chance(0.1)) flags.push("-n");
  const inRun = new Set(runTopics);
  return {
    qrels: qrelsLines.join("\n") + "\n",
    run: runLines.join("\n") + "\n",
    flags,
    qrelsInRun: qrelsLines.filter((l) => inRun.has(l.split(" ")[0])).join("\n") + "\n",
  };
}

interface Output {
  out: string;
  ok: boolean;
  err: string;
}

function runBinary(binary: string, dir: string, c: Case): Output {
  const complete = c.flags.includes("-c");
  const qrels = join(dir, "qrels.bin");
  writeFileSync(qrels, complete ? c.qrels : c.qrelsInRun);
  const run = join(dir, "run.txt");
  writeFileSync(run, c.run);
  const r = spawnSync(binary, [...c.flags, qrels, run], { encoding: "utf8" });
  return { out: r.stdout, ok: r.status === 0, err: r.stderr };
}

async function runXlir(dir: string, c: Case): Promise<Output> {
  const qrels = join(dir, "qrels.txt");
  writeFileSync(qrels, c.qrels);
  const run = join(dir, "run.txt");
  writeFileSync(run, c.run);
  let out = "";
  let err = "";
  const cmd = evalTrecCommand()
    .exitOverride()
    .configureOutput({ writeOut: (s) => (out += s), writeErr: (s) => (err += s) });
  try {
    await cmd.parseAsync(["--qrels", qrels, "--run", run, ...c.flags], { from: "user" });
    return { out, ok: true, err };
  } catch (e) {
    if (!(e instanceof CommanderError)) throw e;
    return { out, ok: false, err };
  }
}

/** The first differing lines, or undefined when the outputs agree. */
function firstDifference(a: Output, b: Output): string | undefined {
  if (a.ok !== b.ok)
    return `trec_eval ${a.ok ? "succeeded" : `failed (${a.err.trim()})`}, xlir ${b.ok ? "succeeded" : `failed (${b.err.trim()})`}`;
  if (!a.ok) return undefined;
  const x = a.out.split("\n");
  const y = b.out.split("\n");
  for (let i = 0; i < Math.max(x.length, y.length); i++)
    if (x[i] !== y[i])
      return `line ${i + 1}:\n  trec_eval: ${JSON.stringify(x[i])}\n  xlir:      ${JSON.stringify(y[i])}`;
  return undefined;
}

function arg(name: string): string | undefined {
  const i = process.argv.indexOf(name);
  return i >= 0 ? process.argv[i + 1] : undefined;
}

/** Small cases with the binary's own output under several flag sets, for the committed test. */
function writeFixtures(binary: string, out: string, seed: number): void {
  const sets = [
    ["-m", "all_trec"],
    ["-q", "-c", "-m", "all_trec"],
    ["-q", "-c", "-M", "3", "-m", "all_trec"],
    ["-q", "-c", "-l", "2", "-m", "all_trec"],
    ["-c", "-l", "0", "-M", "5", "-m", "all_trec"],
  ];
  const r = rng(seed);
  const tmp = mkdtempSync(join(tmpdir(), "trec-eval-fixtures-"));
  mkdirSync(out, { recursive: true });
  const index: { name: string; qrels: string; run: string; flags: string[]; expected: string }[] = [];
  for (let n = 1; n <= 3; n++) {
    let c = makeCase(r, true);
    // Keep cases every flag set can run (a relevant judgment in every topic, for -l 2; no repeated
    // document, so -M never decides between success and failure) and that show what -c, graded
    // and unjudged documents do: a topic missing from the run, two in it with a dozen lines in all,
    // a value of 2 or more, a -1.
    while (!fixtureFriendly(c)) c = makeCase(r, true);
    const name = `case${n}`;
    writeFileSync(join(out, `${name}.qrels`), c.qrels);
    writeFileSync(join(out, `${name}.run`), c.run);
    sets.forEach((flags, s) => {
      const o = runBinary(binary, tmp, { ...c, flags });
      if (!o.ok) throw new Error(`trec_eval failed on ${name} ${flags.join(" ")}: ${o.err}`);
      const expected = `${name}.${s + 1}.out`;
      writeFileSync(join(out, expected), o.out);
      index.push({ name, qrels: `${name}.qrels`, run: `${name}.run`, flags, expected });
    });
  }
  writeFileSync(join(out, "cases.json"), JSON.stringify(index, null, 1) + "\n");
  rmSync(tmp, { recursive: true, force: true });
  console.log(`wrote ${index.length} expected outputs for 3 cases to ${out}`);
}

function fixtureFriendly(c: Case): boolean {
  const byTopic = new Map<string, number>();
  for (const line of c.qrels.trim().split("\n")) {
    const [t, , , v] = line.split(" ");
    byTopic.set(t, Math.max(byTopic.get(t) ?? -1, Number(v)));
  }
  const keys = c.run
    .split("\n")
    .filter((l) => l && !l.startsWith("#"))
    .map((l) => l.split(" ").slice(0, 3).join(" "));
  const runTopics = new Set(keys.map((k) => k.split(" ")[0]));
  const values = c.qrels
    .trim()
    .split("\n")
    .map((l) => Number(l.split(" ")[3]));
  return (
    [...byTopic.values()].every((m) => m >= 1) &&
    new Set(keys).size === keys.length &&
    byTopic.size <= 3 &&
    [...byTopic.keys()].some((t) => !runTopics.has(t)) &&
    [...byTopic.keys()].filter((t) => runTopics.has(t)).length >= 2 &&
    keys.length >= 12 &&
    values.some((v) => v >= 2) &&
    values.includes(-1)
  );
}

async function main() {
  const binary = arg("--trec-eval");
  if (!binary) throw new Error("give the trec_eval binary: --trec-eval /path/to/trec_eval");
  const seed = Number(arg("--seed") ?? 1);
  const fixtures = arg("--write-fixtures");
  if (fixtures) return writeFixtures(binary, fixtures, seed);
  const cases = Number(arg("--cases") ?? 300);
  const keep = arg("--keep");
  const r = rng(seed);
  const dir = mkdtempSync(join(tmpdir(), "trec-eval-diff-"));
  let agreed = 0;
  let bothFailed = 0;
  let lines = 0;
  try {
    for (let n = 0; n < cases; n++) {
      const c = makeCase(r);
      const a = runBinary(binary, dir, c);
      const b = await runXlir(dir, c);
      const diff = firstDifference(a, b);
      if (diff) {
        console.log(`case ${n + 1} (seed ${seed}) differs with ${c.flags.join(" ")}: ${diff}`);
        if (keep) {
          mkdirSync(keep, { recursive: true });
          writeFileSync(join(keep, "qrels"), c.qrels);
          writeFileSync(join(keep, "qrels.in-run"), c.qrelsInRun);
          writeFileSync(join(keep, "run"), c.run);
          writeFileSync(join(keep, "flags"), c.flags.join(" ") + "\n");
          writeFileSync(join(keep, "trec_eval.out"), a.out);
          writeFileSync(join(keep, "xlir.out"), b.out);
          console.log(`case saved in ${keep}`);
        }
        process.exitCode = 1;
        break;
      }
      agreed++;
      if (!a.ok) bothFailed++;
      if (!a.ok && process.env.TREC_EVAL_DIFF_VERBOSE)
        console.log(`both fail: ${a.err.trim()} / ${b.err.trim()}`);
      lines += a.out.split("\n").length - 1;
    }
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
  console.log(
    `${agreed} of ${cases} cases agree: ${lines} lines identical; ${bothFailed} cases fail in both`,
  );
}

await main();
