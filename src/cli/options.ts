// Options several commands share.

import { Option } from "commander";

/** --dtype: how the encoder runs (see EncoderOptions.dtype); `fallback` names the default in help. */
export const dtypeOption = (fallback: string) =>
  new Option(
    "--dtype <dtype>",
    `encoder precision: float32, or int8 (1.2-1.7x faster on CPU; default: ${fallback})`,
  ).choices(["float32", "int8"]);
