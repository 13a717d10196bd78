// Training texts from .txt, .tsv and .jsonl (sentence-transformers pairs and triplets), with roles.

import assert from "node:assert/strict";
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, test } from "node:test";
import { readTrainingTexts } from "../../src/train/data.ts";

const dir = mkdtempSync(join(tmpdir(), "xlir-data-"));
after(() => rmSync(dir, { recursive: true, force: true }));
const file = (name: string, body: string) => {
  writeFileSync(join(dir, name), body);
  return join(dir, name);
};

test("plain text: one text per line, blank lines skipped, roles alternate", () => {
  const t = readTrainingTexts([file("a.txt", "one\n\ntwo\r\nthree\n")]);
  assert.deepEqual(t, [
    { text: "one", role: "query" },
    { text: "two", role: "passage" },
    { text: "three", role: "query" },
  ]);
});

test("TSV pairs and triplets: column 0 is the query, the others passages", () => {
  const t = readTrainingTexts([file("p.tsv", "q1\tp1\tn1\nq2\tp2\n")]);
  assert.deepEqual(
    t.map((x) => `${x.role}:${x.text}`),
    ["query:q1", "passage:p1", "passage:n1", "query:q2", "passage:p2"],
  );
});

test("JSONL: every text column, lists included, ids and labels skipped", () => {
  const t = readTrainingTexts([
    file(
      "s.jsonl",
      '{"id": 3, "anchor": "a", "positive": "p", "negatives": ["n1", "n2"], "label": 1}\n{"text": "x", "lang": "en"}\n',
    ),
  ]);
  assert.deepEqual(
    t.map((x) => `${x.role}:${x.text}`),
    ["query:a", "passage:p", "passage:n1", "passage:n2", "passage:x"],
  );
});

test("errors name the file and line", () => {
  assert.throws(
    () => readTrainingTexts([join(dir, "missing.txt")]),
    /missing\.txt: file not found; check --data/,
  );
  assert.throws(
    () => readTrainingTexts([file("b.jsonl", '{"text": "ok"}\n{oops\n')]),
    /b\.jsonl:2: not valid JSON/,
  );
  assert.throws(
    () => readTrainingTexts([file("c.jsonl", '{"id": "1", "score": 0.5}\n')]),
    /c\.jsonl:1: no text column/,
  );
  assert.throws(() => readTrainingTexts([file("e.txt", "\n\n")]), /e\.txt holds no text/);
});
