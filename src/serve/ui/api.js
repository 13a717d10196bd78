// @ts-check
// The server's JSON API, same origin. The API key (when the server has keys) is kept in
// localStorage and sent as "Authorization: Bearer KEY"; errors come back as ApiError with the
// server's one-line message ({"error": {"message", ...}}).

const KEY = "xlir.apiKey";

export const getKey = () => localStorage.getItem(KEY) ?? "";

/** @param {string} key an empty one forgets it */
export function setKey(key) {
  if (key) localStorage.setItem(KEY, key);
  else localStorage.removeItem(KEY);
}

export class ApiError extends Error {
  /**
   * @param {number} status
   * @param {string} message
   * @param {string | null} [code]
   */
  constructor(status, message, code = null) {
    super(message);
    this.status = status;
    this.code = code;
  }
}

/**
 * GET `path`, or POST `body` as JSON to it; the parsed JSON answer.
 * @param {string} path
 * @param {unknown} [body]
 * @returns {Promise<any>}
 */
export async function api(path, body) {
  /** @type {Record<string, string>} */
  const headers = {};
  const key = getKey();
  if (key) headers.Authorization = `Bearer ${key}`;
  if (body !== undefined) headers["Content-Type"] = "application/json";
  let res;
  try {
    res = await fetch(path, {
      method: body === undefined ? "GET" : "POST",
      headers,
      body: body === undefined ? undefined : JSON.stringify(body),
    });
  } catch (e) {
    throw new ApiError(
      0,
      `cannot reach the server (${/** @type {Error} */ (e).message}): is xlir serve running?`,
    );
  }
  const json = await res.json().catch(() => null);
  if (!res.ok) {
    const err = json?.error;
    throw new ApiError(
      res.status,
      typeof err?.message === "string" ? err.message : `${res.status} ${res.statusText}`,
      err?.code ?? null,
    );
  }
  return json;
}
