// A child process of the read-bandwidth measurement (search.bench.ts): sums an array of its own,
// of `floats` float32 values (argv), with ONNX Runtime's ReduceSum on one thread whenever the
// parent asks. Processes, not threads over one SharedArrayBuffer: ONNX Runtime does not take a
// SharedArrayBuffer's memory.
import { Graph } from "../src/tensor/graph.ts";
import { reduceSum } from "../src/tensor/ops.ts";
import { Session } from "../src/tensor/session.ts";

const floats = Number(process.argv[2]);
const data = new Float32Array(floats).fill(1);
const g = new Graph("sum");
g.output(reduceSum(g.input("x", "float32", [floats]), [0]), "s");
const session = await Session.create(g, { threads: 1 });
const sum = () => session.run({ x: { dtype: "float32", dims: [floats], data } });
await sum();
process.on("message", async () => {
  await sum();
  process.send!({ type: "done" });
});
process.on("disconnect", () => void session.release());
process.send!({ type: "ready" });
