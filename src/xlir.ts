/**
 * xlir as a library: `import { Encoder, Collection, search } from "xlir"`. The same functions the
 * `xlir` command calls (the CLI itself lives in cli/main.ts and is not exported), one group per
 * folder:
 *
 * - encode/   `Encoder.load(idOrDir)` then `embed(texts, { role, lang })`: any supported checkpoint,
 *             Aggretriever folders included (`agg` options). `ColbertModel.load(dir)` then
 *             `encodeQueries` / `encodeDocuments(texts, { lang })` and `maxSim`: ColBERT(-XM).
 * - generate/ `Seq2Seq.load(dir)` then `generate(idRows, { numBeams, ... })`: NLLB-200 / M2M100 and
 *             Marian (opus-mt) translation on token ids, greedy or beam search; text translators
 *             (`createSeq2SeqTranslator`, `ApertiumClient`) behind one `Translator` interface.
 * - models/   Aggretriever folders (read, write heads) and agg* itself.
 * - index/    collections: `Collection.openOrCreate` / `open` / `exists`, `deleteCollection`,
 *             `listCollections`; `addDocuments` / `deleteDocuments` / `buildAnnIndex` (indexer),
 *             `readDocuments` (JSONL, BEIR, TSV, folders), `search` (dense, BM25, hybrid).
 * - eval/     trec_eval-exact `evaluate` over qrels and runs (read, parse, write), the per-query
 *             measures over a `judge`d ranking, tasks (`loadTask`, `runTask`) and `runBenchmark`
 *             (what `xlir eval run` does, reports included).
 * - train/    `distill`: NLLB-E5 distillation (what `xlir distill` does).
 * - serve/    `startServer(opts)`: what `xlir serve` runs (OpenAI/TEI embeddings, collections,
 *             search, web UI) in this process; `close()` shuts it down gracefully.
 * - weights/  safetensors read/write, Hugging Face hub download into the standard cache
 *             (`resolveModel`, `resolveDataset`), config.json, sentence-transformers folders.
 * - text/     tokenizers, language identification, NLLB-200 language codes, BM25 analyzers.
 *
 * A plain list of named re-exports: exporting something more is one line.
 */

// encode/
export { Encoder } from "./encode/encoder.ts";
export type { EmbedOptions, Embeddings, EncoderDType, EncoderOptions } from "./encode/encoder.ts";
export { npyBytes } from "./encode/npy.ts";
export type { AggOptions, AggTarget } from "./encode/aggretriever.ts";
export { ColbertModel, maxSim, maxSimMatrix } from "./encode/colbert.ts";
export type { ColbertEncodeOptions, ColbertInput, ColbertOptions, TokenVectors } from "./encode/colbert.ts";

// generate/
export { ApertiumClient } from "./generate/apertium.ts";
export { startApertium } from "./generate/apertium-server.ts";
export { Seq2Seq } from "./generate/seq2seq.ts";
export { createSeq2SeqTranslator, TRANSLATION_MODEL_FILES } from "./generate/seq2seq-translator.ts";
export type { Seq2SeqTranslator, Seq2SeqTranslatorOptions } from "./generate/seq2seq-translator.ts";
export type { Translator } from "./generate/translator.ts";
export type { GenerateOptions, GenerationSettings } from "./generate/generation-config.ts";
export type { Hypothesis } from "./generate/hypothesis.ts";

// models/: Aggretriever
export { aggAlgorithm, aggregate } from "./models/agg-star.ts";
export type { AggAlgorithm } from "./models/agg-star.ts";
export { AGG_MODES } from "./models/aggretriever.ts";
export type { AggMode, AggSpec } from "./models/aggretriever.ts";
export {
  freshAggretrieverHeads,
  initAggretriever,
  isAggretrieverFolder,
  readAggretrieverFolder,
  writeAggretrieverHeads,
} from "./models/aggretriever-folder.ts";
export type { AggDefaults, AggInit } from "./models/aggretriever-folder.ts";

// index/: collections, indexing, search
export { Collection, deleteCollection, encoderSpec, DEFAULT_ANN_THRESHOLD } from "./index/collection.ts";
export type { CollectionInfo, CreateOptions, LocateOptions } from "./index/collection.ts";
export { addDocuments, buildAnnIndex, deleteDocuments } from "./index/indexer.ts";
export type { AddOptions, AddProgress, Duplicate, DuplicatePolicy } from "./index/indexer.ts";
export { checkCollection } from "./index/check.ts";
export type { CheckOptions, CheckReport, Problem } from "./index/check.ts";
export { repairCollection } from "./index/repair.ts";
export type { RepairOptions, RepairReport } from "./index/repair.ts";
export { countDocuments, detectFormat, INPUT_FORMATS, readDocuments } from "./index/ingest.ts";
export type { InputDoc, InputFormat, ReadOptions } from "./index/ingest.ts";
export { queryLanguage, search, searchDetailed } from "./index/search.ts";
export type { FusionMethod, SearchHit, SearchMode, SearchOptions, SearchResult } from "./index/search.ts";
export type { Bm25TermScore, FusionPart, Highlight, HitExplain } from "./index/explain.ts";
export { collectionPath, collectionsDir, listCollections, xlirHome } from "./index/home.ts";
export { formatDocScore, parseDocScore } from "./index/doc-score.ts";
export type { DocScore } from "./index/doc-score.ts";
export { parseFilters } from "./index/filter.ts";
export type { Filter } from "./index/filter.ts";
export { reciprocalRankFusion, RRF_K, weightedFusion } from "./index/fusion.ts";
export { describeEncoder } from "./index/manifest.ts";
export type { EncoderSpec, Manifest, Similarity } from "./index/manifest.ts";

// eval/: trec_eval, qrels and runs, per-query measures, tasks, benchmarks
export { evaluate, formatTrecEval } from "./eval/trec-eval.ts";
export { readTopics } from "./eval/topics.ts";
export type { Topic } from "./eval/topics.ts";
export type { EvalOptions, EvalResult, QueryResult, Value } from "./eval/trec-eval.ts";
export { MEASURE_NAMES } from "./eval/measures.ts";
export { formatQrels, parseQrels, readQrels, writeQrels } from "./eval/qrels.ts";
export type { Qrels, QrelsFormat } from "./eval/qrels.ts";
export { formatRun, parseRun, readRun, writeRun } from "./eval/trec-run.ts";
export type { Run, RunFile, RunReadOptions } from "./eval/trec-run.ts";
export { judge, rankDocs } from "./eval/ranking.ts";
export type { Judged } from "./eval/ranking.ts";
export {
  averagePrecision,
  bpref,
  dcg,
  idealDcg,
  ndcg,
  precision,
  recall,
  recipRank,
  rPrecision,
  success,
} from "./eval/metrics.ts";
export { loadTask, TASK_HELP } from "./eval/tasks/registry.ts";
export type { TaskOptions } from "./eval/tasks/registry.ts";
export type { EvalTask, Setting, SettingMetrics, TextSet } from "./eval/tasks/task.ts";
export { runTask } from "./eval/run-task.ts";
export type { Mode, RunTaskOptions, TaskRun } from "./eval/run-task.ts";
export { cachedEmbedder, defaultCacheDir } from "./eval/embed-cache.ts";
export type { Embedder, EmbedderOptions } from "./eval/embed-cache.ts";
export { BM25, runBenchmark } from "./eval/benchmark.ts";
export type { BenchmarkOptions, BenchmarkResult } from "./eval/benchmark.ts";

// train/
export { distill, trainingDir } from "./train/distill.ts";
export type { DistillConfig, DistillHooks, DistillResult, TrainableSet } from "./train/distill.ts";
export { readTrainingTexts } from "./train/data.ts";
export { fineTune, splitByLanguage } from "./train/fine-tune.ts";
export type { FineTuneConfig, FineTuneResult, LossName } from "./train/fine-tune.ts";
export { contrastiveLoss, lossSpec } from "./train/losses.ts";
export { aggretrieverHead } from "./train/aggretriever-head.ts";
export { augmentQueries, augmentToFile } from "./train/augment.ts";
export type { AugmentOptions, AugmentSummary } from "./train/augment.ts";
export { filterVariants, DEFAULT_FILTERS } from "./train/augment-filters.ts";
export type { FilterOptions } from "./train/augment-filters.ts";
export { LlmParaphraser, NoParaphraser, PivotParaphraser } from "./train/paraphrase.ts";
export type { Paraphraser } from "./train/paraphrase.ts";
export type { LossSpec, Similarity as LossSimilarity } from "./train/losses.ts";
export { LangWeights, lowResourceTable, parseLangWeights } from "./train/lang-weights.ts";
export type { Weighting } from "./train/lang-weights.ts";
export { loadPairs, readPairs } from "./train/pairs.ts";
export type { PairExample, ReadPairsOptions } from "./train/pairs.ts";
export { mineToFile, parseRanks } from "./index/mine.ts";
export { buildAggVocab, collectionAggVocab } from "./index/agg-vocab.ts";
export { readAggVocab, writeAggVocab } from "./encode/agg-vocab-file.ts";
export type { AggVocab } from "./encode/agg-vocab-file.ts";
export type { MineOptions, MineStats } from "./index/mine.ts";

// weights/: safetensors, hub, configs
export {
  readSafetensors,
  readSafetensorsHeader,
  SafetensorsFile,
  serializeSafetensors,
  writeSafetensors,
} from "./weights/safetensors.ts";
export type { Dtype, Tensor } from "./weights/safetensors.ts";
export { HubFilesMissingError, parseModelId, resolveDataset, resolveModel } from "./weights/hub.ts";
export type { DownloadProgress, ResolveOptions } from "./weights/hub.ts";
export { readConfig } from "./weights/config.ts";
export type { ModelConfig } from "./weights/config.ts";
export { readSentenceTransformers } from "./weights/sentence-transformers.ts";

// text/
export { loadTokenizer } from "./text/tokenizer.ts";
export type { TextTokenizer } from "./text/tokenizer.ts";
export {
  loadMarianTokenizer,
  loadSentencePieceTokenizer,
  readSentencePieceModel,
  sentencePieceToTokenizerJson,
} from "./text/sentencepiece.ts";
export type { MarianTokenizer, SentencePieceModel, SentencePieceTokenizer } from "./text/sentencepiece.ts";
export { loadLanguageDetector } from "./text/langid.ts";
export { NLLB_LANGS, resolveNllbLang } from "./text/nllb-langs.ts";
export { analyze } from "./text/analyzer.ts";

// serve/
export { startServer } from "./serve/server.ts";
export type { ServeOptions, XlirServer } from "./serve/server.ts";
