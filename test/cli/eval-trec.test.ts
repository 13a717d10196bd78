import assert from "node:assert/strict";
import { spawnSync } from "node:child_process";
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, describe, it } from "node:test";

import { CommanderError } from "commander";

import { evalTrecCommand } from "../../src/cli/eval-trec.ts";
import { repoRoot } from "../helpers/shared.ts";

const dir = mkdtempSync(join(tmpdir(), "xlir-eval-trec-"));
after(() => rmSync(dir, { recursive: true, force: true }));
const file = (name: string, text: string) => {
  const path = join(dir, name);
  writeFileSync(path, text);
  return path;
};

// q1: relevant a (1) and c (2); the run ranks b, a, c (a and b tie at 2; b wins as the larger id).
//   map = (1/2 + 2/3) / 2 = 0.5833; recip_rank = 0.5; P_1 = 0, P_2 = 0.5
//   ndcg_cut_10 = (1/log2(3) + 2/2) / (2 + 1/log2(3)) = 1.63093 / 2.63093 = 0.6199
// q2: relevant x at rank 2: map 0.5, recip_rank 0.5, P_1 0, P_2 0.5, ndcg_cut_10 = 1/log2(3) = 0.6309
// q3 is judged but not in the run; q7 is in the run but not judged (ignored, noted on stderr).
const qrels = file("qrels.txt", "q1 0 a 1\nq1 0 b 0\nq1 0 c 2\nq2 0 x 1\nq3 0 y 1\n");
const run = file(
  "run.txt",
  "q1 Q0 a 1 2 sys\nq1 Q0 b 2 2 sys\nq1 Q0 c 3 1 sys\nq2 Q0 w 1 5 sys\nq2 Q0 x 2 4 sys\nq7 Q0 z 1 1 sys\n",
);

/** Run the command in this process, its stdout and stderr captured through commander's output hooks. */
async function inProcess(args: string[]) {
  let out = "";
  let err = "";
  const cmd = evalTrecCommand()
    .exitOverride()
    .configureOutput({ writeOut: (s) => (out += s), writeErr: (s) => (err += s) });
  try {
    await cmd.parseAsync(args, { from: "user" });
    return { out, err, code: 0 };
  } catch (e) {
    if (!(e instanceof CommanderError)) throw e;
    return { out, err, code: e.exitCode };
  }
}

describe("xlir eval trec (in process)", () => {
  it("prints trec_eval's text: -q per-query lines, then all; measures in trec_eval's order", async () => {
    const r = await inProcess([
      "--qrels",
      qrels,
      "--run",
      run,
      "-q",
      "-m",
      "ndcg_cut.10",
      "-m",
      "P.2,1",
      "-m",
      "map",
    ]);
    assert.equal(r.code, 0);
    assert.equal(
      r.out,
      [
        "map                   \tq1\t0.5833",
        "P_1                   \tq1\t0.0000",
        "P_2                   \tq1\t0.5000",
        "ndcg_cut_10           \tq1\t0.6199",
        "map                   \tq2\t0.5000",
        "P_1                   \tq2\t0.0000",
        "P_2                   \tq2\t0.5000",
        "ndcg_cut_10           \tq2\t0.6309",
        "map                   \tall\t0.5417", // (0.58333 + 0.5) / 2
        "P_1                   \tall\t0.0000",
        "P_2                   \tall\t0.5000",
        "ndcg_cut_10           \tall\t0.6254", // (0.61991 + 0.63093) / 2
        "",
      ].join("\n"),
    );
    // q3 is judged but not in the run: left out without -c (trec_eval 10.0 itself stops there).
    assert.equal(
      r.err,
      `xlir eval trec: ignored 1 run queries not in ${qrels}, as trec_eval does (first: q7)\n` +
        "xlir eval trec: left out 1 qrels queries missing from the run (first: q3); -c counts them as 0\n",
    );
  });

  it("takes trec_eval's spellings: -mP.2 -l2 -c -M1 -n and combined flags", async () => {
    // -c adds q3 (absent from the run: zeros, printed with -q as trec_eval 10.0 prints them) to the
    // average; -l2 leaves only c (rank 3 of q1) relevant. Under -c the num_rel summary is recounted
    // from the qrels as every judgment > 0, whatever -l: a, c, x, y = 4 (trec_eval 10.0 prints this).
    const r = await inProcess([
      "--qrels",
      qrels,
      "--run",
      run,
      "-cq",
      "-l2",
      "-mnum_q",
      "-mnum_rel",
      "-mrecip_rank",
    ]);
    assert.equal(
      r.out,
      [
        "num_rel               \tq1\t1",
        "recip_rank            \tq1\t0.3333",
        "num_rel               \tq2\t0",
        "recip_rank            \tq2\t0.0000",
        "num_rel               \tq3\t0",
        "recip_rank            \tq3\t0.0000",
        "num_q                 \tall\t3",
        "num_rel               \tall\t4",
        "recip_rank            \tall\t0.1111", // (1/3 + 0 + 0) / 3
        "",
      ].join("\n"),
    );
    // -M1 keeps rank 1 only, where neither query has a relevant document; -n drops the summary.
    const cut = await inProcess(["--qrels", qrels, "--run", run, "-M1", "-n", "-q", "-m", "recip_rank"]);
    assert.equal(cut.out, "recip_rank            \tq1\t0.0000\nrecip_rank            \tq2\t0.0000\n");
  });

  it("fails with a one-line error naming the file and line, exit code 1", async () => {
    const bad = file("bad.qrels", "q1 0 a 1\nq1 0 b\n");
    const r = await inProcess(["--qrels", bad, "--run", run]);
    assert.equal(r.code, 1);
    assert.equal(r.out, "");
    assert.equal(
      r.err,
      `xlir: ${bad}:2: expected 4 fields 'qid iter docid rel', found 3; a BEIR TSV needs its header line 'query-id<TAB>corpus-id<TAB>score'\n`,
    );
  });

  it("refuses an empty run, as trec_eval does", async () => {
    const empty = file("empty.run", "");
    const r = await inProcess(["--qrels", qrels, "--run", empty]);
    assert.equal(r.code, 1);
    assert.match(
      r.err,
      /^xlir: .*empty\.run has no results: it needs lines 'qid Q0 docid rank score tag'\n$/,
    );
  });

  it("refuses an unknown measure and a missing option", async () => {
    const r = await inProcess(["--qrels", qrels, "--run", run, "-m", "ndcg@10"]);
    assert.equal(r.code, 1);
    assert.match(r.err, /^xlir: unknown measure 'ndcg@10'; use one of /);
    const level = await inProcess(["--qrels", qrels, "--run", run, "-l", "high"]);
    assert.equal(level.code, 1);
    assert.match(level.err, /option '-l, --level <n>' argument 'high' is invalid\. give a whole number\./);
    const missing = await inProcess(["--run", run]);
    assert.equal(missing.code, 1);
    assert.match(missing.err, /required option '--qrels <file>' not specified/);
  });

  it("drops identical query and document ids with --ignore-identical-ids", async () => {
    const q = file("self.qrels", "q1 0 d1 1\n");
    const r = file("self.run", "q1 Q0 q1 1 9 s\nq1 Q0 d1 2 1 s\n");
    assert.equal(
      (await inProcess(["--qrels", q, "--run", r, "-m", "recip_rank"])).out,
      "recip_rank            \tall\t0.5000\n",
    );
    assert.equal(
      (await inProcess(["--qrels", q, "--run", r, "-m", "recip_rank", "--ignore-identical-ids"])).out,
      "recip_rank            \tall\t1.0000\n",
    );
  });
});

// The same command in a real child process, wired under `xlir eval` the way src/cli/main.ts wires
// it, so exit codes, stdout and stderr are the ones a shell sees.
const WIRING = [
  'import { Command } from "commander";',
  'import { evalTrecCommand } from "./src/cli/eval-trec.ts";',
  'await new Command("xlir").addCommand(new Command("eval").addCommand(evalTrecCommand())).parseAsync();',
].join("\n");
const xlir = (args: string[]) =>
  spawnSync(process.execPath, ["--import", "tsx", "--input-type=module", "-e", WIRING, "--", ...args], {
    cwd: repoRoot,
    encoding: "utf8",
  });

describe("xlir eval trec against trec_eval 10.0's own output", () => {
  // Expected outputs printed by trec_eval 10.0 itself (see test/eval/data/trec-eval-10/README.md).
  const data = join(repoRoot, "test", "eval", "data", "trec-eval-10");
  const cases: { name: string; qrels: string; run: string; flags: string[]; expected: string }[] = JSON.parse(
    readFileSync(join(data, "cases.json"), "utf8"),
  );

  it("has cases that cover per-query output, -c, -M and -l", () => {
    const flags = cases.map((c) => c.flags.join(" "));
    for (const f of ["-q -c", "-M 3", "-l 2", "-l 0 -M 5"])
      assert.ok(
        flags.some((x) => x.includes(f)),
        f,
      );
  });

  for (const c of cases)
    it(`${c.name} with ${c.flags.join(" ")}: line for line`, async () => {
      const r = await inProcess(["--qrels", join(data, c.qrels), "--run", join(data, c.run), ...c.flags]);
      assert.equal(r.code, 0, r.err);
      const expected = readFileSync(join(data, c.expected), "utf8");
      assert.deepEqual(r.out.split("\n"), expected.split("\n"));
    });

  it("ranks a repeated document as trec_eval does: allowed past -M, refused within it", async () => {
    // trec_eval 10.0: with -M 2 it prints num_ret 2 and P_2 0.5000; with -M 3 it stops on
    // "duplicate docs a".
    const q = file("dup.qrels", "q1 0 a 1\nq1 0 b 0\n");
    const r = file("dup.run", "q1 Q0 a 1 3 sys\nq1 Q0 b 2 2 sys\nq1 Q0 a 3 1 sys\n");
    const ok = await inProcess(["--qrels", q, "--run", r, "-M", "2", "-m", "num_ret", "-m", "P.2"]);
    assert.equal(ok.out, "num_ret               \tall\t2\nP_2                   \tall\t0.5000\n");
    const bad = await inProcess(["--qrels", q, "--run", r, "-M", "3", "-m", "num_ret"]);
    assert.equal(bad.code, 1);
    assert.equal(bad.out, "");
    assert.match(
      bad.err,
      /^xlir: .*dup\.run, query 'q1': document 'a' is listed twice within the evaluated ranking/,
    );
  });

  it("takes -l as trec_eval does (0 and negative too) and refuses a negative -M", async () => {
    const zero = await inProcess(["--qrels", qrels, "--run", run, "-l", "0", "-m", "num_rel"]);
    assert.equal(zero.out, "num_rel               \tall\t4\n"); // q1 a, b, c and q2 x
    const negative = await inProcess(["--qrels", qrels, "--run", run, "-l", "-1", "-m", "num_rel"]);
    assert.equal(negative.code, 0, negative.err);
    const m = await inProcess(["--qrels", qrels, "--run", run, "-M", "-1"]);
    assert.equal(m.code, 1);
    assert.match(
      m.err,
      /option '-M, --max-docs <n>' argument '-1' is invalid\. give a whole number 0 or more\./,
    );
    const half = await inProcess(["--qrels", qrels, "--run", run, "-l", "1.5"]);
    assert.equal(half.code, 1);
  });
});

describe("xlir eval trec (child process)", () => {
  it("writes trec_eval's summary to stdout and exits 0", () => {
    const r = xlir([
      "eval",
      "trec",
      "--qrels",
      qrels,
      "--run",
      run,
      "-m",
      "map",
      "-m",
      "num_q",
      "-m",
      "runid",
    ]);
    assert.equal(r.status, 0, r.stderr);
    assert.equal(
      r.stdout,
      "runid                 \tall\tsys\nnum_q                 \tall\t2\nmap                   \tall\t0.5417\n",
    );
    assert.match(r.stderr, /ignored 1 run queries/);
  });

  it("exits 1 with a one-line error on stderr and nothing on stdout", () => {
    const r = xlir(["eval", "trec", "--qrels", qrels, "--run", join(dir, "nope.run")]);
    assert.equal(r.status, 1);
    assert.equal(r.stdout, "");
    assert.match(r.stderr, /^xlir: cannot read run file .*nope\.run: ENOENT[^\n]*\n$/);
  });
});
