// The WebSocket class: the platform's (browsers, Node >= 22), else the `ws` package's (Node 20 has no global
// WebSocket without --experimental-websocket). Both speak the WHATWG interface the client uses.

/** @type {Promise<any>|null} */
let found = null;

/**
 * The WebSocket constructor of this platform.
 * @returns {Promise<typeof globalThis.WebSocket>}
 */
export function webSocketClass() {
  found ??= globalThis.WebSocket
    ? Promise.resolve(globalThis.WebSocket)
    : import("ws").then((module) => module.WebSocket ?? module.default);
  return found;
}

/**
 * `url` as a WebSocket URL: relative to the page in a browser (`"/swergio/ws"`), `http(s)` turned into `ws(s)`, with
 * `?token=` added when a token is given and the URL carries none.
 * @param {string} url
 * @param {string|null} [token]
 * @returns {string}
 */
export function hubUrl(url, token = null) {
  const parsed = new URL(url, globalThis.location?.href);
  if (parsed.protocol === "http:") parsed.protocol = "ws:";
  else if (parsed.protocol === "https:") parsed.protocol = "wss:";
  if (token && !parsed.searchParams.has("token")) parsed.searchParams.set("token", token);
  return parsed.href;
}

/**
 * `url` with its token shown as `...` (for logs and errors, which get shared).
 * @param {string} url
 */
export function redact(url) {
  return url.replace(/([?&]token=)[^&#\s]+/, "$1...");
}
