// `xlir embed` as a user runs it: a real child process, texts from a file or standard input, JSONL
// or .npy out, equal to the library's rows; bad input gives one line on stderr and exit code 1.

import assert from "node:assert/strict";
import { spawnSync } from "node:child_process";
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, test } from "node:test";
import { Encoder } from "../../src/encode/encoder.ts";
import { repoRoot } from "../helpers/shared.ts";
import { tinyBertDir } from "../helpers/tiny-models.ts";

const root = mkdtempSync(join(tmpdir(), "xlir-cli-embed-"));
after(() => rmSync(root, { recursive: true, force: true }));
const model = tinyBertDir({ parent: root });

const xlir = (args: string[], input?: string) =>
  spawnSync(process.execPath, [join(repoRoot, "bin", "xlir.js"), ...args], {
    input,
    encoding: "utf8",
    timeout: 60_000,
  });

test("embed JSONL in, JSONL out with ids, equal to Encoder.embed", async () => {
  const file = join(root, "in.jsonl");
  writeFileSync(file, ['{"id": "a", "text": "the cat sat"}', '{"id": 7, "text": "dog"}'].join("\n") + "\n");
  const r = xlir(["embed", "--model", model, "--input", file, "--role", "query", "--threads", "1"]);
  assert.equal(r.status, 0, r.stderr);
  const rows = r.stdout
    .trim()
    .split("\n")
    .map((l) => JSON.parse(l));
  assert.deepEqual(
    rows.map((x) => x.id),
    ["a", "7"],
  );
  const enc = await Encoder.load(model, { threads: 1 });
  const want = await enc.embed(["the cat sat", "dog"], { role: "query" });
  rows.forEach((x, i) =>
    x.embedding.forEach((v: number, k: number) => assert.ok(Math.abs(v - want.data[i * 16 + k]) < 1e-6)),
  );
  await enc.close();
});

test("--dtype int8 embeds with the int8 encoder", async () => {
  const r = xlir(["embed", "--model", model, "--dtype", "int8", "--threads", "1"], "the cat sat\ndog\n");
  assert.equal(r.status, 0, r.stderr);
  const rows = r.stdout
    .trim()
    .split("\n")
    .map((l) => JSON.parse(l).embedding as number[]);
  const encoders = await Promise.all(
    (["int8", "float32"] as const).map((dtype) => Encoder.load(model, { threads: 1, dtype })),
  );
  const [int8, f32] = await Promise.all(encoders.map((e) => e.embed(["the cat sat", "dog"])));
  rows.forEach((row, i) =>
    row.forEach((v, k) => assert.ok(Math.abs(v - int8.data[i * 16 + k]) < 1e-6, `row ${i}`)),
  );
  assert.ok(
    rows[0].some((v, k) => Math.abs(v - f32.data[k]) > 1e-6),
    "float32 rows differ",
  );
  await Promise.all(encoders.map((e) => e.close()));
});

test("embed lines from standard input to .npy", () => {
  const out = join(root, "out.npy");
  const r = xlir(["embed", "--model", model, "--output", out, "--format", "npy"], "cat\ndog\nmat\n");
  assert.equal(r.status, 0, r.stderr);
  const bytes = readFileSync(out);
  assert.deepEqual([...bytes.subarray(0, 6)], [0x93, ...Buffer.from("NUMPY")]);
  const headerLen = bytes.readUInt16LE(8);
  const header = bytes.subarray(10, 10 + headerLen).toString();
  assert.match(header, /'descr': '<f4', 'fortran_order': False, 'shape': \(3, 16\)/);
  assert.equal((10 + headerLen) % 64, 0);
  assert.equal(bytes.length, 10 + headerLen + 3 * 16 * 4);
});

test("bad input: one line on stderr naming the problem, exit code 1", () => {
  const bad = join(root, "bad.jsonl");
  writeFileSync(bad, '{"text": "ok"}\n{not json\n');
  const r = xlir(["embed", "--model", model, "--input", bad]);
  assert.equal(r.status, 1);
  assert.match(r.stderr, /bad\.jsonl:2: not valid JSON/);
  const noField = join(root, "nofield.jsonl");
  writeFileSync(noField, '{"body": "x"}\n');
  assert.match(
    xlir(["embed", "--model", model, "--input", noField]).stderr,
    /no string field "text"; name the text field with --field/,
  );
  assert.match(
    xlir(["embed", "--model", join(root, "missing")], "x\n").stderr,
    /is neither a local folder nor a Hugging Face repo id/,
  );
  assert.match(
    xlir(["embed", "--model", model, "--format", "npy"], "x\n").stderr,
    /--format npy writes binary data: give --output/,
  );
});
