import OpenAI from "openai";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { type GatewayNetwork, startGatewayNetwork, WEATHER_PARAMETERS } from "../support/gateway-network";

/**
 * A Responses answer that says something, then calls a tool, with the text's logprobs asked for
 * (`include: ["message.output_text.logprobs"]`): the message's logprobs are its text's tokens',
 * whole or streamed. The call's tokens are no part of the message (the Responses API has no
 * logprobs on a function_call item). Real signaling, WebRTC, a headless provider; the model is
 * the OpenAI backend double ("say first" makes it talk before its call).
 */
let net: GatewayNetwork;

beforeAll(async () => {
  net = await startGatewayNetwork({
    providers: [{ model: "llama-tools", payout: "a1", features: ["tools", "logprobs"], contextWindow: 8192 }],
    backend: { contextTokens: 8192 },
  });
});

afterAll(() => net?.close());

describe("a Responses answer with text and a tool call, logprobs asked for", () => {
  it("has the text's tokens' logprobs in its message, whole as streamed", async () => {
    const openai = new OpenAI({ baseURL: net.gateway.url, apiKey: "unused" });
    const ask = {
      model: "llama-tools",
      input: "say first Oslo",
      tools: [
        { type: "function" as const, name: "get_weather", parameters: WEATHER_PARAMETERS, strict: false },
      ],
      include: ["message.output_text.logprobs" as const],
    };
    const whole = await openai.responses.create(ask);
    const streamed = await openai.responses.stream(ask).finalResponse();
    for (const r of [whole, streamed]) {
      expect(r.output.map((i) => i.type)).toEqual(["message", "function_call"]);
      const message = r.output[0];
      const part = message?.type === "message" ? message.content[0] : undefined;
      expect(part?.type === "output_text" && part.text).toBe("Let me check. ");
      const tokens = part?.type === "output_text" ? (part.logprobs ?? []).map((l) => l.token) : [];
      expect(tokens).toEqual(["Let ", "me ", "check. "]);
    }
    const logprobsOf = (r: typeof whole) =>
      r.output.flatMap((i) =>
        i.type === "message" ? i.content.flatMap((c) => (c.type === "output_text" ? c.logprobs : [])) : [],
      );
    expect(logprobsOf(whole)).toEqual(logprobsOf(streamed));
    const callOf = (r: typeof whole) => {
      const c = r.output[1];
      return c?.type === "function_call" ? { name: c.name, arguments: c.arguments, status: c.status } : c;
    };
    expect(callOf(whole)).toMatchObject({ name: "get_weather", status: "completed" });
    expect(callOf(whole)).toEqual(callOf(streamed));
  });
});
