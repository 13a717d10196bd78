import { Command, Option } from "commander";

import { MEASURE_NAMES } from "../eval/measures.ts";
import { readQrels } from "../eval/qrels.ts";
import { evaluate, formatTrecEval } from "../eval/trec-eval.ts";
import { readRun } from "../eval/trec-run.ts";
import { integer } from "./options.ts";

const collect = (value: string, previous: string[]) => [...previous, value];

/**
 * `xlir eval trec`: trec_eval's command line over xlir's metrics. stdout is trec_eval's text, so it
 * can be diffed against `trec_eval [-q] [-c] [-n] [-l N] [-M N] [-m ...] QRELS RUN`; anything else
 * (queries ignored, errors) goes to stderr.
 */
export function evalTrecCommand(): Command {
  return (
    new Command("trec")
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
      // trec_eval reads -l with atol and takes any value, 0 and negative ones included; a negative -M
      // would make it count negative documents, so xlir asks for 0 or more.
      .option(
        "-l, --level <n>",
        "least relevance value that counts as relevant for binary measures",
        integer(),
        1,
      )
      .option(
        "-M, --max-docs <n>",
        "evaluate only the first n documents of each ranking",
        integer({ min: 0 }),
      )
      .option("-n, --no-summary", "print no summary ('all') lines")
      .option(
        "--ignore-identical-ids",
        "drop run documents whose id equals the query id (BEIR convention)",
        false,
      )
      .action(function (this: Command, o) {
        const out = this.configureOutput();
        try {
          const { run, tag, duplicates } = readRun(o.run, {
            dropIdenticalIds: o.ignoreIdenticalIds,
            keepDuplicates: true,
          });
          const result = evaluate(readQrels(o.qrels), run, {
            measures: o.measure,
            level: o.level,
            complete: o.complete,
            maxDocs: o.maxDocs,
            runDuplicates: duplicates,
            runTag: tag,
            runSource: o.run,
            qrelsSource: o.qrels,
          });
          if (result.ignored.length)
            out.writeErr!(
              `xlir eval trec: ignored ${result.ignored.length} run queries not in ${o.qrels}, as trec_eval does (first: ${result.ignored[0]})\n`,
            );
          if (result.skipped.length)
            out.writeErr!(
              `xlir eval trec: left out ${result.skipped.length} qrels queries missing from the run (first: ${result.skipped[0]}); -c counts them as 0\n`,
            );
          out.writeOut!(formatTrecEval(result, { perQuery: o.perQuery, summary: o.summary }));
        } catch (e) {
          this.error(`xlir: ${(e as Error).message}`);
        }
      })
  );
}
