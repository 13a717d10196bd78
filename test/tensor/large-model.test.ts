// A model with more than 2 GB of initializers: built, saved with external data, loaded and run.
// Three 800 MB zero-filled weight tables, with one marked row each, gathered and summed.

import assert from "node:assert/strict";
import { mkdtempSync, rmSync, statfsSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { test } from "node:test";
import { Graph } from "../../src/tensor/graph.ts";
import { saveModel } from "../../src/tensor/onnx.ts";
import * as o from "../../src/tensor/ops.ts";
import { Session } from "../../src/tensor/session.ts";

const ROWS = 200_000;
const COLS = 1024; // 200k x 1024 float32 = 819 MB per table
const TABLES = 3;
const freeBytes = () => {
  const s = statfsSync(tmpdir());
  return s.bavail * s.bsize;
};
const skip = freeBytes() < 6e9 ? "needs 6 GB free in the temp dir for 2.5 GB of external data" : false;

test(
  "a model over 2 GB saves with external data and runs from its path",
  { skip, timeout: 300_000 },
  async () => {
    const dir = mkdtempSync(join(tmpdir(), "xlir-large-"));
    try {
      const g = new Graph("large");
      const ids = g.input("ids", "int64", ["n"]);
      let sum: ReturnType<typeof o.gather> | undefined;
      for (let k = 0; k < TABLES; k++) {
        const data = new Float32Array(ROWS * COLS);
        data.fill(k + 1, (ROWS - 1) * COLS, ROWS * COLS); // the last row of table k holds k + 1
        const table = g.initializer(`table${k}`, { dtype: "float32", dims: [ROWS, COLS], data });
        const rows = o.reduceSum(o.gather(table, ids), [1]);
        sum = sum ? o.add(sum, rows) : rows;
      }
      g.output(sum!, "y");
      const bytes = g.initializerBytes();
      assert.ok(bytes > 2 ** 31, `the model must pass 2 GiB (${bytes} bytes)`);
      const path = join(dir, "large.onnx");
      saveModel(g, path);
      g.initializers.clear(); // free the JS copies before ONNX Runtime maps the file
      const s = await Session.create(path, { threads: 2 });
      const out = await s.run({
        ids: { dtype: "int64", dims: [2], data: BigInt64Array.from([0n, BigInt(ROWS - 1)]) },
      });
      assert.deepEqual(Array.from(out.y.data as Float32Array), [0, (1 + 2 + 3) * COLS]);
      await s.release();
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  },
);
