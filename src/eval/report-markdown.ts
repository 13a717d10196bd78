// The report as markdown: the facts of the run, each table in its paper's layout (values in percent,
// one decimal), published numbers beside ours and marked as published, then the notes. A narrow
// table takes a published column right after each of ours; a matrix (the 11 x 11 of XQuAD-R) gets
// the published matrix below it, so both stay readable.
import { percent, published, type Reference, type Report, type Table } from "./report.ts";

/** Tables wider than this get references as a separate table rather than interleaved columns. */
const INTERLEAVE_MAX_COLUMNS = 4;

export function renderMarkdown(report: Report, refs: readonly Reference[] = []): string {
  const out: string[] = [`# ${report.title}`, ""];
  for (const [k, v] of report.facts) out.push(`- ${k}: ${v}`);
  out.push("");
  for (const t of report.tables) {
    out.push(`## ${t.title} [${t.id}]`, "");
    const mine = refs.filter((r) =>
      t.rows.some((row) => t.columns.some((c) => published(r, t.id, row.key, c.key) !== undefined)),
    );
    if (mine.length && t.columns.length <= INTERLEAVE_MAX_COLUMNS) out.push(...interleaved(t, mine));
    else {
      out.push(
        ...grid(
          t.rowHeader,
          t.columns.map((c) => c.label),
          t.rows.map((r) => [r.label, ...r.values.map(percent)]),
        ),
      );
      for (const ref of mine) {
        out.push("", `Published: ${ref.name}${ref.source ? `, ${ref.source}` : ""} †`, "");
        out.push(
          ...grid(
            t.rowHeader,
            t.columns.map((c) => c.label),
            t.rows.map((r) => [r.label, ...t.columns.map((c) => mark(published(ref, t.id, r.key, c.key)))]),
          ),
        );
      }
    }
    if (mine.length) out.push("", `† published numbers, copied from the source named; not computed by xlir.`);
    out.push("");
  }
  const unknown = refs.flatMap((r) => unmatched(report, r));
  const notes = [
    ...report.notes,
    ...unknown.map((u) => `Reference value not shown (no such cell here): ${u}.`),
  ];
  if (notes.length) {
    out.push("## Notes", "");
    for (const n of notes) out.push(`- ${n}`);
    out.push("");
  }
  return out.join("\n");
}

const mark = (v: number | undefined) => (v === undefined ? "–" : `${v} †`);

function interleaved(t: Table, refs: readonly Reference[]): string[] {
  const header: string[] = [];
  const cols: ((row: Table["rows"][number]) => string)[] = [];
  t.columns.forEach((c, i) => {
    header.push(c.label);
    cols.push((row) => percent(row.values[i]));
    for (const ref of refs) {
      if (!t.rows.some((row) => published(ref, t.id, row.key, c.key) !== undefined)) continue;
      header.push(`${c.label} (${ref.name}${ref.source ? `, ${ref.source}` : ""}) †`);
      cols.push((row) => mark(published(ref, t.id, row.key, c.key)));
    }
  });
  return grid(
    t.rowHeader,
    header,
    t.rows.map((r) => [r.label, ...cols.map((f) => f(r))]),
  );
}

/** A markdown table: a left-aligned label column, right-aligned numbers. Pipes in text are escaped. */
function grid(rowHeader: string, header: readonly string[], rows: readonly string[][]): string[] {
  const cell = (s: string) => s.replace(/\|/g, "\\|");
  return [
    `| ${[rowHeader, ...header].map(cell).join(" | ")} |`,
    `|${["---", ...header.map(() => "---:")].join("|")}|`,
    ...rows.map((r) => `| ${r.map(cell).join(" | ")} |`),
  ];
}

/** "table.row.column" of reference values that name no cell of the report (typos, other layouts). */
export function unmatched(report: Report, ref: Reference): string[] {
  const out: string[] = [];
  for (const [t, rows] of Object.entries(ref.tables)) {
    const table = report.tables.find((x) => x.id === t);
    for (const [r, cols] of Object.entries(rows))
      for (const c of Object.keys(cols))
        if (!table || !table.rows.some((x) => x.key === r) || !table.columns.some((x) => x.key === c))
          out.push(`${ref.name}: ${t}.${r}.${c}`);
  }
  return out;
}
