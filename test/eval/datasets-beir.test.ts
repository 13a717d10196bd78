// BEIR folders on a tiny dataset written here: the task it loads, gzipped JSONL, and every error
// a malformed file can cause (each naming file and line).
import assert from "node:assert/strict";
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, describe, test } from "node:test";
import { gzipSync } from "node:zlib";
import { listBeirSplits, loadBeir, readBeirQrels } from "../../src/eval/datasets/beir.ts";

const tmp = mkdtempSync(join(tmpdir(), "xlir-beir-"));
after(() => rmSync(tmp, { recursive: true, force: true }));

const jsonl = (rows: object[]) => rows.map((r) => JSON.stringify(r)).join("\n") + "\n";
const CORPUS = jsonl([
  { _id: "d1", title: "Delhi", text: "Delhi is the capital of India.", metadata: {} },
  { _id: "d2", title: "", text: "Paris is the capital of France." },
  { _id: 3, text: "A document with a numeric id and no title." },
]);
const QUERIES = jsonl([
  { _id: "q1", text: "capital of India" },
  { _id: "q2", text: "capital of France" },
  { _id: "q3", text: "a query judged only in dev" },
]);
const TEST_QRELS = "query-id\tcorpus-id\tscore\nq1\td1\t2\nq1\td2\t0\r\nq2\td2\t1\n";

let n = 0;
/** A fresh BEIR folder with the given files (defaults: the tiny dataset above). */
function beir(files: Record<string, string | Buffer> = {}): string {
  const dir = join(tmp, `ds${n++}`);
  mkdirSync(join(dir, "qrels"), { recursive: true });
  const all = {
    "corpus.jsonl": CORPUS,
    "queries.jsonl": QUERIES,
    "qrels/test.tsv": TEST_QRELS,
    "qrels/dev.tsv": "query-id\tcorpus-id\tscore\nq3\td3\t1\n",
    ...files,
  };
  for (const [name, body] of Object.entries(all)) if (body !== "") writeFileSync(join(dir, name), body);
  return dir;
}

describe("BEIR folders", () => {
  test("loads corpus, the judged queries of the split, and graded qrels", async () => {
    const dir = beir();
    const t = await loadBeir(dir);
    assert.deepEqual(t.corpus, [
      { id: "d1", title: "Delhi", text: "Delhi is the capital of India." },
      { id: "d2", text: "Paris is the capital of France." },
      { id: "3", text: "A document with a numeric id and no title." },
    ]);
    assert.deepEqual(t.queries, [
      { id: "q1", text: "capital of India" },
      { id: "q2", text: "capital of France" },
    ]);
    assert.deepEqual(
      t.qrels,
      new Map([
        [
          "q1",
          new Map([
            ["d1", 2],
            ["d2", 0],
          ]),
        ],
        ["q2", new Map([["d2", 1]])],
      ]),
    );
    assert.deepEqual(listBeirSplits(dir), ["dev", "test"]);
  });

  test("another split, a language stamp, gzipped JSONL", async () => {
    const dir = beir({ "corpus.jsonl": "", "corpus.jsonl.gz": gzipSync(CORPUS) });
    const t = await loadBeir(dir, { split: "dev", lang: "hin_Deva" });
    assert.deepEqual(t.queries, [{ id: "q3", text: "a query judged only in dev", lang: "hin_Deva" }]);
    assert.equal(t.corpus.length, 3);
    assert.ok(t.corpus.every((d) => d.lang === "hin_Deva"));
  });

  test("a qrels file without a header keeps its first judgment", async () => {
    const dir = beir({ "qrels/test.tsv": "q1\td1\t1\n" });
    assert.deepEqual(
      await readBeirQrels(join(dir, "qrels", "test.tsv")),
      new Map([["q1", new Map([["d1", 1]])]]),
    );
  });
});

describe("BEIR errors", () => {
  test("a malformed JSONL line names file and line", async () => {
    const dir = beir({ "corpus.jsonl": CORPUS.replace('"d2"', "d2") });
    await assert.rejects(loadBeir(dir), /corpus\.jsonl:2: invalid JSON \(.*\); fix or remove the line/);
  });

  test("records without _id or text, and duplicate ids, name file and line", async () => {
    await assert.rejects(
      loadBeir(beir({ "queries.jsonl": QUERIES + '{"text": "x"}\n' })),
      /queries\.jsonl:4: no string "_id"/,
    );
    await assert.rejects(
      loadBeir(beir({ "corpus.jsonl": CORPUS + '{"_id": "d9"}\n' })),
      /corpus\.jsonl:4: no string "text"/,
    );
    await assert.rejects(
      loadBeir(beir({ "corpus.jsonl": CORPUS + jsonl([{ _id: "d1", text: "again" }]) })),
      /corpus\.jsonl:4: "_id" "d1" already used on line 1/,
    );
    await assert.rejects(
      loadBeir(beir({ "corpus.jsonl": "[1, 2]\n" })),
      /corpus\.jsonl:1: expected a JSON object/,
    );
  });

  test("malformed qrels lines name file and line", async () => {
    await assert.rejects(
      loadBeir(beir({ "qrels/test.tsv": TEST_QRELS + "q2 d1 1\n" })),
      /qrels[\\/]test\.tsv:5: expected "query-id<TAB>corpus-id<TAB>score"/,
    );
    await assert.rejects(
      loadBeir(beir({ "qrels/test.tsv": TEST_QRELS + "q2\td1\thigh\n" })),
      /test\.tsv:5: score "high" is not an integer/,
    );
  });

  test("a judged query missing from queries.jsonl is an error", async () =>
    assert.rejects(
      loadBeir(beir({ "qrels/test.tsv": TEST_QRELS + "q9\td1\t1\n" })),
      /test\.tsv: query "q9" is judged but not in queries\.jsonl/,
    ));

  test("missing folder, split and files are named", async () => {
    await assert.rejects(loadBeir(join(tmp, "nope")), /nope: no such folder; pass a BEIR dataset folder/);
    await assert.rejects(
      loadBeir(beir(), { split: "train" }),
      /train\.tsv: no such qrels file; splits there: dev, test/,
    );
    await assert.rejects(loadBeir(beir({ "corpus.jsonl": "" })), /corpus\.jsonl: no such file/);
  });
});
