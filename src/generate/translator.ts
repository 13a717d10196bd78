// What the augmentation pipeline and `xlir translate` need of any machine translation backend:
// texts in one language in, their translations out, in order. Implementations: the in-process
// seq2seq models (NLLB-200 / M2M100, Marian opus-mt) and Apertium's APY server (apertium.ts).

export interface Translator {
  /** The backend's name, recorded in the provenance of what it produced ("nllb", "apertium", ...). */
  readonly name: string;
  /** `from` / `to`: FLORES-200 codes or the aliases xlir accepts (en, spa_Latn, ...). */
  translate(texts: readonly string[], from: string, to: string): Promise<string[]>;
  close?(): Promise<void>;
}
