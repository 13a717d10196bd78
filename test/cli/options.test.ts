// The one strict number parser every command uses: plain decimal numbers in range or a one-line
// error, never parseInt's silent "1e3" -> 1 or "5x" -> 5.
import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { decimal, integer, positiveInt } from "../../src/cli/options.ts";
import { runXlir } from "../helpers/cli.ts";

describe("integer()", () => {
  it("takes plain whole numbers in range", () => {
    assert.equal(positiveInt("7"), 7);
    assert.equal(positiveInt(" 12 "), 12);
    assert.equal(integer({ min: -5 })("-3"), -3);
    assert.equal(integer({ min: 0, max: 3 })("3"), 3);
  });
  it("refuses what parseInt would read loosely", () => {
    for (const bad of ["1e3", "2.7", "5x", "abc", "", "0x10", "Infinity", "NaN", "1_000", "9007199254740993"])
      assert.throws(() => positiveInt(bad), /give a whole number 1 or more/, bad);
  });
  it("refuses values out of range, saying the range", () => {
    assert.throws(() => positiveInt("0"), /1 or more/);
    assert.throws(() => integer({ min: 1, max: 1024 })("2000"), /from 1 to 1024/);
  });
});

describe("decimal()", () => {
  it("takes decimal and exponent notation", () => {
    assert.equal(decimal()("0.5"), 0.5);
    assert.equal(decimal()("2e-4"), 2e-4);
    assert.equal(decimal()(".25"), 0.25);
    assert.equal(decimal({ min: 0, max: 1 })("1"), 1);
  });
  it("refuses trailing text, non-finite values and out-of-range values", () => {
    for (const bad of ["0.5x", "abc", "Infinity", "1,5", ""])
      assert.throws(() => decimal()(bad), /give a number/);
    assert.throws(() => decimal({ min: 0, max: 1 })("2"), /from 0 to 1/);
    assert.throws(() => decimal({ above: 0 })("0"), /greater than 0/);
  });
});

it("the CLI answers a bad number with one xlir: line and exit code 1, before doing anything", () => {
  const cases: [string[], RegExp][] = [
    [
      ["search", "c", "q", "--k", "1e3"],
      /^xlir: option '--k <n>' argument '1e3' is invalid\. give a whole number 1 or more\.$/,
    ],
    [["search", "c", "q", "--weight", "2"], /--weight <w>.*'2' is invalid\. give a number from 0 to 1\./],
    [["embed", "--model", "m", "--threads", "abc"], /--threads <n>.*'abc' is invalid/],
    [
      ["index", "c", "--model", "bm25", "--input", "x.jsonl", "--batch-size", "0"],
      /--batch-size <n>.*'0' is invalid/,
    ],
  ];
  for (const [args, want] of cases) {
    const r = runXlir(args);
    assert.equal(r.status, 1, args.join(" "));
    assert.equal(r.stderr.trim().split("\n").length, 1, r.stderr);
    assert.match(r.stderr.trim(), want);
  }
});
