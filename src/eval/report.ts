// The report of one `xlir eval run` as plain data: tables in the papers' layouts and one chart.
// Values are fractions as trec_eval computes them (error rates too); renderers print percent.
// Rows and columns have keys (what a reference file names: "ar", "X_Q!=X_C", "mAP@100") and labels
// (what a reader sees), so published numbers line up cell by cell with ours.

export interface Column {
  key: string;
  label: string;
}

export interface Row {
  key: string;
  label: string;
  /** One per column; null where the setting was not run. */
  values: (number | null)[];
}

export interface Table {
  /** Reference files name tables by this id ("pairs", "summary", "bitext"). */
  id: string;
  title: string;
  /** The header of the row-label column ("X_Q \\ X_C", "language"). */
  rowHeader: string;
  columns: Column[];
  rows: Row[];
  /** Lower is better (error rates): said in the title and used for the chart's reading. */
  lowerIsBetter?: boolean;
}

export interface Series {
  /** The column key of a table this series plots (so published numbers can join it). */
  key: string;
  label: string;
  values: (number | null)[];
}

export interface Chart {
  title: string;
  /** The table whose rows are the categories and whose columns the series' keys name. */
  table: string;
  categories: string[];
  series: Series[];
  /** The value axis' label. */
  axis: string;
  lowerIsBetter?: boolean;
}

/** What a task's layout gives: the tables and the chart. */
export interface ReportBody {
  tables: Table[];
  chart: Chart;
}

export interface Report extends ReportBody {
  title: string;
  /** "key: value" facts shown under the title: model, mode, data, sampling. */
  facts: [string, string][];
  notes: string[];
}

/** Published numbers: table id -> row key -> column key -> value, in percent as printed. */
export interface Reference {
  name: string;
  /** Where the numbers come from (paper, table); shown with them. */
  source?: string;
  tables: Record<string, Record<string, Record<string, number>>>;
}

/** Mean of the non-null values; null when there are none. */
export function mean(values: readonly (number | null)[]): number | null {
  const xs = values.filter((v): v is number => v !== null);
  return xs.length ? xs.reduce((a, b) => a + b, 0) / xs.length : null;
}

/** Percent with one decimal, as the papers print (0.61234 -> "61.2"); "–" for a missing value. */
export function percent(v: number | null | undefined): string {
  return v === null || v === undefined ? "–" : (100 * v).toFixed(1);
}

/** A published value for (table, row, column), if the reference has one. */
export function published(ref: Reference, table: string, row: string, column: string): number | undefined {
  const v = ref.tables[table]?.[row]?.[column];
  return typeof v === "number" ? v : undefined;
}
