// The language detector reads ELD's database from the file the build wrote (langid.ts loadEld: one
// line per n-gram, each looked up by binary search when ELD asks for it): the answers must be
// eld/medium's own, scores included, on sentences and on the few-word queries search sees, in every
// FLORES-200 language here.
import assert from "node:assert/strict";
import { mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { pathToFileURL } from "node:url";
import { after, describe, it } from "node:test";
import { ELD_DATABASE, eldMediumDatabase, loadEld, type Eld } from "../../src/text/langid.ts";
import { sharedDir } from "../helpers/shared.ts";

const dir = mkdtempSync(join(tmpdir(), "xlir-langid-"));
after(() => rmSync(dir, { recursive: true, force: true }));

const flores = join(sharedDir, "data", "flores200", "devtest");
const texts = readdirSync(flores).flatMap((f) => {
  const lines = readFileSync(join(flores, f), "utf8").split("\n").slice(0, 12);
  return [...lines, ...lines.map((l) => l.split(" ").slice(0, 3).join(" "))];
});

const answers = (eld: Eld) =>
  texts.map((t) => {
    const r = eld.detect(t);
    return [r.language, r.isReliable(), r.getScores()];
  });

describe("ELD's database from the built file", () => {
  it("answers as eld/medium does", async () => {
    const json = join(dir, ELD_DATABASE);
    writeFileSync(json, await eldMediumDatabase());
    const { eld } = (await import("eld/medium")) as unknown as { eld: Eld };
    const own = answers(eld);
    assert.ok(new Set(own.map((a) => a[0])).size > 30, "the texts cover many languages");
    assert.deepEqual(answers(await loadEld(pathToFileURL(json))), own);
    // without the file: eld/medium itself
    assert.deepEqual(answers(await loadEld(pathToFileURL(join(dir, "none.tsv")))), own);
  });

  it("reads the file it is given", async () => {
    const json = join(dir, "empty.tsv");
    writeFileSync(json, (await eldMediumDatabase()).split("\n")[0] + "\n"); // no n-gram lines
    const eld = await loadEld(pathToFileURL(json));
    assert.equal(eld.detect("The city has a population of about two million people.").language, "");
  });
});
