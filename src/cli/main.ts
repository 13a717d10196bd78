import { Command } from "commander";

/** The xlir command line: one file per command under src/cli, this one only wires them. */
export function program(): Command {
  return new Command("xlir")
    .description("Zero-shot multilingual and cross-lingual retrieval: NLLB-E5, mAggretriever and friends.")
    .version("0.1.0");
}

program().parse();
