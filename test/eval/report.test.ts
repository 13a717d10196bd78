// Reports: reference files (the YAML subset and JSON), markdown tables with published numbers
// marked beside ours, and the SVG chart.
import assert from "node:assert/strict";
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, describe, it } from "node:test";
import type { Report } from "../../src/eval/report.ts";
import { renderMarkdown, unmatched } from "../../src/eval/report-markdown.ts";
import { parseYaml, readReference } from "../../src/eval/report-reference.ts";
import { renderSvg } from "../../src/eval/report-svg.ts";

const dir = mkdtempSync(join(tmpdir(), "xlir-report-"));
after(() => rmSync(dir, { recursive: true, force: true }));
const file = (name: string, text: string) => {
  const p = join(dir, name);
  writeFileSync(p, text);
  return p;
};

describe("reference files", () => {
  it("reads nested mappings, flow mappings, quoted keys, numbers and comments", () => {
    const ref = readReference(
      file(
        "ref.yaml",
        [
          "# published numbers",
          "name: mAggretriever  # the paper",
          "source: 'Table 4'",
          "tables:",
          "  summary:",
          '    "X_Q=X_C": {mAP@100: 61.2}',
          "    X_Q!=X_C:",
          "      mAP@100: 3.5e1",
          "  pairs:",
          "    en: {en: 70.1, 'de': 40}",
          "",
        ].join("\n"),
      ),
    );
    assert.deepEqual(ref, {
      name: "mAggretriever",
      source: "Table 4",
      tables: {
        summary: { "X_Q=X_C": { "mAP@100": 61.2 }, "X_Q!=X_C": { "mAP@100": 35 } },
        pairs: { en: { en: 70.1, de: 40 } },
      },
    });
  });

  it("reads the same structure as JSON", () => {
    const ref = readReference(
      file("ref.json", JSON.stringify({ name: "p", tables: { bitext: { deu: { "xx->eng": 1.5 } } } })),
    );
    assert.equal(ref.tables.bitext.deu["xx->eng"], 1.5);
  });

  it("names the file and line of what it cannot read, and says what to do", () => {
    const bad = (name: string, text: string, re: RegExp) =>
      assert.throws(() => readReference(file(name, text)), re);
    bad("a.yaml", "name: x\ntables:\n  t:\n   - 1\n", /a\.yaml:4: lists are not supported/);
    bad("b.yaml", "name: x\n\ttables:\n", /b\.yaml:2: indent with spaces, not tabs/);
    bad("c.yaml", "name: x\ntables\n", /c\.yaml:2: expected "key: value"/);
    bad(
      "d.yaml",
      "name: x\ntables:\n  t:\n    r: {c: 1\n",
      /d\.yaml:4: a \{\.\.\.\} mapping must close on the same line/,
    );
    bad("e.yaml", "name: x\nname: y\n", /e\.yaml:2: key "name" given twice/);
    bad("f.yaml", "name: x\ntables:\n  t:\n    r: {c: high}\n", /f\.yaml: tables\.t\.r\.c must be a number/);
    bad("g.yaml", "tables: {}\n", /g\.yaml: needs a "name"/);
    bad("h.yaml", "name: x\ntable: {}\n", /h\.yaml: unknown key "table"/);
    bad("i.json", "{name: 1}", /i\.json: invalid JSON/);
    assert.throws(
      () => readReference(join(dir, "missing.yaml")),
      /cannot read reference file .*missing\.yaml: ENOENT; check --reference/,
    );
  });

  it("parses indentation into nesting, and rejects stray indentation", () => {
    assert.deepEqual(parseYaml("a:\n  b:\n    c: 1\n  d: two\ne: true\n"), {
      a: { b: { c: 1 }, d: "two" },
      e: true,
    });
    assert.throws(() => parseYaml("a: 1\n  b: 2\n", "x.yaml"), /x\.yaml:2: unexpected indentation/);
  });
});

const report: Report = {
  title: "T",
  facts: [["model", "m"]],
  notes: ["a note"],
  tables: [
    {
      id: "summary",
      title: "Summary",
      rowHeader: "pairs",
      columns: [{ key: "mAP@100", label: "mAP@100" }],
      rows: [
        { key: "X_Q=X_C", label: "X_Q = X_C", values: [0.6123] },
        { key: "X_Q!=X_C", label: "X_Q ≠ X_C", values: [null] },
      ],
    },
    {
      id: "pairs",
      title: "Pairs",
      rowHeader: "X_Q \\ X_C",
      columns: ["a", "b", "c", "d", "e"].map((k) => ({ key: k, label: k })),
      rows: [{ key: "a", label: "a", values: [0.5, 0.25, 0, 1, 0.125] }],
    },
  ],
  chart: {
    title: "Chart <&>",
    table: "summary",
    categories: ["X_Q=X_C", "X_Q!=X_C"],
    series: [{ key: "mAP@100", label: "ours", values: [0.6123, null] }],
    axis: "mAP (%)",
  },
};
const ref = {
  name: "Paper",
  source: "Table 4",
  tables: { summary: { "X_Q=X_C": { "mAP@100": 58.1 } }, pairs: { a: { b: 30 } }, nope: { x: { y: 1 } } },
};

describe("markdown report", () => {
  it("prints percent with one decimal, a dash for a missing value, and the notes", () => {
    const md = renderMarkdown(report);
    assert.match(md, /^# T\n\n- model: m\n/);
    assert.match(
      md,
      /## Summary \[summary\]\n\n\| pairs \| mAP@100 \|\n\|---\|---:\|\n\| X_Q = X_C \| 61\.2 \|\n\| X_Q ≠ X_C \| – \|/,
    );
    assert.match(md, /\| a \| 50\.0 \| 25\.0 \| 0\.0 \| 100\.0 \| 12\.5 \|/);
    assert.match(md, /## Notes\n\n- a note\n/);
  });

  it("puts published numbers beside ours, marked †; a matrix gets its own published table", () => {
    const md = renderMarkdown(report, [ref]);
    assert.match(
      md,
      /\| pairs \| mAP@100 \| mAP@100 \(Paper, Table 4\) † \|\n\|---\|---:\|---:\|\n\| X_Q = X_C \| 61\.2 \| 58\.1 † \|\n\| X_Q ≠ X_C \| – \| – \|/,
    );
    assert.match(
      md,
      /Published: Paper, Table 4 †\n\n\| X_Q \\ X_C \| a \| b \| c \| d \| e \|\n\|---\|---:\|---:\|---:\|---:\|---:\|\n\| a \| – \| 30 † \| – \| – \| – \|/,
    );
    assert.match(md, /† published numbers, copied from the source named; not computed by xlir\./);
    assert.match(md, /Reference value not shown \(no such cell here\): Paper: nope\.x\.y\./);
    assert.deepEqual(unmatched(report, ref), ["Paper: nope.x.y"]);
  });
});

describe("SVG chart", () => {
  it("draws a bar per value in percent, escapes text, and marks published bars as such", () => {
    const svg = renderSvg(report.chart, [ref]);
    assert.match(svg, /^<svg xmlns="http:\/\/www\.w3\.org\/2000\/svg"/);
    assert.match(svg, /Chart &lt;&amp;&gt;/);
    assert.match(svg, /<title>X_Q=X_C · ours: 61\.2<\/title>/);
    assert.match(svg, /<title>X_Q=X_C · ours — published: Paper: 58\.1<\/title>/);
    assert.match(svg, /fill="url\(#published\)"/);
    // ours: one bar (the null is not drawn); published: one bar
    assert.equal(svg.match(/<title>/g)!.length, 2);
    assert.ok(svg.trimEnd().endsWith("</svg>"));
  });
});
