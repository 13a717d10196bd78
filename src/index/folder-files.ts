// Named files in a collection's folder (the embedded store's blobs), each replaced atomically: the
// new content goes to a temporary file, is flushed, then renamed over the old one, so a crash leaves
// the old value or the new one, never a mix. Names may hold one "/" level (agg-vocab/deu_Latn.json).
import { randomBytes } from "node:crypto";
import {
  closeSync,
  existsSync,
  fsyncSync,
  mkdirSync,
  openSync,
  readdirSync,
  readFileSync,
  renameSync,
  rmSync,
  writeSync,
} from "node:fs";
import { dirname, join } from "node:path";

export function readFolderFile(dir: string, name: string): Buffer | null {
  const file = join(dir, name);
  return existsSync(file) ? readFileSync(file) : null;
}

export function writeFolderFile(dir: string, name: string, bytes: Uint8Array): void {
  const final = join(dir, name);
  const parent = dirname(final);
  const tmp = join(parent, `.${name.split("/").pop()}.${process.pid}.${randomBytes(6).toString("hex")}.tmp`);
  try {
    mkdirSync(parent, { recursive: true });
    const fd = openSync(tmp, "wx");
    try {
      for (let at = 0; at < bytes.length;) at += writeSync(fd, bytes, at, bytes.length - at);
      fsyncSync(fd);
    } finally {
      closeSync(fd);
    }
    renameSync(tmp, final);
  } catch (e) {
    rmSync(tmp, { force: true });
    throw new Error(`cannot write ${final}: ${(e as Error).message}`, { cause: e });
  }
  syncDir(parent);
  // temporary files of writers that crashed earlier (one writer per collection)
  const base = name.split("/").pop()!;
  for (const f of readdirSync(parent))
    if (f.startsWith(`.${base}.`) && f.endsWith(".tmp")) rmSync(join(parent, f), { force: true });
}

/** The names under `dir` starting with `prefix` ("agg-vocab/" lists that folder), sorted; temporary files left out. */
export function listFolderFiles(dir: string, prefix: string): string[] {
  const slash = prefix.lastIndexOf("/");
  const sub = slash >= 0 ? prefix.slice(0, slash + 1) : "";
  const folder = join(dir, sub);
  if (!existsSync(folder)) return [];
  return readdirSync(folder, { withFileTypes: true })
    .filter((e) => e.isFile() && !e.name.startsWith(".") && (sub + e.name).startsWith(prefix))
    .map((e) => sub + e.name)
    .sort();
}

// After a rename the directory entry must reach the disk too; not every platform can fsync a folder.
function syncDir(dir: string): void {
  let fd: number | undefined;
  try {
    fd = openSync(dir, "r");
    fsyncSync(fd);
  } catch {
    // Windows cannot open a directory for fsync; the rename is still atomic there.
  } finally {
    if (fd !== undefined) closeSync(fd);
  }
}
