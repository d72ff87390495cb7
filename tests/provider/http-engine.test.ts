import { createServer } from "node:http";
import { type AddressInfo, createServer as createNetServer, type Socket } from "node:net";
import { afterAll, beforeAll, describe, expect, it, vi } from "vitest";
import { HttpEngine } from "../../provider/engines/http-engine";
import { EngineError } from "../../web/engines/engine";
import { consumeChunks, type OpenAiChunkLike } from "../../web/engines/openai-chunks";
import { type OpenAiBackend, startOpenAiBackend } from "../doubles/openai-backend";
import { endsWithin } from "../support/hang-guard";

let backend: OpenAiBackend;
beforeAll(async () => {
  backend = await startOpenAiBackend({ tokenDelayMs: 2 });
});
afterAll(() => backend.close());

describe("HTTP engine in front of an OpenAI-compatible server", () => {
  it("streams text with counts and takes prompt tokens from the server's usage", async () => {
    const engine = new HttpEngine({ baseUrl: backend.url });
    await engine.load("backend-model");
    const chunks: string[] = [];
    const result = await engine.generate(
      { model: "backend-model", messages: [{ role: "user", content: "hello there" }], max_tokens: 50 },
      (c) => {
        chunks.push(c.text);
      },
    );
    expect(chunks.join("")).toBe("Echo: hello there");
    expect(result).toEqual({ finishReason: "stop", promptTokens: 8 + 3 + 4, completionTokens: 3 });
    expect(backend.requests.at(-1)).toMatchObject({
      stream: true,
      stream_options: { include_usage: true },
      max_tokens: 50,
    });
  });

  it("reports length when max_tokens cuts the answer", async () => {
    const engine = new HttpEngine({ baseUrl: backend.url });
    await engine.load("backend-model");
    const result = await engine.generate(
      { model: "backend-model", messages: [{ role: "user", content: "a b c d" }], max_tokens: 2 },
      () => undefined,
    );
    expect(result.finishReason).toBe("length");
    expect(result.completionTokens).toBe(2);
  });

  it("aborts the backend stream on cancel", async () => {
    const engine = new HttpEngine({ baseUrl: backend.url });
    await engine.load("backend-model");
    const abort = new AbortController();
    const before = backend.aborted;
    const long = Array.from({ length: 300 }, (_, i) => `w${i}`).join(" ");
    let n = 0;
    const result = await engine.generate(
      { model: "backend-model", messages: [{ role: "user", content: long }] },
      () => {
        if (++n === 3) abort.abort();
      },
      abort.signal,
    );
    expect(result.finishReason).toBe("abort");
    expect(result.completionTokens).toBeLessThan(10);
    // The backend sees the closed connection when its next write fails: soon, not at a set time.
    await vi.waitFor(() => expect(backend.aborted).toBe(before + 1), { timeout: 5_000, interval: 20 });
  });

  it("refuses a model the backend does not serve, and an unreachable backend, with clear errors", async () => {
    await expect(new HttpEngine({ baseUrl: backend.url }).load("other")).rejects.toThrow(
      /does not serve other/,
    );
    await expect(new HttpEngine({ baseUrl: "http://127.0.0.1:1/v1" }).load("x")).rejects.toBeInstanceOf(
      EngineError,
    );
    // A base URL without its /v1 (Ollama's http://127.0.0.1:11434) is told where the API is.
    const root = backend.url.slice(0, -"/v1".length);
    await expect(new HttpEngine({ baseUrl: root }).load("backend-model")).rejects.toThrow(
      `backend answered 404 to GET ${root}/models: OpenAI-compatible servers answer under /v1 (--backend ${root}/v1)`,
    );
  });
});

describe("an engine's stream of one byte per chunk", () => {
  async function* bytes(text: string, perChunk: number, usage: number): AsyncGenerator<OpenAiChunkLike> {
    for (const c of text) yield { choices: [{ delta: { content: c } }], silkTokens: perChunk };
    yield { choices: [{ delta: {}, finish_reason: "stop" }] };
    yield { usage: { prompt_tokens: 3, completion_tokens: usage } };
  }

  it("bills at most the answer's bytes plus its special tokens, what the requester can check", async () => {
    const counts: number[] = [];
    const result = await consumeChunks(
      bytes("abcdefghij", 2, 20),
      (c) => void counts.push(c.tokens),
      undefined,
    );
    // Ten bytes bill at most 10 + 4 tokens, however the engine groups them.
    expect(result.completionTokens).toBe(14);
    expect(counts.reduce((a, b) => a + b, 0)).toBe(14);
  });

  it("bills an honest engine's stop token on top of one token a byte", async () => {
    const counts: number[] = [];
    const result = await consumeChunks(
      bytes("abcdefghij", 1, 11),
      (c) => void counts.push(c.tokens),
      undefined,
    );
    expect(result.completionTokens).toBe(11);
    expect(counts).toEqual([...Array(10).fill(1), 1]);
  });
});

describe("a backend that does not stream a whole answer", () => {
  /** A backend that answers each chat with `body` under `type` (its model list as any server's). */
  async function misbehaving(type: string, body: string) {
    const server = createServer(async (req, res) => {
      if (req.url === "/v1/models") return void res.end(JSON.stringify({ data: [{ id: "m" }] }));
      for await (const _ of req);
      res.writeHead(200, { "content-type": type });
      res.end(body);
    });
    await new Promise<void>((r) => server.listen(0, "127.0.0.1", r));
    const engine = new HttpEngine({
      baseUrl: `http://127.0.0.1:${(server.address() as AddressInfo).port}/v1`,
    });
    await engine.load("m");
    const streamed: string[] = [];
    const outcome = await engine
      .generate({ model: "m", messages: [{ role: "user", content: "x" }] }, (c) => {
        streamed.push(c.text);
      })
      .catch((e: unknown) => e);
    server.close();
    return { outcome, streamed: streamed.join("") };
  }
  const piece = (content: string) =>
    `data: ${JSON.stringify({ choices: [{ index: 0, delta: { content }, finish_reason: null }] })}\n\n`;

  it("is a typed backend failure, never an answer ending 'stop' with what came, or nothing", async () => {
    // Each of these was a whole answer to the requester: empty, or cut short, finish "stop".
    const cases: [string, string, string, RegExp][] = [
      [
        "ignored stream: true",
        "application/json",
        JSON.stringify({ choices: [{ message: { content: "hello" }, finish_reason: "stop" }] }),
        /not an event stream/,
      ],
      ["gone mid-answer", "text/event-stream", piece("a "), /ended before the answer did/],
      [
        "failed mid-answer",
        "text/event-stream",
        `${piece("a ")}data: ${JSON.stringify({ error: { message: "out of memory" } })}\n\n`,
        /failed mid-answer: out of memory/,
      ],
    ];
    for (const [what, type, body, says] of cases) {
      const { outcome } = await misbehaving(type, body);
      expect([what, outcome]).toMatchObject([what, { name: "EngineError", reason: "backend" }]);
      expect([what, (outcome as Error).message]).toEqual([what, expect.stringMatching(says)]);
    }
    // A whole stream that ends with its finish reason but no [DONE] is still an answer.
    const whole = await misbehaving(
      "text/event-stream",
      `${piece("a ")}data: ${JSON.stringify({ choices: [{ index: 0, delta: {}, finish_reason: "stop" }] })}\n\n`,
    );
    expect(whole.outcome).toMatchObject({ finishReason: "stop" });
    expect(whole.streamed).toBe("a ");
  });
});

describe("a merged chunk counting no token", () => {
  it("still bills one token for a piece with bytes: a count of 0 with text is refused (UNDER_REPORT)", async () => {
    async function* merged(): AsyncGenerator<OpenAiChunkLike> {
      yield { choices: [{ delta: { content: "ab" } }], silkTokens: 2 };
      // A tool call no text was held before (toolCallChunks' heldTokens 0), and text likewise.
      yield {
        choices: [
          { delta: { tool_calls: [{ index: 0, id: "c1", function: { name: "f", arguments: "{}" } }] } },
        ],
        silkTokens: 0,
      };
      yield { choices: [{ delta: { content: "c" } }], silkTokens: 0 };
      // A piece of no bytes (an id alone) honestly counts none.
      yield { choices: [{ delta: { tool_calls: [{ index: 1, id: "c2" }] } }], silkTokens: 0 };
      yield { choices: [{ delta: {}, finish_reason: "tool_calls" }] };
    }
    const counts: number[] = [];
    const result = await consumeChunks(merged(), (c) => void counts.push(c.tokens), undefined);
    expect(counts).toEqual([2, 1, 1, 0]);
    expect(result.completionTokens).toBe(4);
  });
});

describe("a backend that takes the connection and never answers", () => {
  it("load gives up after its deadline naming the backend, headers or body never coming", async () => {
    const held: Socket[] = [];
    // One says nothing at all; the other sends its headers and the start of a body, then nothing.
    const silent = createNetServer((socket) => void held.push(socket));
    const halfway = createServer((_req, res) => {
      res.writeHead(200, { "content-type": "application/json" });
      res.write('{"data":[');
    });
    try {
      for (const server of [silent, halfway]) {
        await new Promise<void>((r) => server.listen(0, "127.0.0.1", r));
        const baseUrl = `http://127.0.0.1:${(server.address() as AddressInfo).port}/v1`;
        const engine = new HttpEngine({ baseUrl, loadTimeoutMs: 1_000 });
        const started = Date.now();
        // Without a deadline of its own, fetch's 300 s.
        const err = await endsWithin(
          engine.load("m").catch((e: unknown) => e),
          15_000,
        );
        expect(Date.now() - started).toBeGreaterThanOrEqual(950);
        expect(err).toBeInstanceOf(EngineError);
        expect((err as Error).message).toBe(
          `the backend at ${baseUrl} did not answer GET /models within 1000 ms`,
        );
      }
    } finally {
      for (const s of held) s.destroy();
      halfway.closeAllConnections();
      await Promise.all([silent, halfway].map((s) => new Promise((r) => s.close(r))));
    }
  }, 40_000);
});
