// xlir translate: texts in (lines, or JSONL records with a text field), their translations out in
// the same order and shape, through an NLLB-200 / M2M100 or opus-mt (Marian) model run in process.

import { writeFileSync } from "node:fs";
import { Command } from "commander";
import { createSeq2SeqTranslator, TRANSLATION_MODEL_FILES } from "../generate/seq2seq-translator.ts";
import { loadLanguageGuesser, UNDETERMINED } from "../text/langid.ts";
import { resolveNllbLang } from "../text/nllb-langs.ts";
import { resolveModel } from "../weights/hub.ts";
import { readInputLines } from "./input.ts";
import { dtypeOption, integer, positiveInt, threadsOption } from "./options.ts";
import { progressBar } from "./progress.ts";

interface Input {
  /** Standard input or the file, for messages. */
  name: string;
  texts: string[];
  /** JSONL mode: the records the translations are added to. */
  records: Record<string, unknown>[] | null;
  /** 1-based line of each text, for messages. */
  lines: number[];
}

export function translateCommand(): Command {
  return new Command("translate")
    .description("translate texts with an NLLB-200 / M2M100 or opus-mt model (hub id or local folder)")
    .requiredOption("--model <id-or-dir>", "hub id (e.g. facebook/nllb-200-distilled-600M) or model folder")
    .requiredOption(
      "--from <code>",
      "source language: FLORES-200 code or alias (zho_Hans, zh, es), or auto to detect it per text",
    )
    .requiredOption("--to <code>", "target language: FLORES-200 code or alias (eng_Latn, en)")
    .option("--input <file>", "one text per line, or JSONL with --field; - for standard input", "-")
    .option("--field <name>", "read JSONL records and translate this string field (default text for .jsonl)")
    .option("--out-field <name>", "JSONL: the field the translation is written to (default <field>_<to>)")
    .option("--output <file>", "where to write (default: standard output)")
    .option("--batch-size <n>", "texts per generate call", positiveInt, 16)
    .option(
      "--beams <n>",
      "beam width, 1 for greedy (default: the model's generation_config.json)",
      positiveInt,
    )
    .option(
      "--max-new-tokens <n>",
      "longest translation in tokens (default: the model's max_length)",
      integer({ min: 1, max: 100_000 }),
    )
    .addOption(threadsOption())
    .addOption(dtypeOption("float32"))
    .option("--revision <rev>", "hub revision (branch, tag or commit)")
    .option("--json", "progress as JSON lines on standard error")
    .action(async (o) => {
      const to = o.to as string;
      if (to === "auto") throw new Error("--to auto: name the target language, e.g. --to eng_Latn");
      // A misspelt code fails here, before a model is downloaded or loaded.
      resolveNllbLang(to);
      if (o.from !== "auto") resolveNllbLang(o.from);
      const field: string | undefined = o.field ?? (o.input.endsWith(".jsonl") ? "text" : undefined);
      const input = readInput(o.input, field);
      const outField: string = o.outField ?? `${field}_${to}`;

      const dir = await resolveModel(o.model, { files: TRANSLATION_MODEL_FILES, revision: o.revision });
      const tr = await createSeq2SeqTranslator(dir, {
        threads: o.threads,
        beams: o.beams,
        maxNewTokens: o.maxNewTokens,
        batchSize: o.batchSize,
        dtype: o.dtype,
      });
      try {
        // Marian folders hold one source language: nothing to detect.
        const langs =
          o.from === "auto" && tr.name === "nllb"
            ? await detectLanguages(input)
            : input.texts.map(() => o.from as string);
        const total = input.texts.length;
        const bar = o.json ? jsonProgress : progressBar("translating", total);
        const out: string[] = new Array(total);
        let before = 0;
        for (const [lang, idx] of groupBy(langs)) {
          const got = await tr.translate(
            idx.map((i) => input.texts[i]),
            lang,
            to,
            { onProgress: (done) => bar(before + done, total) },
          );
          idx.forEach((i, k) => (out[i] = got[k]));
          before += idx.length;
        }
        const rows = input.records
          ? input.records.map((r, i) => JSON.stringify({ ...r, [outField]: out[i] }))
          : out.map((t) => t.replace(/\r?\n/g, " "));
        const body = rows.join("\n") + "\n";
        if (o.output) writeFileSync(o.output, body);
        else process.stdout.write(body);
      } finally {
        await tr.close();
      }
    });
}

function jsonProgress(done: number, total: number): void {
  process.stderr.write(JSON.stringify({ event: "progress", done, total }) + "\n");
}

function readInput(path: string, field: string | undefined): Input {
  const { name, lines } = readInputLines(path);
  const input: Input = { name, texts: [], records: field === undefined ? null : [], lines: [] };
  lines.forEach((line, i) => {
    if (field === undefined) {
      input.texts.push(line);
      input.lines.push(i + 1);
      return;
    }
    if (!line.trim()) return;
    let obj: unknown;
    try {
      obj = JSON.parse(line);
    } catch (e) {
      throw new Error(
        `${name}:${i + 1}: not valid JSON; give one JSON object per line, or leave out --field`,
        {
          cause: e,
        },
      );
    }
    const text = (obj as Record<string, unknown> | null)?.[field];
    if (typeof obj !== "object" || obj === null || Array.isArray(obj) || typeof text !== "string")
      throw new Error(`${name}:${i + 1}: no string field "${field}"; name the text field with --field`);
    input.records!.push(obj as Record<string, unknown>);
    input.texts.push(text);
    input.lines.push(i + 1);
  });
  if (input.texts.every((t) => t.trim() === ""))
    throw new Error(
      `no text to translate in ${name}: give one text per line${field === undefined ? "" : ` or JSONL records with a "${field}" field`}`,
    );
  return input;
}

/**
 * The language of each text. Detection is unreliable on a few words (see langid.ts), and inputs are
 * usually in one language: a text whose guess is not confident takes the language most confident
 * guesses have (else most guesses) when it is written in that language's script, else its own
 * guess; only text with no guess at all is refused.
 */
async function detectLanguages(input: Input): Promise<string[]> {
  const guess = await loadLanguageGuesser();
  const guesses = input.texts.map((t) => (t.trim() === "" ? null : guess(t)));
  const mostCommon = (confident: boolean): string | undefined => {
    const counts = new Map<string, number>();
    for (const g of guesses)
      if (g && g.lang !== UNDETERMINED && (g.confident || !confident))
        counts.set(g.lang, (counts.get(g.lang) ?? 0) + 1);
    return [...counts].sort((a, b) => b[1] - a[1])[0]?.[0];
  };
  const common = mostCommon(true) ?? mostCommon(false);
  return guesses.map((g, i) => {
    if (g === null) return common ?? "eng_Latn"; // blank: translated to "" whatever the code
    if (g.confident) return g.lang;
    if (common !== undefined && writtenIn(input.texts[i], common)) return common;
    if (g.lang !== UNDETERMINED) return g.lang;
    throw new Error(
      `${input.name}:${input.lines[i]}: cannot tell the language of "${input.texts[i].slice(0, 40)}"; give --from CODE instead of auto`,
    );
  });
}

// NLLB-200 script subtags that are not Unicode script names (Han in two spellings, Japanese and
// Korean writing several scripts).
const SCRIPTS: Record<string, string[]> = {
  Hans: ["Hani"],
  Hant: ["Hani"],
  Jpan: ["Hani", "Hira", "Kana"],
  Kore: ["Hang", "Hani"],
};

/** Whether most letters of `text` are in the script of the NLLB-200 code `lang`. */
function writtenIn(text: string, lang: string): boolean {
  const tag = lang.slice(4);
  let re: RegExp;
  try {
    re = new RegExp(`^[${(SCRIPTS[tag] ?? [tag]).map((s) => `\\p{Script=${s}}`).join("")}]$`, "u");
  } catch {
    return false;
  }
  let letters = 0;
  let inScript = 0;
  for (const ch of text) {
    if (!/\p{L}/u.test(ch)) continue;
    letters++;
    if (re.test(ch)) inScript++;
  }
  return letters > 0 && inScript * 2 > letters;
}

function groupBy(langs: readonly string[]): Map<string, number[]> {
  const groups = new Map<string, number[]>();
  langs.forEach((l, i) => {
    const g = groups.get(l);
    if (g) g.push(i);
    else groups.set(l, [i]);
  });
  return groups;
}
