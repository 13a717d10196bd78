// stringsOf decodes string columns itself (offsets and bytes, an all-ASCII batch in one go) for
// speed; it must give exactly what Apache Arrow's own iterator gives, and so the strings stored.
import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { arrow, field, stringsOf, tableOf } from "../../src/index/arrow.ts";

const schema = new arrow.Schema([field("s", new arrow.Utf8(), true)]);
const table = (strings: (string | null)[]) => tableOf(schema, strings.length, [{ strings }]);
const arrowsOwn = (t: ReturnType<typeof table>) => [...t.getChild("s")!] as (string | null)[];

const MIXED = [
  "plain ascii",
  null,
  "",
  "\uFEFFstarts with a byte order mark",
  "\uFEFF\uFEFFtwo of them",
  "ä ö ü 黑豹 🎉",
  "ends with a BOM\uFEFF",
];
const ASCII = ["id-1", "id-2", null, "", "{}"];
const LATE_NULLS = ["a", "b", "ü", null, "d", null, "e"];

describe("stringsOf", () => {
  it("gives Arrow's own strings, and the ones stored, in a mixed and an all-ASCII batch", () => {
    for (const strings of [MIXED, ASCII]) {
      const t = table(strings);
      assert.deepEqual(stringsOf(t, "s"), arrowsOwn(t));
      assert.deepEqual(stringsOf(t, "s"), strings);
    }
  });

  it("reads every batch of a table in order, and sliced batches from their offset", () => {
    const all = [...LATE_NULLS, ...MIXED, ...ASCII];
    const t = new arrow.Table([LATE_NULLS, MIXED, ASCII].flatMap((s) => table(s).batches));
    assert.equal(t.batches.length, 3);
    assert.deepEqual(stringsOf(t, "s"), all);
    // starts and ends inside batches: Data with an offset into their bytes and null bits
    const sliced = t.slice(1, 16);
    assert.equal(sliced.getChild("s")!.data[0].offset, 1);
    assert.deepEqual(stringsOf(sliced, "s"), arrowsOwn(sliced));
    assert.deepEqual(stringsOf(sliced, "s"), all.slice(1, 16));
  });
});
