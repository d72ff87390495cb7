import type { IncomingHttpHeaders, OutgoingHttpHeaders } from "node:http";
import { HttpError } from "./http-errors";

/**
 * Whoever reaches the gateway spends the escrow, and a web page the user visits can reach a
 * loopback port: a cross-origin `fetch` with a `text/plain` body needs no CORS preflight, and
 * DNS rebinding makes a page's own origin resolve to 127.0.0.1. Browsers name the page in
 * `Origin`; programs (OpenAI's clients, curl) send none. So a request from a page that is not on
 * this machine is refused, and a body must be JSON, which no page may send cross-origin unasked.
 */
const LOOPBACK: ReadonlySet<string> = new Set(["localhost", "127.0.0.1", "[::1]"]);

export function refusedOrigin(headers: IncomingHttpHeaders): HttpError | undefined {
  const origin = headers.origin;
  if (origin === undefined) return undefined;
  let host: string | undefined;
  try {
    host = new URL(origin).hostname;
  } catch {
    host = undefined; // `null` (a sandboxed frame, a file) or garbage: not a page on this machine
  }
  if (host !== undefined && LOOPBACK.has(host)) return undefined;
  return new HttpError(
    403,
    "permission_error",
    "cross_origin_refused",
    "requests from web pages of other origins are refused: they would spend your escrow; call the gateway from a program",
  );
}

/**
 * A body that is not declared JSON (a form, `text/plain`), declared in a charset other than UTF-8,
 * or compressed: 415, saying what to send.
 */
export function refusedContentType(headers: IncomingHttpHeaders): HttpError | undefined {
  const encoding = headers["content-encoding"];
  if (encoding !== undefined && !/^\s*identity\s*$/i.test(encoding))
    return new HttpError(
      415,
      "invalid_request_error",
      "unsupported_media_type",
      `content-encoding ${encoding.slice(0, 40)}: send the body uncompressed`,
      "content-encoding",
    );
  const type = headers["content-type"];
  // JSON is UTF-8 (RFC 8259 §8.1) and read as UTF-8: a body declared in another charset would be
  // misread where its bytes happen to be UTF-8 too ("cafÃ©" for latin-1's "café").
  const charset = type === undefined ? undefined : /;\s*charset\s*=\s*"?([^";\s]*)/i.exec(type)?.[1];
  const notUtf8 = charset !== undefined && !/^(utf-?8|us-ascii)$/i.test(charset);
  const json = type === undefined || /^application\/([\w.+-]+\+)?json\s*(;|$)/i.test(type);
  if (json && !notUtf8) return undefined;
  // What to send first, as OpenAI's own refusal says it expects JSON: then the charset, if that is wrong too.
  const message = json
    ? `charset=${charset?.slice(0, 40)}: JSON is read as UTF-8 only; send the body as UTF-8`
    : `the body must be JSON sent with content-type: application/json, not ${type?.slice(0, 60)}${notUtf8 ? " (and in UTF-8: JSON is read as UTF-8 only)" : ""}`;
  return new HttpError(415, "invalid_request_error", "unsupported_media_type", message, "content-type");
}

/**
 * CORS for a page on this machine (a local app calling the gateway with `fetch`): it names its
 * origin, which is then allowed to read the answer and the headers clients read. None for a
 * program (no `Origin`); another origin never gets this far (`refusedOrigin`).
 */
export function corsHeaders(headers: IncomingHttpHeaders): OutgoingHttpHeaders {
  if (headers.origin === undefined) return {};
  return {
    "access-control-allow-origin": headers.origin,
    "access-control-expose-headers": "x-request-id, retry-after",
    vary: "origin",
  };
}

/** The answer to a preflight (`OPTIONS` with `Access-Control-Request-Method`) from such a page. */
export function preflightHeaders(headers: IncomingHttpHeaders): OutgoingHttpHeaders {
  const asked = headers["access-control-request-headers"];
  return {
    ...corsHeaders(headers),
    "access-control-allow-methods": "GET, POST",
    // OpenAI's clients send their own (`x-stainless-*`, `openai-*`): whatever the page asks is let in.
    ...(asked && { "access-control-allow-headers": asked.slice(0, 2_000) }),
    "access-control-max-age": "600",
    vary: "origin, access-control-request-headers",
  };
}
