import assert from "node:assert/strict";
import { mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, describe, it } from "node:test";

import { formatQrels, parseQrels, readQrels, writeQrels } from "../../src/eval/qrels.ts";
import { dropIdenticalIds, formatRun, parseRun, readRun, writeRun } from "../../src/eval/trec-run.ts";

const dir = mkdtempSync(join(tmpdir(), "xlir-trec-"));
after(() => rmSync(dir, { recursive: true, force: true }));
const plain = (m: Map<string, Map<string, number>>) =>
  Object.fromEntries([...m].map(([q, d]) => [q, Object.fromEntries(d)]));

describe("run files", () => {
  it("reads qid Q0 docid rank score tag; ignores iter, rank, extra fields, blanks and comments", () => {
    const { run, tag } = parseRun(
      [
        "# a comment",
        "q1 Q0 d1 7 0.25 runA",
        "",
        "  q1\tQ0  d2 1 1e-3 runA extra fields",
        "q2 x d1 1 -2 runB\r",
      ].join("\n"),
    );
    assert.deepEqual(plain(run), { q1: { d1: 0.25, d2: 0.001 }, q2: { d1: -2 } });
    assert.equal(tag, "runB");
  });

  it("names the file and line of a malformed line and says what is wrong", () => {
    assert.throws(() => parseRun("q1 Q0 d1 1 0.5 t\nq1 Q0 d2 2 0.4", "my.run"), {
      message: "my.run:2: expected 6 fields 'qid Q0 docid rank score tag', found 5",
    });
    assert.throws(
      () => parseRun("q1 Q0 d1 1 high t", "my.run"),
      /^Error: my\.run:1: score 'high' is not a number/,
    );
    assert.throws(
      () => parseRun("q1 Q0 d1 1 1 t\nq2 Q0 d1 1 1 t\nq1 Q0 d1 2 0.5 t", "my.run"),
      /^Error: my\.run:3: document 'd1' is listed twice for query 'q1'/,
    );
  });

  it("keeps a repeated document aside when asked, for trec_eval's own duplicate rule", () => {
    const { run, duplicates } = parseRun("q1 Q0 d1 1 1 t\nq1 Q0 d2 2 0.5 t\nq1 Q0 d1 3 0.1 t", "my.run", {
      keepDuplicates: true,
    });
    assert.deepEqual(
      run,
      new Map([
        [
          "q1",
          new Map([
            ["d1", 1],
            ["d2", 0.5],
          ]),
        ],
      ]),
    );
    assert.deepEqual(duplicates, new Map([["q1", [["d1", 0.1]]]]));
  });

  it("drops documents whose id is the query id when asked (BEIR's ignore_identical_ids)", () => {
    const text = "q1 Q0 q1 1 9 t\nq1 Q0 d1 2 1 t\nd1 Q0 q1 1 1 t\nq2 Q0 q2 1 1 t";
    // q2 retrieved only itself, so it leaves the run altogether.
    assert.deepEqual(plain(parseRun(text, "r", { dropIdenticalIds: true }).run), {
      q1: { d1: 1 },
      d1: { q1: 1 },
    });
    const { run } = parseRun(text);
    assert.deepEqual(plain(dropIdenticalIds(run)), { q1: { d1: 1 }, d1: { q1: 1 } });
    assert.equal(run.get("q1")!.size, 2, "dropIdenticalIds does not touch its input");
  });

  it("writes trec_eval's order with ranks 1..n, cut at depth, scores that read back exactly", () => {
    const run = new Map([
      [
        "q1",
        new Map([
          ["a", 0.1 + 0.2],
          ["c", 1],
          ["b", 1],
          ["d", 1e-7],
        ]),
      ],
    ]);
    assert.equal(
      formatRun(run, "mine"),
      "q1 Q0 c 1 1 mine\nq1 Q0 b 2 1 mine\nq1 Q0 a 3 0.30000000000000004 mine\nq1 Q0 d 4 1e-7 mine\n",
    );
    assert.equal(formatRun(run, "mine", 2), "q1 Q0 c 1 1 mine\nq1 Q0 b 2 1 mine\n");
    const path = join(dir, "out.run");
    writeRun(path, run, "mine");
    assert.deepEqual(readRun(path), { run, tag: "mine", duplicates: new Map() });
    assert.deepEqual(
      readdirSync(dir).filter((f) => f.includes(".tmp-")),
      [],
      "no temporary file left behind",
    );
  });

  it("names the path it cannot write", () => {
    const run = new Map([["q1", new Map([["a", 1]])]]);
    assert.throws(
      () => writeRun(join(dir, "no-such-dir", "x.run"), run),
      /^Error: cannot write .*no-such-dir.x\.run: ENOENT/,
    );
  });

  it("refuses to write an id that would corrupt the file", () => {
    const run = new Map([["q 1", new Map([["a", 1]])]]);
    assert.throws(() => formatRun(run), /query id 'q 1' is empty or contains whitespace/);
  });

  it("names the path of a file it cannot read", () => {
    assert.throws(() => readRun(join(dir, "missing.run")), /cannot read run file .*missing\.run: ENOENT/);
  });
});

describe("qrels", () => {
  it("reads TREC qrels: qid iter docid rel, negative values kept", () => {
    const q = parseQrels("# judged\n1 0 a 1\n1 0 b 0\n\n2 Q0 c 2\n2 0 d -1\n");
    assert.deepEqual(plain(q), { "1": { a: 1, b: 0 }, "2": { c: 2, d: -1 } });
  });

  it("names the file and line of a malformed qrels line", () => {
    assert.throws(() => parseQrels("1 0 a 1\n1 0 b\n", "my.qrels"), {
      message:
        "my.qrels:2: expected 4 fields 'qid iter docid rel', found 3; a BEIR TSV needs its header line 'query-id<TAB>corpus-id<TAB>score'",
    });
    assert.throws(() => parseQrels("1 0 a 1 extra", "my.qrels"), /^Error: my\.qrels:1: expected 4 fields/);
    assert.throws(
      () => parseQrels("1 0 a 1\n1 0 b 0.5", "my.qrels"),
      /^Error: my\.qrels:2: relevance '0\.5' is not a whole number/,
    );
    assert.throws(
      () => parseQrels("1 0 a 1\n1 0 a 2", "my.qrels"),
      /^Error: my\.qrels:2: document 'a' is judged twice for query '1'/,
    );
    assert.throws(() => parseQrels("1 0 a 99999999", "my.qrels"), /out of range/);
  });

  it("reads BEIR's qrels TSV by its header, ids split on tabs only", () => {
    const q = parseQrels("query-id\tcorpus-id\tscore\nq1\tdoc 1\t1\r\nq1\td2\t0\nq2\td3\t2\n");
    assert.deepEqual(plain(q), { q1: { "doc 1": 1, d2: 0 }, q2: { d3: 2 } });
    assert.throws(
      () => parseQrels("query-id\tcorpus-id\tscore\nq1\td1\n", "test.tsv"),
      /^Error: test\.tsv:2: expected 3 tab-separated fields/,
    );
    // A header written with spaces and space-separated rows still reads.
    assert.deepEqual(plain(parseQrels("query-id corpus-id score\nq1 d1 1")), { q1: { d1: 1 } });
  });

  it("writes TREC and BEIR formats that read back to the same map", () => {
    const q = parseQrels("1 0 a 1\n1 0 b 0\n2 0 c 2\n");
    assert.equal(formatQrels(q), "1 0 a 1\n1 0 b 0\n2 0 c 2\n");
    assert.equal(formatQrels(q, "beir"), "query-id\tcorpus-id\tscore\n1\ta\t1\n1\tb\t0\n2\tc\t2\n");
    for (const format of ["trec", "beir"] as const) {
      const path = join(dir, `out.${format}`);
      writeQrels(path, q, format);
      assert.deepEqual(readQrels(path), q);
    }
    assert.equal(readFileSync(join(dir, "out.beir"), "utf8").split("\n")[0], "query-id\tcorpus-id\tscore");
  });

  it("names the path of a file it cannot read", () => {
    writeFileSync(join(dir, "bad.qrels"), "1 0 a one\n");
    assert.throws(
      () => readQrels(join(dir, "bad.qrels")),
      /bad\.qrels:1: relevance 'one' is not a whole number/,
    );
    assert.throws(() => readQrels(join(dir, "none.qrels")), /cannot read qrels file .*none\.qrels/);
  });
});
