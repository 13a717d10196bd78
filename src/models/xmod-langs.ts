// Language codes -> X-MOD adapter names. X-MOD names its adapters `xx_YY` (config `languages`:
// "en_XX", "de_DE", "hi_IN", "sw_KE", "zh_TW", ...), whose first part is the ISO 639-1 code. A
// caller may give that name, a 2-letter code ("hi"), a FLORES-200 / NLLB code ("hin_Deva",
// "swh_Latn") or a BCP-47 tag ("hi-IN"): each goes through resolveNllbLang to one NLLB code, which
// is compared with the NLLB code of each adapter's ISO part; Chinese is told apart by script
// (zh_TW = zho_Hant, zh_CN = zho_Hans).

import { resolveNllbLang } from "../text/nllb-langs.ts";

/** NLLB codes of adapters whose ISO part alone does not say which one (script, or no NLLB language). */
const BY_ADAPTER: Record<string, string> = {
  zh_TW: "zho_Hant",
  zh_CN: "zho_Hans",
};

function nllbOfAdapter(name: string): string | undefined {
  if (Object.hasOwn(BY_ADAPTER, name)) return BY_ADAPTER[name];
  try {
    return resolveNllbLang(name.split("_")[0]);
  } catch {
    return undefined; // e.g. la_VA: Latin is not an NLLB-200 language
  }
}

export interface ResolveAdapterOptions {
  /** The adapter to use for a language the model has none for (e.g. "en_XX"); default: refuse. */
  fallback?: string;
}

/**
 * The adapter name (one of `languages`) for `code`; a language without an adapter is a one-line
 * error listing the available ones, unless `fallback` names one.
 */
export function resolveXmodLanguage(
  code: string,
  languages: readonly string[],
  opts: ResolveAdapterOptions = {},
): string {
  if (opts.fallback !== undefined && !languages.includes(opts.fallback))
    throw new Error(
      `adapter fallback "${opts.fallback}" is not an adapter of this model; available: ${languages.join(", ")}`,
    );
  if (typeof code === "string" && languages.includes(code)) return code;
  const trimmed = typeof code === "string" ? code.trim() : "";
  const ci = languages.find((l) => l.toLowerCase() === trimmed.replace(/-/g, "_").toLowerCase());
  if (ci) return ci;
  let nllb: string | undefined;
  try {
    nllb = resolveNllbLang(trimmed);
  } catch {
    nllb = undefined;
  }
  const hit = nllb === undefined ? undefined : languages.find((l) => nllbOfAdapter(l) === nllb);
  if (hit) return hit;
  if (opts.fallback !== undefined) return opts.fallback;
  throw new Error(
    `language ${JSON.stringify(code)}${nllb && nllb !== code ? ` (${nllb})` : ""} has no X-MOD adapter in this model; available: ${languages.join(", ")} (or give an adapter fallback such as adapterFallback: "${languages[0]}")`,
  );
}
