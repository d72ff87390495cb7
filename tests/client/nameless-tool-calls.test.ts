import { createOpenAI } from "@ai-sdk/openai";
import { createOpenAICompatible } from "@ai-sdk/openai-compatible";
import { generateText, jsonSchema, type ModelMessage, stepCountIs, tool } from "ai";
import OpenAI from "openai";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { type SignedAnswer, tokensHash, verifySignedAnswer } from "../../protocol";
import { type GatewayNetwork, startGatewayNetwork, WEATHER_PARAMETERS } from "../support/gateway-network";

/**
 * A backend that names none of its tool calls (no `id`, as some llama.cpp and Ollama builds):
 * the signed statement holds such a call as `call_<index>`, the same every turn. Programs that
 * key tool results by call id across a conversation need each call's id to be its own, as
 * OpenAI's are, while the provider's signature over the answer still verifies (the request would
 * fail with BAD_STATEMENT otherwise). Real signaling, WebRTC, a headless provider; the model is
 * the OpenAI backend double.
 */
let net: GatewayNetwork;

beforeAll(async () => {
  net = await startGatewayNetwork({
    providers: [{ model: "llama-tools", payout: "a1", features: ["tools"], contextWindow: 8192 }],
    backend: { contextTokens: 8192, namelessCalls: true },
  });
});

afterAll(() => net?.close());

const weather = {
  get_weather: tool({
    description: "Current weather in a city",
    inputSchema: jsonSchema<{ city: string; days: number }>(WEATHER_PARAMETERS),
    execute: async ({ city }) => `${city}: sleet`,
  }),
};

const OWN_ID = /^call_[0-9a-f]{18}_0$/;

describe("tool calls the provider named no id", () => {
  it("a two-turn Vercel AI SDK tool loop, over chat completions and Responses: every call its own id, every result on its call", async () => {
    const models = [
      createOpenAICompatible({ name: "silk", baseURL: net.gateway.url, apiKey: "unused" }).chatModel(
        "llama-tools",
      ),
      createOpenAI({ baseURL: net.gateway.url, apiKey: "unused" }).chat("llama-tools"),
      createOpenAI({ baseURL: net.gateway.url, apiKey: "unused" })("llama-tools"),
    ];
    for (const model of models) {
      const messages: ModelMessage[] = [];
      const ids: string[] = [];
      for (const city of ["Oslo", "Bergen"]) {
        messages.push({ role: "user", content: city });
        const { steps, text, responseMessages } = await generateText({
          model,
          tools: weather,
          stopWhen: stepCountIs(4),
          messages,
        });
        const [call] = steps[0]?.toolCalls ?? [];
        const [result] = steps[0]?.toolResults ?? [];
        expect(call?.toolCallId).toMatch(OWN_ID);
        expect(result).toMatchObject({ toolCallId: call?.toolCallId, output: `${city}: sleet` });
        expect(text).toBe(`The tool said: ${city}: sleet`);
        ids.push(call?.toolCallId ?? "");
        messages.push(...responseMessages);
      }
      // Turn 2's call is not turn 1's: a program keying results by id keeps them apart.
      expect(new Set(ids).size).toBe(2);
      // And the history sent back pairs each tool result with the call of its own turn.
      const calls = messages.flatMap((m) =>
        m.role === "assistant" && Array.isArray(m.content)
          ? m.content.flatMap((p) => (p.type === "tool-call" ? [p.toolCallId] : []))
          : [],
      );
      const results = messages.flatMap((m) =>
        m.role === "tool" ? m.content.flatMap((p) => (p.type === "tool-result" ? [p.toolCallId] : [])) : [],
      );
      expect(results).toEqual(calls);
      expect(new Set(calls).size).toBe(2);
    }
  });

  it("the openai package: streamed and whole answers each give their call an id of its own, and the signed answer still verifies", async () => {
    const openai = new OpenAI({ baseURL: net.gateway.url, apiKey: "unused" });
    const tools = [
      { type: "function" as const, function: { name: "get_weather", parameters: WEATHER_PARAMETERS } },
    ];
    const ask = { model: "llama-tools", tools, messages: [{ role: "user" as const, content: "Oslo" }] };
    const ids: string[] = [];
    for (let i = 0; i < 2; i++) {
      const whole = await openai.chat.completions.create(ask);
      const call = whole.choices[0]?.message.tool_calls?.[0];
      expect(call?.id).toMatch(OWN_ID);
      expect(call).toMatchObject({ type: "function", function: { name: "get_weather" } });
      const silk = (whole.usage as { silk?: { signed_answer?: SignedAnswer } } | undefined)?.silk;
      expect(silk?.signed_answer).toBeDefined();
      // The mapping the READMEs give: the statement holds the call as `call_<index>`, so the
      // answer as shown, each such id put back, hashes to the statement's tokens_hash.
      const signed = silk?.signed_answer as SignedAnswer;
      expect(verifySignedAnswer(signed)).toBe(true);
      const message = whole.choices[0]?.message;
      const shown = (message?.tool_calls ?? []).filter((c) => c.type === "function");
      const text = message?.content ?? "";
      expect(tokensHash({ text, toolCalls: shown })).not.toBe(signed.statement.tokens_hash);
      const signedIds = shown.map((c) => ({
        ...c,
        id: c.id.replace(/^call_[0-9a-f]{18}_([0-9]+)$/, "call_$1"),
      }));
      expect(tokensHash({ text, toolCalls: signedIds })).toBe(signed.statement.tokens_hash);
      ids.push(call?.id ?? "");
      const streamed = await openai.chat.completions.stream(ask).finalChatCompletion();
      const piece = streamed.choices[0]?.message.tool_calls?.[0];
      expect(piece?.id).toMatch(OWN_ID);
      expect({ ...piece, id: "" }).toEqual({ ...call, id: "" });
      ids.push(piece?.id ?? "");
    }
    expect(new Set(ids).size).toBe(4);
  });
});
