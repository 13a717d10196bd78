// Errors as the OpenAI API writes them: {"error": {"message", "type", "param", "code"}}, so the
// official clients (and LangChain / LlamaIndex on top of them) surface our message as theirs. Every
// route answers bad input with one of these: a 4xx, one line that names the field and the fix.

export class ApiError extends Error {
  constructor(
    readonly status: number,
    message: string,
    /** The request field at fault ("input[3]", "model"), or null. */
    readonly param: string | null = null,
    readonly code: string | null = null,
    /** Extra response headers (Retry-After on 429). */
    readonly headers: Record<string, string> = {},
  ) {
    super(message);
  }

  get type(): string {
    if (this.status === 401) return "authentication_error";
    if (this.status === 404) return "not_found_error";
    if (this.status === 429) return "rate_limit_error";
    return this.status < 500 ? "invalid_request_error" : "server_error";
  }

  body(): { error: { message: string; type: string; param: string | null; code: string | null } } {
    return { error: { message: this.message, type: this.type, param: this.param, code: this.code } };
  }
}

export const badRequest = (param: string, message: string) => new ApiError(400, message, param);

/** A JSON object body, or a 400 that says what came instead. */
export function objectBody(body: unknown): Record<string, unknown> {
  if (typeof body !== "object" || body === null || Array.isArray(body))
    throw new ApiError(400, "the request body must be a JSON object", null, "invalid_body");
  return body as Record<string, unknown>;
}

/** An optional field of one of the given types, or a 400 naming it. */
export function field<T>(
  o: Record<string, unknown>,
  name: string,
  check: (v: unknown) => v is T,
  what: string,
): T | undefined {
  const v = o[name];
  if (v === undefined || v === null) return undefined;
  if (!check(v)) throw badRequest(name, `"${name}" must be ${what}, got ${describe(v)}`);
  return v;
}

export const isString = (v: unknown): v is string => typeof v === "string";
export const isBool = (v: unknown): v is boolean => typeof v === "boolean";
export const isPositiveInt = (v: unknown): v is number => Number.isInteger(v) && (v as number) >= 1;
export const isNumber = (v: unknown): v is number => typeof v === "number" && Number.isFinite(v);

/** A value in an error message: short, and its JSON type. */
export function describe(v: unknown): string {
  if (Array.isArray(v)) return `an array of ${v.length}`;
  if (v === null) return "null";
  if (typeof v === "object") return "an object";
  const s = JSON.stringify(v) ?? String(v);
  return `${typeof v} ${s.length > 40 ? s.slice(0, 37) + "..." : s}`;
}
