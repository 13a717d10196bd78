// The augmentation filters on crafted variants: each drop reason, its order, and the summary of a
// set of variants checked against each other.
import assert from "node:assert/strict";
import { describe, it } from "node:test";
import {
  checkFilterOptions,
  dropReason,
  filterVariants,
  numbersOf,
  protectedNames,
  wordJaccard,
} from "../../src/train/augment-filters.ts";

describe("augment filters", () => {
  it("reads numbers in any script's digits, runs split by separators", () => {
    assert.deepEqual(numbersOf("Madrid en 1990 tenía 3.100.000"), ["1990", "3", "100", "000"]);
    assert.deepEqual(numbersOf("१९४७ में"), ["1947"]);
    assert.deepEqual(numbersOf("２０２０年"), ["2020"]);
    assert.equal(dropReason("Madrid tenía 1.000 casas en 1990", "En १९९० Madrid tenía 1,000 casas"), null);
    assert.equal(
      dropReason("Madrid tenía 1.000 casas en 1990", "En 1991 Madrid tenía 1,000 casas"),
      "number",
    );
  });

  it("protects capitalised words after a sentence's start, inner capitals, Latin words in other scripts", () => {
    assert.deepEqual(protectedNames("¿Quién construyó la Torre Eiffel en París?").sort(), [
      "eiffel",
      "paris",
      "torre",
    ]);
    assert.deepEqual(protectedNames("NASA launched it. Then Apollo flew.").sort(), ["apollo", "nasa"]);
    assert.deepEqual(protectedNames("iPhone 15 की कीमत क्या है"), ["iphone"]);
    assert.deepEqual(protectedNames("what is the price of bread"), []);
  });

  it("drops variants that lost a number", () => {
    assert.equal(
      dropReason("How many people lived in Madrid in 1990?", "How many people lived in Madrid?"),
      "number",
    );
    assert.equal(dropReason("Population of Madrid in 1990", "How many lived in Madrid in 1990"), null);
  });

  it("drops variants that lost a name, ignoring case and accents", () => {
    assert.equal(
      dropReason("¿Quién construyó la Torre Eiffel en París?", "¿Quién hizo esa torre en París?"),
      "name",
    );
    assert.equal(
      dropReason("¿Quién construyó la Torre Eiffel en París?", "¿Quién levantó la torre eiffel de Paris?"),
      null,
    );
    assert.equal(dropReason("iPhone 15 की कीमत क्या है", "15 का दाम कितना है"), "name");
    assert.equal(dropReason("iPhone 15 की कीमत क्या है", "iphone 15 का दाम कितना है"), null);
    assert.equal(
      dropReason("¿Quién construyó la Torre Eiffel?", "¿Quién hizo esa torre?", [], { keepNames: false }),
      null,
    );
  });

  it("drops exact and near duplicates of the original and of kept variants", () => {
    const q = "¿Cuál es la capital de Francia?";
    assert.equal(dropReason(q, "  cuál es la CAPITAL de francia "), "duplicate");
    assert.equal(
      dropReason(q, "Dime cuál es la capital de Francia", ["Dime cuál es la capital de Francia."]),
      "duplicate",
    );
    // 8 distinct words each, one changed: Jaccard 7/9, kept at 0.9, dropped at 0.75
    const long = "what is the name of the capital city of France";
    const edited = "what is the name of the main city of France";
    assert.ok(Math.abs(wordJaccard(long, edited) - 7 / 9) < 1e-9);
    assert.equal(dropReason(long, edited), null);
    assert.equal(dropReason(long, edited, [], { jaccard: 0.75 }), "near_duplicate");
  });

  it("drops variants outside the length ratio bounds", () => {
    const q = "Which river flows through Seville in the south?";
    assert.equal(dropReason(q, "Seville river?"), "length");
    assert.equal(
      dropReason(q, `${q} and also which mountains, lakes, valleys and plains surround it there?`),
      "length",
    );
    assert.equal(dropReason(q, "Seville river?", [], { minRatio: 0.2 }), null);
    assert.equal(dropReason(q, "   "), "empty");
  });

  it("filters a set in order: later variants are checked against those kept", () => {
    const r = filterVariants("How many people lived in Madrid in 1990?", [
      "What was the population of Madrid in 1990?",
      "what was the population of Madrid in 1990",
      "How many people lived in Madrid?",
      "How many people lived in Madrid in 1990?",
      "In 1990, how many inhabitants did Madrid have?",
      "",
    ]);
    assert.deepEqual(r.kept, [
      "What was the population of Madrid in 1990?",
      "In 1990, how many inhabitants did Madrid have?",
    ]);
    assert.deepEqual(
      r.dropped.map((d) => d.reason),
      ["duplicate", "number", "duplicate", "empty"],
    );
  });

  it("refuses bounds that make no sense, naming the option", () => {
    assert.throws(() => checkFilterOptions({ minRatio: 3, maxRatio: 2 }), /--min-ratio <= --max-ratio/);
    assert.throws(() => checkFilterOptions({ jaccard: 0 }), /--dup-jaccard/);
  });
});
