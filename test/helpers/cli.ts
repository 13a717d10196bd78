// Runs the xlir command as a user would: a child process through bin/xlir.js (the sources, via
// tsx), output captured as text, bounded in time.
import { spawn, spawnSync, type SpawnSyncReturns } from "node:child_process";
import { type Command, CommanderError } from "commander";
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

/**
 * `xlir ...args` in the background; SIGKILLed as soon as its standard output contains `killOn`
 * (a crash mid-run), or after 120 s. Resolves with the exit code (null when killed).
 */
export function runXlirKilled(args: readonly string[], killOn?: string): Promise<number | null> {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, [XLIR_BIN, ...args], { stdio: ["ignore", "pipe", "pipe"] });
    let out = "";
    const timer = setTimeout(() => child.kill("SIGKILL"), 120_000);
    child.stdout.on("data", (d) => {
      out += d;
      if (killOn !== undefined && out.includes(killOn)) child.kill("SIGKILL");
    });
    child.on("error", reject);
    child.on("close", (code) => {
      clearTimeout(timer);
      resolve(code);
    });
  });
}

/** Runs a command object in this process; stdout and stderr captured through commander's hooks. */
export async function inProcess(cmd: Command, args: string[]): Promise<{ out: string; err: string }> {
  let out = "";
  let err = "";
  cmd.exitOverride().configureOutput({ writeOut: (s) => (out += s), writeErr: (s) => (err += s) });
  try {
    await cmd.parseAsync(args, { from: "user" });
  } catch (e) {
    if (e instanceof CommanderError) throw new Error(`${e.message}\n${err}`, { cause: e });
    throw e;
  }
  return { out, err };
}
