// --device cuda where CUDA cannot run: one warning, not one per session. `xlir eval run` opens an
// encoder session and a scoring session; each used to warn.
import assert from "node:assert/strict";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, test } from "node:test";
import { Encoder } from "../../src/encode/encoder.ts";
import { Graph } from "../../src/tensor/graph.ts";
import * as o from "../../src/tensor/ops.ts";
import { Session } from "../../src/tensor/session.ts";
import { runXlir } from "../helpers/cli.ts";
import { sharedDir } from "../helpers/shared.ts";
import { tinyBertDir } from "../helpers/tiny-models.ts";

const root = mkdtempSync(join(tmpdir(), "xlir-device-"));
after(() => rmSync(root, { recursive: true, force: true }));
const model = tinyBertDir({ parent: root });
const CUDA_WARNING = /CUDA execution provider .*running on CPU/;

/** Whether CUDA really runs here (then nothing is to be said); asked with a sink of its own. */
async function cudaRuns(): Promise<boolean> {
  const g = new Graph();
  g.output(o.reduceSum(g.input("x", "float32", ["n"]), [0]), "y");
  const s = await Session.create(g, { device: "cuda", warn: () => {} });
  await s.release();
  return s.device === "cuda";
}

test("two encoders asked for CUDA warn once to the same place, and both run", async () => {
  const warnings: string[] = [];
  const warn = (m: string) => warnings.push(m);
  const a = await Encoder.load(model, { device: "cuda", threads: 1, warn });
  const b = await Encoder.load(model, { device: "cuda", threads: 1, warn });
  const [x, y] = [await a.embed(["cat"]), await b.embed(["cat"])];
  assert.deepEqual(x.data, y.data);
  await Promise.all([a.close(), b.close()]);
  const cuda = warnings.filter((w) => CUDA_WARNING.test(w));
  assert.equal(cuda.length, (await cudaRuns()) ? 0 : 1, cuda.join("\n"));
});

test("xlir eval run --device cuda warns once (its encoder and its scorer each used to)", async () => {
  // prettier-ignore
  const args = [
    "eval", "run", "tatoeba", "--model", model, "--data", join(sharedDir, "data"),
    "--langs", "deu", "--limit", "3", "--device", "cuda", "--threads", "1",
    "--no-cache", "--no-runs", "--output", join(root, "out"),
  ];
  const r = runXlir(args, { timeout: 120_000 });
  assert.equal(r.status, 0, r.stderr);
  const lines = r.stderr.split("\n").filter((l) => CUDA_WARNING.test(l));
  assert.equal(lines.length, (await cudaRuns()) ? 0 : 1, r.stderr);
});
