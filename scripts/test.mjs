// Runs every test/**/*.test.ts with Node's own test runner (Node 20 takes no globs after --test).
// Extra arguments are passed through, e.g. `node scripts/test.mjs --test-name-pattern adamw`.
import { spawnSync } from "node:child_process";
import { readdirSync } from "node:fs";
import { join } from "node:path";

const files = (dir) =>
  readdirSync(dir, { withFileTypes: true }).flatMap((e) =>
    e.isDirectory() ? files(join(dir, e.name)) : e.name.endsWith(".test.ts") ? [join(dir, e.name)] : [],
  );
const only = process.argv.slice(2).filter((a) => !a.startsWith("--"));
const flags = process.argv.slice(2).filter((a) => a.startsWith("--"));
const tests = only.length ? only : files("test").sort();
const r = spawnSync(process.execPath, ["--import", "tsx", "--test", ...flags, ...tests], {
  stdio: "inherit",
});
process.exit(r.status ?? 1);
