// Aggretriever fixture sets (shared/fixtures/aggretriever*) as model folders the tests can load:
// the fixture's weights, its agg_dim, and a tokenizer.json whose word "w<id>" is token <id>, so a
// fixture row of ids is the text of those words.
import { cpSync, existsSync, mkdtempSync, readFileSync, readdirSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { wordPieceJson } from "../../src/text/wordpiece-json.ts";
import { fixturesRoot } from "./shared.ts";

/** Every aggretriever* folder with a cases.json under the fixtures root; none is an error, not a pass. */
export function aggFixtureSets(): string[] {
  const dirs = existsSync(fixturesRoot)
    ? readdirSync(fixturesRoot, { withFileTypes: true })
        .filter((e) => e.isDirectory() && e.name.startsWith("aggretriever"))
        .map((e) => join(fixturesRoot, e.name))
        .filter((d) => existsSync(join(d, "cases.json")))
    : [];
  if (dirs.length === 0)
    throw new Error(`no aggretriever* fixture set with a cases.json under ${fixturesRoot}`);
  return dirs;
}

export interface AggFixtureConfig {
  vocab_size: number;
  agg_dim: number;
  projection_out_dim: number;
  target_language_token_ids: number[];
  special_ids: Record<string, number>;
}

/**
 * A temp model folder for the fixture set `set`: model/ as it is, aggretriever_config.json with
 * the set's agg_dim, and a word-per-id tokenizer (specials <s> <pad> </s> <unk> at 0..3).
 */
export function aggFixtureFolder(set: string, extra: Record<string, unknown> = {}): string {
  const cfg = JSON.parse(readFileSync(join(set, "aggretriever_config.json"), "utf8")) as AggFixtureConfig;
  const dir = mkdtempSync(join(tmpdir(), "xlir-agg-"));
  cpSync(join(set, "model"), dir, { recursive: true });
  writeFileSync(join(dir, "aggretriever_config.json"), JSON.stringify({ agg_dim: cfg.agg_dim, ...extra }));
  const specials = ["<s>", "<pad>", "</s>", "<unk>"];
  const words = Array.from({ length: cfg.vocab_size - specials.length }, (_, i) => `w${i + specials.length}`);
  const post = {
    type: "RobertaProcessing",
    sep: ["</s>", 2],
    cls: ["<s>", 0],
    trim_offsets: true,
    add_prefix_space: false,
  };
  writeFileSync(join(dir, "tokenizer.json"), JSON.stringify(wordPieceJson(specials, words, "<unk>", post)));
  writeFileSync(
    join(dir, "tokenizer_config.json"),
    JSON.stringify({
      model_max_length: 512,
      pad_token: "<pad>",
      unk_token: "<unk>",
      bos_token: "<s>",
      eos_token: "</s>",
    }),
  );
  return dir;
}

/** The text whose tokens are `ids` between the leading <s> and the trailing </s> (and padding). */
export const textOfIds = (ids: readonly number[], pad = 1) =>
  ids
    .slice(1)
    .filter((t) => t !== pad)
    .slice(0, -1)
    .map((t) => `w${t}`)
    .join(" ");
