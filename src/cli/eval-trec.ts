import { Command, InvalidArgumentError, Option } from "commander";

import { MEASURE_NAMES } from "../eval/measures.ts";
import { readQrels } from "../eval/qrels.ts";
import { evaluate, formatTrecEval } from "../eval/trec-eval.ts";
import { readRun } from "../eval/trec-run.ts";

const collect = (value: string, previous: string[]) => [...previous, value];

// C's atol, as trec_eval reads -l and -M, but refusing text with no number at all.
const whole = (value: string) => {
  if (!/^\s*[+-]?\d+/.test(value)) throw new InvalidArgumentError("give a whole number.");
  return parseInt(value, 10);
};

/**
 * `xlir eval trec`: trec_eval's command line over xlir's metrics. stdout is trec_eval's text, so it
 * can be diffed against `trec_eval [-q] [-c] [-n] [-l N] [-M N] [-m ...] QRELS RUN`; anything else
 * (queries ignored, errors) goes to stderr.
 */
export function evalTrecCommand(): Command {
  return new Command("trec")
    .description("Evaluate a TREC run against qrels with trec_eval's measures and output format")
    .requiredOption("--qrels <file>", "relevance judgments: TREC qrels (qid 0 docid rel) or BEIR qrels TSV")
    .requiredOption("--run <file>", "results: TREC run (qid Q0 docid rank score tag)")
    .addOption(
      new Option(
        "-m, --measure <measure>",
        `measure as trec_eval takes it, repeatable: map, P.5,10, ndcg_cut.10, recall.100, ... (${MEASURE_NAMES.join(", ")})`,
      )
        .argParser(collect)
        .default([], "official"),
    )
    .option("-q, --per-query", "print each query's values before the summary", false)
    .option("-c, --complete", "average over all qrels queries; those missing from the run score 0", false)
    .option("-l, --level <n>", "least relevance value that counts as relevant for binary measures", whole, 1)
    .option("-M, --max-docs <n>", "evaluate only the first n documents of each ranking", whole)
    .option("-n, --no-summary", "print no summary ('all') lines")
    .option(
      "--ignore-identical-ids",
      "drop run documents whose id equals the query id (BEIR convention)",
      false,
    )
    .action(function (this: Command, o) {
      const out = this.configureOutput();
      try {
        const { run, tag } = readRun(o.run, { dropIdenticalIds: o.ignoreIdenticalIds });
        const result = evaluate(readQrels(o.qrels), run, {
          measures: o.measure,
          level: o.level,
          complete: o.complete,
          maxDocs: o.maxDocs,
          runTag: tag,
          runSource: o.run,
          qrelsSource: o.qrels,
        });
        if (result.ignored.length)
          out.writeErr!(
            `xlir eval trec: ignored ${result.ignored.length} run queries not in ${o.qrels}, as trec_eval does (first: ${result.ignored[0]})\n`,
          );
        out.writeOut!(formatTrecEval(result, { perQuery: o.perQuery, summary: o.summary }));
      } catch (e) {
        this.error(`error: ${(e as Error).message}`);
      }
    });
}
