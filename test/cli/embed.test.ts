// `xlir embed` as a user runs it: a real child process, texts from a file or standard input, JSONL
// or .npy out, equal to the library's rows; prefixes given by flag; bad input (a malformed file, a
// tokenizer that does not fit the model, a missing folder) gives one line on stderr and exit code 1.

import assert from "node:assert/strict";
import { spawnSync } from "node:child_process";
import { cpSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { createServer, type AddressInfo } from "node:net";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, test } from "node:test";
import { Encoder } from "../../src/encode/encoder.ts";
import { repoRoot } from "../helpers/shared.ts";
import { tinyBertDir } from "../helpers/tiny-models.ts";
import { tinyWordPiece } from "../helpers/tiny-tokenizers.ts";

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
    /^xlir: Model folder ".*missing" does not exist \(.*missing\); check the path, or give a hub id like "org\/name"\.\n$/,
  );
  assert.match(
    xlir(["embed", "--model", model, "--format", "npy"], "x\n").stderr,
    /--format npy writes binary data: give --output/,
  );
});

test("--query-prefix / --passage-prefix change the vectors as the library's prompts do", async () => {
  const run = (...extra: string[]) => {
    const r = xlir(["embed", "--model", model, "--role", "query", "--threads", "1", ...extra], "cat\n");
    assert.equal(r.status, 0, r.stderr);
    return JSON.parse(r.stdout).embedding as number[];
  };
  const plain = run();
  const prefixed = run("--query-prefix", "query: ");
  assert.ok(
    plain.some((v, k) => Math.abs(v - prefixed[k]) > 1e-4),
    "the prefix must change the vector",
  );
  const enc = await Encoder.load(model, { threads: 1, prompts: { query: "query: " } });
  const want = await enc.embed(["cat"], { role: "query" });
  prefixed.forEach((v, k) => assert.ok(Math.abs(v - want.data[k]) < 1e-6));
  await enc.close();
  // a passage prefix leaves queries alone
  assert.deepEqual(run("--passage-prefix", "passage: "), plain);
});

test("a tokenizer with ids past the embedding table: one line naming the folder and the numbers", () => {
  const dir = join(root, "big-tokenizer");
  cpSync(model, dir, { recursive: true });
  const tok = tinyWordPiece(Array.from({ length: 40 }, (_, i) => `word${i}`));
  writeFileSync(join(dir, "tokenizer.json"), JSON.stringify(tok.tokenizer));
  const rows = JSON.parse(readFileSync(join(dir, "config.json"), "utf8")).vocab_size;
  const largest = Math.max(...Object.values((tok.tokenizer as { model: { vocab: object } }).model.vocab));
  assert.ok(largest >= rows);
  const r = xlir(["embed", "--model", dir], "word39\n");
  assert.equal(r.status, 1);
  assert.match(
    r.stderr,
    new RegExp(
      `^xlir: .*big-tokenizer: the tokenizer gives ids up to ${largest} but the model's embedding table has ${rows} rows \\(config\\.json vocab_size\\); .*tokenizer\\.json belongs to another model: put this model's own tokenizer\\.json in the folder\\n$`,
    ),
  );
});

test("a folder without tokenizer.json says so and how to write one", () => {
  const dir = join(root, "no-tokenizer");
  cpSync(model, dir, { recursive: true });
  rmSync(join(dir, "tokenizer.json"));
  const r = xlir(["embed", "--model", dir], "x\n");
  assert.equal(r.status, 1);
  assert.match(
    r.stderr,
    /^xlir: no tokenizer\.json in .*no-tokenizer: xlir needs the model's tokenizer\.json; write it with transformers: AutoTokenizer\.from_pretrained\(".*no-tokenizer"\)\.save_pretrained\(".*no-tokenizer"\)\n$/,
  );
});

test("a missing folder is named as missing, not as a hub problem", async () => {
  const cwd = mkdtempSync(join(root, "cwd-"));
  mkdirSync(join(cwd, "models"));
  const inCwd = (args: string[], env: Record<string, string> = {}) =>
    spawnSync(process.execPath, [join(repoRoot, "bin", "xlir.js"), ...args], {
      cwd,
      input: "x\n",
      encoding: "utf8",
      timeout: 60_000,
      env: { ...process.env, HF_HUB_CACHE: join(cwd, "hub"), ...env },
    });
  // written like a path, or its first part exists here: the folder does not exist
  for (const name of ["./models/my-e5", "models/my-e5", "../nowhere/my-e5", "~/no-such-xlir-model"]) {
    const r = inCwd(["embed", "--model", name]);
    assert.equal(r.status, 1, name);
    assert.match(
      r.stderr,
      /^xlir: Model folder ".*" does not exist \(.*\); check the path, or give a hub id like "org\/name"\.\n$/,
      name,
    );
  }
  // a hub id and no hub: both are said
  const port = await closedPort();
  const r = inCwd(["embed", "--model", "org/my-e5"], { HF_ENDPOINT: `http://127.0.0.1:${port}` });
  assert.equal(r.status, 1);
  assert.match(
    r.stderr,
    /^xlir: No model folder "org\/my-e5" exists \(.*org\/my-e5\), and cannot reach the Hugging Face hub at http:\/\/127\.0\.0\.1:\d+ for model "org\/my-e5" \(ECONNREFUSED\); pass a local model folder, or set HF_HUB_OFFLINE=1 to use a filled cache\.\n$/,
  );
});

/** A port nothing listens on. */
function closedPort(): Promise<number> {
  return new Promise((done) => {
    const s = createServer().listen(0, "127.0.0.1", () => {
      const { port } = s.address() as AddressInfo;
      s.close(() => done(port));
    });
  });
}
