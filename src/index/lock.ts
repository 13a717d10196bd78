// One writer per collection: DIR/write.lock holds the writer's pid. A lock whose process is gone
// (killed, crashed) is taken over, so a rerun after a crash just works; a live one is an error.
// The folders this process holds are remembered, so a reader in the same process (the writer's
// own BM25 load) can tell that the lock is its own writer's and not take it over.
import { closeSync, openSync, readFileSync, rmSync, writeSync } from "node:fs";
import { join } from "node:path";

export const LOCK_FILE = "write.lock";

const HELD = new Set<string>();

/** The lock is held by a live process. */
class LockedError extends Error {}

/** Takes the lock; returns the function that releases it. */
export function lockCollection(dir: string, name: string): () => void {
  const file = join(dir, LOCK_FILE);
  for (let attempt = 0; attempt < 3; attempt++) {
    try {
      const fd = openSync(file, "wx");
      writeSync(fd, String(process.pid));
      closeSync(fd);
      HELD.add(file);
      return () => {
        HELD.delete(file);
        rmSync(file, { force: true });
      };
    } catch (e) {
      if ((e as NodeJS.ErrnoException).code !== "EEXIST") {
        throw new Error(`cannot lock collection "${name}" (${file}): ${(e as Error).message}`, { cause: e });
      }
    }
    const pid = Number(readPid(file));
    if (Number.isInteger(pid) && pid > 0 && pid !== process.pid && alive(pid)) {
      throw new LockedError(
        `collection "${name}" is being written by process ${pid}: wait for it to finish ` +
          `(or, if that process is not xlir, delete ${file})`,
      );
    }
    rmSync(file, { force: true }); // stale: its writer is gone
  }
  throw new Error(`cannot lock collection "${name}": ${file} keeps reappearing; is another writer starting?`);
}

/**
 * Takes the lock if no one holds it (a stale lock counts as free); null when a live process (this
 * one included) holds it. For optional writes, such as saving a BM25 index a reader rebuilt.
 */
export function tryLockCollection(dir: string, name: string): (() => void) | null {
  const file = join(dir, LOCK_FILE);
  if (HELD.has(file)) return null;
  try {
    return lockCollection(dir, name);
  } catch (e) {
    if (e instanceof LockedError) return null;
    throw e;
  }
}

function readPid(file: string): string {
  try {
    return readFileSync(file, "utf8").trim();
  } catch {
    return "";
  }
}

/** Whether process `pid` is running (EPERM: it is, under another user). */
export function alive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (e) {
    return (e as NodeJS.ErrnoException).code === "EPERM";
  }
}
