import type { IncomingMessage } from "node:http";
import { HttpError, invalidRequest } from "./http-errors";

/** Past this much discarded body the connection is cut: a client that keeps sending is not listening. */
const MAX_DISCARD_BYTES = 64 * 1024 * 1024;

/**
 * Reads a request body up to `limit` bytes. A larger body is read to its end and thrown away
 * before the 413 goes out: answering while the client is still sending would reset the
 * connection under it, and it would see that instead of the status.
 */
export function readBody(req: IncomingMessage, limit: number): Promise<string> {
  return new Promise((resolve, reject) => {
    const parts: Buffer[] = [];
    let size = 0;
    const declared = Number(req.headers["content-length"] ?? Number.NaN);
    let over = declared > limit;
    req.on("data", (c: Buffer) => {
      size += c.length;
      if (size > limit) over = true;
      if (!over) parts.push(c);
      else if (size > MAX_DISCARD_BYTES) req.destroy();
    });
    req.on("end", () => {
      if (over)
        reject(
          new HttpError(
            413,
            "invalid_request_error",
            "request_too_large",
            `the body is over ${limit} bytes; send a shorter conversation`,
          ),
        );
      else {
        // Strictly: a lenient decode would turn bad bytes into U+FFFD, changing the prompt unseen.
        try {
          resolve(new TextDecoder("utf-8", { fatal: true }).decode(Buffer.concat(parts)));
        } catch {
          reject(invalidRequest("invalid_json", "the body is not valid UTF-8"));
        }
      }
    });
    req.on("error", reject);
  });
}
