// Runs the xlir command as a user would: a child process through bin/xlir.js (the sources, via
// tsx), output captured as text, bounded in time.
import { spawnSync, type SpawnSyncReturns } from "node:child_process";
import { join } from "node:path";
import { repoRoot } from "./shared.ts";

export const XLIR_BIN = join(repoRoot, "bin", "xlir.js");

export interface RunOptions {
  /** Appended as `--home HOME`. */
  home?: string;
  /** Default 60 s. */
  timeout?: number;
  env?: NodeJS.ProcessEnv;
}

/** `xlir ...args [--home HOME]`. */
export function runXlir(args: readonly string[], opts: RunOptions = {}): SpawnSyncReturns<string> {
  const home = opts.home === undefined ? [] : ["--home", opts.home];
  return spawnSync(process.execPath, [XLIR_BIN, ...args, ...home], {
    encoding: "utf8",
    timeout: opts.timeout ?? 60_000,
    env: opts.env,
  });
}
