import { createServer, type Server } from "node:http";
import type { AddressInfo } from "node:net";

/**
 * TEST DOUBLE: a small OpenAI-compatible HTTP server standing in for llama.cpp's server, Ollama
 * or vLLM (no model weights here). It answers "Echo: <last user message>" a word per SSE chunk,
 * with usage in the last chunk when `stream_options.include_usage` is set, as those servers do,
 * and honours what programs ask of such servers:
 * - `tools`: to a user message it answers with a call of the first tool, or of the one
 *   `tool_choice` names, none for `tool_choice: "none"` (arguments made from the
 *   tool's JSON schema, streamed in pieces, `finish_reason: "tool_calls"`); to a `tool` message it
 *   answers "The tool said: <result>"; a last user message starting "say first" has the call
 *   preceded by the text "Let me check. " (two content chunks), as models that talk before calling;
 * - `response_format`: a JSON object matching `json_schema.schema` (strings are the last user
 *   message), or `{"echo": …}` for `json_object`;
 * - `logprobs`/`top_logprobs`: one entry per streamed token, with that many alternatives;
 * - `contextTokens`: a prompt whose usage (below) is over it is refused as llama.cpp's server does
 *   (400 `exceed_context_size_error`);
 * - a last user message starting "fail midway": two words stream, then an `error` event and the
 *   stream ends, as a backend that crashes mid-answer does;
 * - `namelessCalls`: its tool calls carry no `id`, as some llama.cpp and Ollama builds send them;
 * - POST /v1/embeddings: `embedVector(text, dimensions)` per input (8 dimensions unless asked),
 *   floats only, with `usage.prompt_tokens` of `embedTokens(text)` per input.
 */
/** The double's embedding of `text`: deterministic, `dimensions` long, each value in [-0.5, 0.5). */
export function embedVector(text: string, dimensions = 8): number[] {
  let h = 2166136261;
  for (const c of text) h = Math.imul(h ^ c.codePointAt(0)!, 16777619) >>> 0;
  return Array.from({ length: dimensions }, (_, i) => (((h >>> (i % 24)) + i * 7919) % 1000) / 1000 - 0.5);
}

/** The tokens the double says it read for one input: a token per 4 characters, plus 2 markers. */
export const embedTokens = (text: string) => Math.ceil(text.length / 4) + 2;

export interface OpenAiBackend {
  readonly url: string;
  /** Requests the backend saw, for assertions. */
  readonly requests: Record<string, unknown>[];
  /** How many streams were cut short because the client went away. */
  aborted: number;
  close(): Promise<void>;
}

interface Body {
  messages: { role: string; content: string | null; tool_calls?: unknown[] }[];
  max_tokens?: number;
  stream?: boolean;
  stream_options?: { include_usage?: boolean };
  tools?: { function: { name: string; parameters?: JsonSchema } }[];
  tool_choice?: unknown;
  response_format?: { type: string; json_schema?: { schema?: JsonSchema } };
  logprobs?: boolean;
  top_logprobs?: number;
}

interface JsonSchema {
  type?: string;
  properties?: Record<string, JsonSchema>;
  items?: JsonSchema;
  enum?: unknown[];
}

/** A value matching `schema`, its strings set to `text`. */
function sample(schema: JsonSchema | undefined, text: string): unknown {
  if (schema?.enum) return schema.enum[0];
  switch (schema?.type) {
    case "string":
      return text;
    case "number":
    case "integer":
      return 42;
    case "boolean":
      return true;
    case "array":
      return [sample(schema.items, text)];
    default:
      return Object.fromEntries(
        Object.entries(schema?.properties ?? {}).map(([k, s]) => [k, sample(s, text)]),
      );
  }
}

/** Splits text into pieces of about `size` characters (a stand-in for tokens). */
const pieces = (text: string, size: number) => text.match(new RegExp(`[\\s\\S]{1,${size}}`, "g")) ?? [];

export async function startOpenAiBackend(
  opts: { model?: string; tokenDelayMs?: number; contextTokens?: number; namelessCalls?: boolean } = {},
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
    if (req.method === "POST" && req.url === "/v1/embeddings") {
      let raw = "";
      for await (const chunk of req) raw += chunk;
      const body = JSON.parse(raw) as {
        input: string | string[];
        dimensions?: number;
        encoding_format?: string;
      };
      state.requests.push(body as unknown as Record<string, unknown>);
      const inputs = typeof body.input === "string" ? [body.input] : body.input;
      res.writeHead(200, { "content-type": "application/json" });
      res.end(
        JSON.stringify({
          object: "list",
          model,
          data: inputs.map((text, index) => ({
            object: "embedding",
            index,
            embedding: embedVector(text, body.dimensions),
          })),
          usage: { prompt_tokens: inputs.reduce((n, t) => n + embedTokens(t), 0), total_tokens: 0 },
        }),
      );
      return;
    }
    if (req.method !== "POST" || req.url !== "/v1/chat/completions") {
      res.writeHead(404).end();
      return;
    }
    let raw = "";
    for await (const chunk of req) raw += chunk;
    const body = JSON.parse(raw) as Body;
    state.requests.push(body as unknown as Record<string, unknown>);
    const lastMessage = body.messages.at(-1);
    const last = [...body.messages].reverse().find((m) => m.role === "user")?.content ?? "";

    let words: string[];
    let call: { name: string; arguments: string } | undefined;
    let preface: string[] = [];
    // The function named by tool_choice (as llama.cpp's server forces it by grammar), else the first.
    const named = (body.tool_choice as { function?: { name?: unknown } } | undefined)?.function?.name;
    const tool =
      body.tool_choice === "none"
        ? undefined
        : (body.tools?.find((t) => t.function.name === named) ?? body.tools?.[0]);
    if (tool && lastMessage?.role === "user") {
      call = { name: tool.function.name, arguments: JSON.stringify(sample(tool.function.parameters, last)) };
      if (last.startsWith("say first")) preface = ["Let ", "me ", "check. "];
      words = [...preface, ...pieces(call.arguments, 6)];
    } else if (lastMessage?.role === "tool") {
      words = `The tool said: ${lastMessage.content}`.split(/(?<= )/);
    } else if (body.response_format?.type === "json_schema") {
      words = pieces(JSON.stringify(sample(body.response_format.json_schema?.schema, last)), 5);
    } else if (body.response_format?.type === "json_object") {
      words = pieces(JSON.stringify({ echo: last }), 5);
    } else {
      words = `Echo: ${last}`.split(/(?<= )/);
    }
    let finish = call ? "tool_calls" : "stop";
    if (body.max_tokens !== undefined && words.length > body.max_tokens) {
      finish = "length";
      words = words.slice(0, body.max_tokens);
    }
    const usage = {
      prompt_tokens: body.messages.reduce((n, m) => n + Math.ceil((m.content ?? "").length / 4) + 4, 8),
      completion_tokens: words.length,
    };
    if (opts.contextTokens !== undefined && usage.prompt_tokens > opts.contextTokens) {
      res.writeHead(400, { "content-type": "application/json" });
      res.end(
        JSON.stringify({
          error: {
            code: 400,
            message: "the request exceeds the available context size, try increasing it",
            type: "exceed_context_size_error",
            n_prompt_tokens: usage.prompt_tokens,
            n_ctx: opts.contextTokens,
          },
        }),
      );
      return;
    }
    res.writeHead(200, { "content-type": "text/event-stream" });
    let closed = false;
    res.on("close", () => {
      if (!res.writableEnded) {
        closed = true;
        state.aborted++;
      }
    });
    const send = (obj: unknown) => res.write(`data: ${JSON.stringify(obj)}\n\n`);
    const logprobsOf = (token: string, i: number) =>
      body.logprobs
        ? {
            content: [
              {
                token,
                logprob: -0.25 * (i + 1),
                bytes: [...Buffer.from(token)],
                top_logprobs: Array.from({ length: body.top_logprobs ?? 0 }, (_, k) => ({
                  token: k === 0 ? token : `alt${k}`,
                  logprob: -0.25 * (i + 1) - k,
                  bytes: null,
                })),
              },
            ],
          }
        : null;
    const failMidway = last.startsWith("fail midway");
    for (const [i, word] of words.entries()) {
      if (closed) return;
      if (failMidway && i === 2) {
        send({ error: { message: "the backend crashed", type: "server_error" } });
        res.end();
        return;
      }
      if (opts.tokenDelayMs) await new Promise((r) => setTimeout(r, opts.tokenDelayMs));
      const delta =
        call && i >= preface.length
          ? {
              tool_calls: [
                i === preface.length
                  ? {
                      index: 0,
                      ...(!opts.namelessCalls && { id: "call_7" }),
                      type: "function",
                      function: { name: call.name, arguments: word },
                    }
                  : { index: 0, function: { arguments: word } },
              ],
            }
          : { content: word };
      send({
        id: "c",
        object: "chat.completion.chunk",
        model,
        choices: [{ index: 0, delta, finish_reason: null, logprobs: logprobsOf(word, i) }],
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
