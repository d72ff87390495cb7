import { createServer, type Server } from "node:http";
import type { AddressInfo } from "node:net";

/**
 * TEST DOUBLE: a small OpenAI-compatible HTTP server standing in for llama.cpp's server, Ollama
 * or vLLM (no model weights here). It answers "Echo: <last user message>" a word per SSE chunk,
 * with usage in the last chunk when `stream_options.include_usage` is set, as those servers do.
 */
export interface OpenAiBackend {
  readonly url: string;
  /** Requests the backend saw, for assertions. */
  readonly requests: Record<string, unknown>[];
  /** How many streams were cut short because the client went away. */
  aborted: number;
  close(): Promise<void>;
}

export async function startOpenAiBackend(
  opts: { model?: string; tokenDelayMs?: number } = {},
): Promise<OpenAiBackend> {
  const model = opts.model ?? "backend-model";
  const state: OpenAiBackend = {
    url: "",
    requests: [],
    aborted: 0,
    close: () =>
      new Promise((resolve) => {
        server.close(() => resolve());
        server.closeAllConnections();
      }),
  };
  const server: Server = createServer(async (req, res) => {
    if (req.method === "GET" && req.url === "/v1/models") {
      res.writeHead(200, { "content-type": "application/json" });
      res.end(JSON.stringify({ object: "list", data: [{ id: model, object: "model" }] }));
      return;
    }
    if (req.method !== "POST" || req.url !== "/v1/chat/completions") {
      res.writeHead(404).end();
      return;
    }
    let raw = "";
    for await (const chunk of req) raw += chunk;
    const body = JSON.parse(raw) as {
      messages: { role: string; content: string }[];
      max_tokens?: number;
      stream?: boolean;
      stream_options?: { include_usage?: boolean };
    };
    state.requests.push(body);
    const last = [...body.messages].reverse().find((m) => m.role === "user")?.content ?? "";
    let words = `Echo: ${last}`.split(/(?<= )/);
    const finish = body.max_tokens !== undefined && words.length > body.max_tokens ? "length" : "stop";
    if (body.max_tokens !== undefined) words = words.slice(0, body.max_tokens);
    const usage = {
      prompt_tokens: body.messages.reduce((n, m) => n + Math.ceil(m.content.length / 4) + 4, 8),
      completion_tokens: words.length,
    };
    res.writeHead(200, { "content-type": "text/event-stream" });
    let closed = false;
    res.on("close", () => {
      if (!res.writableEnded) {
        closed = true;
        state.aborted++;
      }
    });
    const send = (obj: unknown) => res.write(`data: ${JSON.stringify(obj)}\n\n`);
    for (const word of words) {
      if (closed) return;
      if (opts.tokenDelayMs) await new Promise((r) => setTimeout(r, opts.tokenDelayMs));
      send({
        id: "c",
        object: "chat.completion.chunk",
        model,
        choices: [{ index: 0, delta: { content: word }, finish_reason: null }],
      });
    }
    send({
      id: "c",
      object: "chat.completion.chunk",
      model,
      choices: [{ index: 0, delta: {}, finish_reason: finish }],
    });
    if (body.stream_options?.include_usage) {
      send({
        id: "c",
        object: "chat.completion.chunk",
        model,
        choices: [],
        usage: { ...usage, total_tokens: usage.prompt_tokens + usage.completion_tokens },
      });
    }
    res.end("data: [DONE]\n\n");
  });
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  return Object.assign(state, { url: `http://127.0.0.1:${(server.address() as AddressInfo).port}/v1` });
}
