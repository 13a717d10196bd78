// Which code the xlir command runs: the JavaScript that `npm run build` put in dist/, or the
// TypeScript sources in src/ through tsx. tsx compiles every module it loads on each start (about
// 1.5 s before a command does anything); dist/ starts in a fraction of that. So dist/ runs whenever
// it is known to be the build of the sources as they are now, and only then: no stale build runs.
import { existsSync, readdirSync, statSync } from "node:fs";
import { URL } from "node:url";

/** Written last by `npm run build` (scripts/finish-build.mjs), so a build cut short has none. */
export const BUILD_STAMP = "dist/build.stamp";

/**
 * The URL of dist/cli/main.js when it may run: installed from the package (dist/, no src/), or in
 * a checkout whose src/ holds no file or folder changed since the build stamp was written (a
 * folder's time covers files deleted or renamed in it). Else null: run the sources.
 */
export function builtMain(root = new URL("../", import.meta.url)) {
  const main = new URL("dist/cli/main.js", root);
  const src = new URL("src/", root);
  if (!existsSync(src)) return existsSync(main) ? main : null;
  const stamp = new URL(BUILD_STAMP, root);
  if (!existsSync(stamp) || !existsSync(main)) return null;
  return changedSince(src, statSync(stamp).mtimeMs) ? null : main;
}

/** True when the folder, or anything under it, changed after `time` (ms). */
function changedSince(dir, time) {
  if (statSync(dir).mtimeMs > time) return true;
  for (const e of readdirSync(dir, { withFileTypes: true })) {
    const path = new URL(e.isDirectory() ? `${e.name}/` : e.name, dir);
    if (e.isDirectory() ? changedSince(path, time) : statSync(path).mtimeMs > time) return true;
  }
  return false;
}
