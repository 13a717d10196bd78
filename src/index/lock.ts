// One writer per collection: DIR/write.lock holds the writer's pid. A lock whose process is gone
// (killed, crashed) is taken over, so a rerun after a crash just works; a live one is an error.
import { closeSync, openSync, readFileSync, rmSync, writeSync } from "node:fs";
import { join } from "node:path";

const LOCK_FILE = "write.lock";

/** Takes the lock; returns the function that releases it. */
export function lockCollection(dir: string, name: string): () => void {
  const file = join(dir, LOCK_FILE);
  for (let attempt = 0; attempt < 3; attempt++) {
    try {
      const fd = openSync(file, "wx");
      writeSync(fd, String(process.pid));
      closeSync(fd);
      return () => rmSync(file, { force: true });
    } catch (e) {
      if ((e as NodeJS.ErrnoException).code !== "EEXIST") {
        throw new Error(`cannot lock collection "${name}" (${file}): ${(e as Error).message}`, { cause: e });
      }
    }
    const pid = Number(readPid(file));
    if (Number.isInteger(pid) && pid > 0 && pid !== process.pid && alive(pid)) {
      throw new Error(
        `collection "${name}" is being written by process ${pid}: wait for it to finish ` +
          `(or, if that process is not xlir, delete ${file})`,
      );
    }
    rmSync(file, { force: true }); // stale: its writer is gone
  }
  throw new Error(`cannot lock collection "${name}": ${file} keeps reappearing; is another writer starting?`);
}

function readPid(file: string): string {
  try {
    return readFileSync(file, "utf8").trim();
  } catch {
    return "";
  }
}

function alive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (e) {
    return (e as NodeJS.ErrnoException).code === "EPERM";
  }
}
