// `xlir translate` as a user runs it (a child process) on the fixture models with the word-per-id
// tokenizers of test/helpers/translation-dirs.ts: lines in and out in order, JSONL records with
// the translation added, --from auto by language id, and one-line errors for what a user can get
// wrong.

import assert from "node:assert/strict";
import { spawnSync } from "node:child_process";
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, describe, it } from "node:test";
import { createSeq2SeqTranslator } from "../../src/generate/seq2seq-translator.ts";
import { seq2seqFolders } from "../helpers/seq2seq-fixtures.ts";
import { repoRoot } from "../helpers/shared.ts";
import { sourceTexts, translationDir, type TranslationDir } from "../helpers/translation-dirs.ts";

const root = mkdtempSync(join(tmpdir(), "xlir-cli-translate-"));
after(() => rmSync(root, { recursive: true, force: true }));

const xlir = (args: string[], input?: string) =>
  spawnSync(process.execPath, [join(repoRoot, "bin", "xlir.js"), "translate", ...args], {
    input,
    encoding: "utf8",
    timeout: 120_000,
  });

const dirs = seq2seqFolders.map((f) => translationDir(f, root));
const greedyArgs = (t: TranslationDir) => [
  "--model",
  t.dir,
  "--threads",
  "1",
  "--beams",
  "1",
  "--max-new-tokens",
  String(t.cases.greedy.generate_kwargs.max_new_tokens),
];
const langs = (t: TranslationDir) => [t.cases.src_lang ?? "eng_Latn", t.cases.tgt_lang ?? "eng_Latn"];

for (const t of dirs) {
  describe(`xlir translate: ${t.cases.fixture}`, () => {
    const texts = sourceTexts(t);
    const want = (t.cases.greedy.sequences as number[][]).map((ids) => t.textOf(ids));
    const [from, to] = langs(t);

    it("standard input lines in, translated lines out, blank lines kept", () => {
      const r = xlir([...greedyArgs(t), "--from", from, "--to", to], `${texts[0]}\n\n${texts[1]}\n`);
      assert.equal(r.status, 0, r.stderr);
      assert.equal(r.stdout, `${want[0]}\n\n${want[1]}\n`);
    });

    it("JSONL: the field's translation added to each record, to a file, with JSON progress", () => {
      const input = join(root, `${t.cases.fixture}.jsonl`);
      const output = join(root, `${t.cases.fixture}.out.jsonl`);
      writeFileSync(input, texts.map((q, i) => JSON.stringify({ id: i, q, keep: [i] })).join("\n") + "\n");
      const r = xlir([
        ...greedyArgs(t),
        ...["--from", from, "--to", to, "--input", input, "--field", "q", "--output", output, "--json"],
      ]);
      assert.equal(r.status, 0, r.stderr);
      assert.equal(r.stdout, "");
      const rows = readFileSync(output, "utf8")
        .trim()
        .split("\n")
        .map((l) => JSON.parse(l));
      assert.deepEqual(
        rows,
        texts.map((q, i) => ({ id: i, q, keep: [i], [`q_${to}`]: want[i] })),
      );
      const events = r.stderr
        .trim()
        .split("\n")
        .map((l) => JSON.parse(l));
      assert.deepEqual(events.at(-1), { event: "progress", done: texts.length, total: texts.length });

      const named = xlir([
        ...greedyArgs(t),
        "--from",
        from,
        "--to",
        to,
        "--input",
        input,
        "--field",
        "q",
        "--out-field",
        "t",
      ]);
      assert.equal(named.status, 0, named.stderr);
      assert.deepEqual(
        named.stdout
          .trim()
          .split("\n")
          .map((l) => JSON.parse(l).t),
        want,
      );
    });
  });
}

describe("xlir translate: --from auto and errors", () => {
  const nllb = dirs.find((t) => t.kind === "nllb");
  const english = "The weather is very nice today and the children are playing in the park.";
  const hindi = "आज मौसम बहुत अच्छा है और बच्चे पार्क में खेल रहे हैं।";

  const auto = nllb && nllb.langIds.has("eng_Latn") && nllb.langIds.has("hin_Deva");
  it("--from auto translates each line from the language it is written in", { skip: !auto }, async () => {
    const t = nllb!;
    const tr = await createSeq2SeqTranslator(t.dir, { threads: 1, beams: 1, maxNewTokens: 12 });
    try {
      // a target for which reading the Hindi line as English gives another translation, so that
      // the output shows which language was detected
      let to: string | undefined;
      for (const code of t.langIds.keys()) {
        const [asHindi, asEnglish] = [
          ...(await tr.translate([hindi], "hin_Deva", code)),
          ...(await tr.translate([hindi], "eng_Latn", code)),
        ];
        if (asHindi !== asEnglish) to = code;
        if (to) break;
      }
      assert.ok(to, "some target tells the two source languages apart");
      // "w44 w34": two words, too few to trust a guess: the language of the others, English
      const short = "w44 w34";
      const want = [
        ...(await tr.translate([english], "eng_Latn", to)),
        ...(await tr.translate([hindi], "hin_Deva", to)),
        ...(await tr.translate([short], "eng_Latn", to)),
      ];
      const r = xlir(
        [...greedyArgs(t), "--from", "auto", "--to", to],
        [english, hindi, short, "", english].join("\n") + "\n",
      );
      assert.equal(r.status, 0, r.stderr);
      assert.equal(r.stdout, [...want, "", want[0]].join("\n") + "\n");
    } finally {
      await tr.close();
    }
  });

  it("one-line errors: unknown language, missing code, empty input, bad JSONL", { skip: !nllb }, () => {
    const t = nllb!;
    const oneLine = (r: ReturnType<typeof xlir>, re: RegExp) => {
      assert.equal(r.status, 1, r.stdout);
      assert.match(r.stderr, re);
      assert.equal(r.stderr.trim().split("\n").length, 1, r.stderr);
    };
    oneLine(
      xlir([...greedyArgs(t), "--from", "eng_Latn", "--to", "xx_Nope"], "a\n"),
      /^xlir: unknown language code "xx_Nope": did you mean/,
    );
    oneLine(
      xlir([...greedyArgs(t), "--from", "eng_Latn", "--to", "deu_Latn"], "a\n"),
      /^xlir: .*has no token for language deu_Latn/,
    );
    oneLine(
      xlir([...greedyArgs(t), "--from", "eng_Latn", "--to", "hin_Deva"], "\n \n"),
      /^xlir: no text to translate in standard input/,
    );
    oneLine(
      xlir([...greedyArgs(t), "--from", "eng_Latn", "--to", "hin_Deva", "--field", "q"], '{"text": "a"}\n'),
      /^xlir: standard input:1: no string field "q"/,
    );
  });
});
