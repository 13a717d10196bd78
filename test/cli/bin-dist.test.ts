// bin/xlir.js runs dist/ only when it is the build of the sources as they are (bin/dist.js):
// installed (no src/), always; in a checkout, when nothing under src/ changed after the build
// stamp that `npm run build` writes last.
import assert from "node:assert/strict";
import { mkdirSync, mkdtempSync, rmSync, utimesSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { pathToFileURL } from "node:url";
import { after, describe, it } from "node:test";
import { BUILD_STAMP, builtMain } from "../../bin/dist.js";

const root = mkdtempSync(join(tmpdir(), "xlir-bin-dist-"));
after(() => rmSync(root, { recursive: true, force: true }));
let n = 0;

/** A checkout (or, without `src`, an install) whose files all date from `t` (seconds). */
function tree(src: boolean, t = 1_000_000) {
  const dir = join(root, `t${n++}`);
  const files = ["dist/cli/main.js", ...(src ? ["src/cli/main.ts", "src/index/search.ts"] : [])];
  for (const f of files) {
    mkdirSync(join(dir, f, ".."), { recursive: true });
    writeFileSync(join(dir, f), "");
  }
  const at = (f: string, s: number) => utimesSync(join(dir, f), s, s);
  for (const f of files) at(f, t);
  for (const d of ["src", "src/cli", "src/index"]) if (src) at(d, t);
  return { dir, url: pathToFileURL(dir + "/"), at, main: pathToFileURL(join(dir, "dist/cli/main.js")).href };
}

describe("bin/dist.js", () => {
  it("runs dist/ of an installed package, which has no src/", () => {
    const t = tree(false);
    assert.equal(builtMain(t.url)?.href, t.main);
  });

  it("runs the sources of a checkout with no complete build, or none at all", () => {
    const t = tree(true);
    assert.equal(builtMain(t.url), null); // no stamp: a build cut short, or dist/ from elsewhere
    writeFileSync(join(t.dir, BUILD_STAMP), "");
    t.at(BUILD_STAMP, 1_000_100);
    rmSync(join(t.dir, "dist/cli/main.js"));
    assert.equal(builtMain(t.url), null);
  });

  it("runs dist/ built after the last change to src/, and the sources once a file changes", () => {
    const t = tree(true);
    writeFileSync(join(t.dir, BUILD_STAMP), "");
    t.at(BUILD_STAMP, 1_000_100);
    assert.equal(builtMain(t.url)?.href, t.main);
    t.at("src/index/search.ts", 1_000_200);
    assert.equal(builtMain(t.url), null);
  });

  it("runs the sources once a file is added to or removed from a folder of src/", () => {
    const t = tree(true);
    writeFileSync(join(t.dir, BUILD_STAMP), "");
    t.at(BUILD_STAMP, 1_000_100);
    t.at("src/index", 1_000_200); // what a deletion in src/index does to it
    assert.equal(builtMain(t.url), null);
  });
});
