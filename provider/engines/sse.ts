/**
 * Reads `data:` payloads from a Server-Sent Events body, one at a time, so a slow consumer slows
 * the reading (and, through TCP, the server) instead of buffering without bound.
 */
export async function* sseData(body: ReadableStream<Uint8Array>): AsyncGenerator<string> {
  const reader = body.getReader();
  const decoder = new TextDecoder();
  let buffer = "";
  try {
    for (;;) {
      const { value, done } = await reader.read();
      if (done) break;
      buffer += decoder.decode(value, { stream: true });
      for (let nl = buffer.indexOf("\n"); nl >= 0; nl = buffer.indexOf("\n")) {
        const line = buffer.slice(0, nl).replace(/\r$/, "");
        buffer = buffer.slice(nl + 1);
        if (line.startsWith("data:")) yield line.slice(5).trimStart();
      }
      if (buffer.length > 1024 * 1024) throw new Error("SSE line too long");
    }
  } finally {
    reader.releaseLock();
  }
}
