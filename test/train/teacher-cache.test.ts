// The teacher cache keeps rows across runs, keyed by teacher and text, and survives a crash between
// writing rows and their index.

import assert from "node:assert/strict";
import { appendFileSync, mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, test } from "node:test";
import { TeacherCache, textHash } from "../../src/train/teacher-cache.ts";

const root = mkdtempSync(join(tmpdir(), "xlir-tcache-"));
after(() => rmSync(root, { recursive: true, force: true }));

test("rows persist per teacher, and hashes depend on role and text", () => {
  assert.notEqual(textHash("query", "x"), textHash("passage", "x"));
  const a = TeacherCache.open(root, "teacher-a", 2);
  a.append([textHash("query", "x"), textHash("passage", "x")], Float32Array.from([1, 2, 3, 4]));
  a.append([textHash("query", "y")], Float32Array.from([5, 6]));
  const again = TeacherCache.open(root, "teacher-a", 2);
  assert.deepEqual(Array.from(again.get(textHash("passage", "x"))), [3, 4]);
  assert.deepEqual(Array.from(again.get(textHash("query", "y"))), [5, 6]);
  assert.equal(TeacherCache.open(root, "teacher-b", 2).has(textHash("query", "x")), false);
});

test("rows written without their index lines (a crash) are dropped, then overwritten", () => {
  const c = TeacherCache.open(root, "teacher-crash", 2);
  c.append(["h1"], Float32Array.from([1, 1]));
  appendFileSync(join(c.dir, "rows.f32"), Buffer.from(Float32Array.from([9, 9]).buffer)); // rows of a lost batch
  const reopened = TeacherCache.open(root, "teacher-crash", 2);
  assert.equal(reopened.has("h1"), true);
  reopened.append(["h2"], Float32Array.from([2, 2]));
  const last = TeacherCache.open(root, "teacher-crash", 2);
  assert.deepEqual(Array.from(last.get("h2")), [2, 2]);
});
