import OpenAI from "openai";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import type { OpenAiBackend } from "../doubles/openai-backend";
import { type GatewayNetwork, startGatewayNetwork, WEATHER_PARAMETERS } from "../support/gateway-network";
import { readResponseEvents } from "../support/responses-stream";

/**
 * POST /v1/responses, as the official `openai` client's `responses` sends it (and the Vercel AI
 * SDK's default `openai(model)` and LangChain's `useResponsesApi`): a text answer in the Responses
 * API's shapes and events, through real signaling and WebRTC to a headless provider; what it has
 * no chat counterpart for is refused by name. It used to be a 404 for every such program.
 */
let net: GatewayNetwork;
let backend: OpenAiBackend;
let openai: OpenAI;

beforeAll(async () => {
  net = await startGatewayNetwork({
    providers: [{ model: "llama-tools", payout: "22", features: ["structured_output", "tools"] }],
  });
  backend = net.backend;
  openai = new OpenAI({ baseURL: net.gateway.url, apiKey: "unused", maxRetries: 0 });
});

afterAll(() => net?.close());

describe("the Responses API for text", () => {
  it("answers with instructions and message items, usage and Silk's cost", async () => {
    const r = await openai.responses.create({
      model: "llama-tools",
      instructions: "Answer briefly.",
      input: [
        { role: "user", content: [{ type: "input_text", text: "first" }] },
        { role: "assistant", content: "ok" },
        { role: "user", content: "how are you" },
      ],
    });
    expect(r).toMatchObject({ object: "response", status: "completed", model: "llama-tools" });
    expect(r.id).toMatch(/^resp_/);
    expect(r.output_text).toBe("Echo: how are you");
    expect(r.output[0]).toMatchObject({ type: "message", role: "assistant" });
    expect(r.usage).toMatchObject({ output_tokens: 4, total_tokens: (r.usage?.input_tokens ?? 0) + 4 });
    expect(
      BigInt((r.usage as unknown as { silk: { cost_nanoton: string } }).silk.cost_nanoton),
    ).toBeGreaterThan(0n);
    expect((backend.requests.at(-1) as { messages: unknown[] }).messages).toEqual([
      { role: "system", content: "Answer briefly." },
      { role: "user", content: "first" },
      { role: "assistant", content: "ok" },
      { role: "user", content: "how are you" },
    ]);
  });

  it("echoes instructions, temperature, top_p and max_output_tokens in the response, as OpenAI's does, streamed or not", async () => {
    const asked = {
      model: "llama-tools",
      instructions: "Answer briefly.",
      input: "hello there",
      temperature: 0.5,
      top_p: 0.9,
      max_output_tokens: 50,
    };
    const plain = await openai.responses.create(asked);
    const streamed = await openai.responses.stream(asked).finalResponse();
    const created = (await readResponseEvents(await openai.responses.create({ ...asked, stream: true })))
      .events[0];
    for (const r of [plain, streamed, created?.type === "response.created" ? created.response : undefined])
      expect(r).toMatchObject({
        instructions: "Answer briefly.",
        temperature: 0.5,
        top_p: 0.9,
        max_output_tokens: 50,
      });
    // Not asked: the keys OpenAI's Response always has are there, null.
    const bare = await openai.responses.create({ model: "llama-tools", input: "hi" });
    expect(bare).toMatchObject({
      instructions: null,
      temperature: null,
      top_p: null,
      max_output_tokens: null,
    });
  });

  it("streams the events OpenAI's clients read, and ends incomplete at max_output_tokens", async () => {
    const stream = await openai.responses.create({
      model: "llama-tools",
      input: "stream me please",
      stream: true,
    });
    const { events, types, text } = await readResponseEvents(stream);
    const completed = events.find((e) => e.type === "response.completed");
    expect(completed?.type === "response.completed" && completed.response.usage?.output_tokens).toBe(4);
    expect(text).toBe("Echo: stream me please");
    // As OpenAI's own stream opens: created, then in_progress, each with the response as it stands.
    expect(types.slice(0, 4)).toEqual([
      "response.created",
      "response.in_progress",
      "response.output_item.added",
      "response.content_part.added",
    ]);
    expect(types.at(-1)).toBe("response.completed");
    expect(events[1]).toMatchObject({ sequence_number: 1, response: { status: "in_progress", output: [] } });
    expect(events.map((e) => e.sequence_number)).toEqual(events.map((_, i) => i));
    const cut = await openai.responses.create({
      model: "llama-tools",
      input: "one two three",
      max_output_tokens: 2,
    });
    expect(cut).toMatchObject({ status: "incomplete", incomplete_details: { reason: "max_output_tokens" } });
    expect(cut.output_text).toBe("Echo: one ");
  });

  it("ends a stream whose provider fails mid-answer with response.failed, then the error event", async () => {
    const stream = await openai.responses.create({
      model: "llama-tools",
      input: "fail midway through this answer",
      stream: true,
    });
    const events: { type: string; [k: string]: unknown }[] = [];
    let text = "";
    const thrown = await (async () => {
      for await (const e of stream) {
        events.push(e as unknown as { type: string });
        if (e.type === "response.output_text.delta") text += e.delta;
      }
    })().catch((err: unknown) => err);
    const types = events.map((e) => e.type);
    expect(types).not.toContain("response.completed");
    const failed = events.find((e) => e.type === "response.failed") as
      | { response: { status: string; error: { code: string; message: string }; output_text: string } }
      | undefined;
    expect(failed?.response).toMatchObject({ status: "failed", output_text: text });
    expect(failed?.response.error.code).toEqual(expect.any(String));
    expect(failed?.response.error.message).toMatch(/crashed|engine|failed/i);
    // The client either reads the error event or throws on it; either way the stream says why.
    const errorEvent = events.find((e) => e.type === "error");
    expect(errorEvent ?? thrown).toBeTruthy();
    expect(types.indexOf("response.failed")).toBeLessThan(
      errorEvent ? types.indexOf("error") : Number.POSITIVE_INFINITY,
    );
  });

  it("keeps a tool call cut short by a failure in response.failed, incomplete, with the arguments streamed", async () => {
    const stream = await openai.responses.create({
      model: "llama-tools",
      input: "fail midway through this call",
      tools: [{ type: "function", name: "get_weather", parameters: WEATHER_PARAMETERS, strict: false }],
      stream: true,
    });
    const events: { type: string; [k: string]: unknown }[] = [];
    let streamed = "";
    await (async () => {
      for await (const e of stream) {
        events.push(e as unknown as { type: string });
        if (e.type === "response.function_call_arguments.delta") streamed += e.delta;
      }
    })().catch(() => undefined);
    const added = events.find((e) => e.type === "response.output_item.added") as
      | { item: { id: string; type: string } }
      | undefined;
    expect(added?.item.type).toBe("function_call");
    expect(streamed.length).toBeGreaterThan(0);
    const failed = events.find((e) => e.type === "response.failed") as
      | {
          response: {
            status: string;
            output: { id: string; type: string; status: string; arguments: string }[];
          };
        }
      | undefined;
    expect(failed?.response.status).toBe("failed");
    // The item the client saw added is there as it stood, not dropped.
    expect(failed?.response.output).toEqual([
      expect.objectContaining({
        id: added?.item.id,
        type: "function_call",
        name: "get_weather",
        status: "incomplete",
        arguments: streamed,
      }),
    ]);
  });

  it("carries text.format json_schema as structured output", async () => {
    const r = await openai.responses.create({
      model: "llama-tools",
      input: "Lima",
      text: {
        format: {
          type: "json_schema",
          name: "city",
          schema: { type: "object", properties: { city: { type: "string" } }, required: ["city"] },
        },
      },
    });
    expect(JSON.parse(r.output_text)).toEqual({ city: "Lima" });
  });

  it("carries sampling, user, max_output_tokens, a tool chosen by name, parallel_tool_calls and json_object to the backend", async () => {
    await openai.responses.create({
      model: "llama-tools",
      input: "fields",
      temperature: 0.4,
      top_p: 0.7,
      user: "user-9",
      max_output_tokens: 7,
      tools: [{ type: "function", name: "get_weather", parameters: WEATHER_PARAMETERS, strict: false }],
      tool_choice: { type: "function", name: "get_weather" },
      parallel_tool_calls: false,
    });
    expect(backend.requests.at(-1)).toMatchObject({
      temperature: 0.4,
      top_p: 0.7,
      user: "user-9",
      max_tokens: 7,
      tool_choice: { type: "function", function: { name: "get_weather" } },
      parallel_tool_calls: false,
    });
    const json = await openai.responses.create({
      model: "llama-tools",
      input: "as json",
      text: { format: { type: "json_object" } },
    });
    expect(JSON.parse(json.output_text)).toEqual({ echo: "as json" });
    expect(backend.requests.at(-1)).toMatchObject({ response_format: { type: "json_object" } });
  });

  it("refuses by name what it cannot carry, in OpenAI's error shape", async () => {
    const refused = (body: Record<string, unknown>) =>
      openai.responses
        .create({ model: "llama-tools", input: "x", ...body } as never)
        .catch((e: unknown) => e);
    // A message of no parts is no content: it was sent as an empty turn nobody wrote.
    expect(await refused({ input: [{ role: "user", content: [] }] })).toMatchObject({
      status: 400,
      param: "input.0.content",
      code: "missing_required_parameter",
    });
    expect(await refused({ tools: [{ type: "web_search" }] })).toMatchObject({
      status: 400,
      param: "tools.0.type",
      code: "unsupported_parameter",
    });
    const tool = { type: "function", name: "f", parameters: { type: "object", properties: {} } };
    // A field of a tool Silk does not carry is refused as one at the top of the body is (as chat's).
    expect(await refused({ tools: [{ ...tool, cache_control: {} }] })).toMatchObject({
      status: 400,
      param: "tools.0.cache_control",
      code: "unsupported_parameter",
    });
    expect(await refused({ tools: [tool], tool_choice: { type: "web_search" } })).toMatchObject({
      status: 400,
      param: "tool_choice",
    });
    // Without tools it is not carried (it asks nothing), but a value that is not a boolean is refused.
    expect(await refused({ parallel_tool_calls: "yes" })).toMatchObject({
      status: 400,
      param: "parallel_tool_calls",
    });
    expect(await refused({ tools: [tool], max_tool_calls: 1 })).toMatchObject({
      status: 400,
      param: "max_tool_calls",
    });
    expect(await refused({ previous_response_id: "resp_1" })).toMatchObject({
      status: 400,
      param: "previous_response_id",
    });
    expect(await refused({ store: true })).toMatchObject({ status: 400, param: "store" });
    expect(await refused({ max_output_tokens: 0 })).toMatchObject({
      status: 400,
      param: "max_output_tokens",
    });
    expect(await refused({ input: [{ type: "reasoning", summary: [] }] })).toMatchObject({
      status: 400,
      param: "input.0.type",
    });
    expect(
      await refused({ input: [{ type: "function_call_output", call_id: "c", output: { parts: [] } }] }),
    ).toMatchObject({ status: 400, param: "input.0.output" });
    expect(
      await refused({ input: [{ role: "user", content: [{ type: "input_image", image_url: "http://x" }] }] }),
    ).toMatchObject({ status: 400, param: "input.0.content.0.type" });
    // A malformed item is named by its own path and in its own words, not as the input's union.
    for (const [input, param] of [
      [[5], "input.0"],
      [["hi"], "input.0"],
      [
        [
          { role: "user", content: "ok" },
          { role: "user", content: 5 },
        ],
        "input.1.content",
      ],
    ] as const) {
      const bad = await refused({ input });
      expect(bad).toMatchObject({ status: 400, param });
      const said = (bad as Error).message;
      expect(
        [`400 ${param}:`, `400 Invalid type for '${param}':`].some((x) => said.startsWith(x)),
        said,
      ).toBe(true);
    }
    // A json_schema format's field is named where the Responses API has it: text.format.schema.
    const listed = await refused({ text: { format: { type: "json_schema", name: "x", schema: [] } } });
    expect(listed).toMatchObject({ status: 400, param: "text.format.schema" });
    expect((listed as Error).message).toBe(
      "400 Invalid type for 'text.format.schema': expected an object, but got an array instead.",
    );
    // The Responses API's json_schema format needs its name and schema: without the schema it
    // was carried as "any JSON", the name made up as "output".
    for (const [format, param] of [
      [{ type: "json_schema", schema: { type: "object" } }, "text.format.name"],
      [{ type: "json_schema", name: "x" }, "text.format.schema"],
    ] as const)
      expect(await refused({ text: { format } })).toMatchObject({
        status: 400,
        param,
        code: "missing_required_parameter",
      });
    // A json_schema format's own fields on another format were dropped: json_object given a
    // schema answered unschematised JSON, as if the schema had been taken.
    for (const [format, param] of [
      [{ type: "json_object", schema: { type: "object" } }, "text.format.schema"],
      [{ type: "json_object", name: "x" }, "text.format.name"],
      [{ type: "text", strict: true }, "text.format.strict"],
      [{ type: "text", description: "short" }, "text.format.description"],
    ] as const)
      expect(await refused({ text: { format } })).toMatchObject({
        status: 400,
        param,
        code: "unsupported_parameter",
      });
    // Fields inside the body's objects too: refused by name, not dropped; one of OpenAI's own
    // with why, as chat's `verbosity` is.
    expect(await refused({ text: { verbosity: "low" } })).toMatchObject({
      status: 400,
      param: "text.verbosity",
      message: "400 text.verbosity: verbosity is not carried to providers",
    });
    expect(
      await refused({
        input: [{ role: "user", content: [{ type: "input_text", text: "x", cache_control: {} }] }],
      }),
    ).toMatchObject({ status: 400, param: "input.0.content.0.cache_control" });
    expect(await refused({ input: [{ role: "user", content: "x", name: "ann" }] })).toMatchObject({
      status: 400,
      param: "input.0.name",
    });
    // An earlier answer echoed back, as clients send it, is taken.
    const echoed = [
      { role: "user", content: "x" },
      {
        id: "msg_1",
        type: "message",
        role: "assistant",
        status: "completed",
        content: [{ type: "output_text", text: "y", annotations: [] }],
      },
      { role: "user", content: "z" },
    ];
    expect(await refused({ input: echoed })).toMatchObject({ status: "completed" });
    // Annotations that say something (a citation, or anything not an empty list) are refused by name.
    for (const annotations of [[{ type: "url_citation", url: "https://a.example" }], "cited"]) {
      const withNotes = echoed.map((m) =>
        m.role === "assistant" ? { ...m, content: [{ type: "output_text", text: "y", annotations }] } : m,
      );
      expect(await refused({ input: withNotes })).toMatchObject({
        status: 400,
        param: "input.1.content.0.annotations",
      });
    }
    expect(
      await refused({ store: false, tools: [], include: [], truncation: "disabled", metadata: {} }),
    ).toMatchObject({ status: "completed" });
    // Metadata with a tag in it would be lost (nothing is stored): refused by name.
    expect(await refused({ metadata: { team: "a" } })).toMatchObject({ status: 400, param: "metadata" });
    await expect(openai.responses.create({ model: "nope", input: "x" })).rejects.toMatchObject({
      status: 404,
      code: "model_not_found",
      error: { message: "The model `nope` does not exist or you do not have access to it." },
    });
  });
});

const weather = {
  type: "function" as const,
  name: "get_weather",
  description: "Current weather in a city",
  parameters: WEATHER_PARAMETERS,
  strict: false,
};

describe("logprobs asked of a model whose providers do not serve them", () => {
  it("are refused naming include, the field that asked, not chat's logprobs", async () => {
    const err = await openai.responses
      .create({ model: "llama-tools", input: "hi", include: ["message.output_text.logprobs"] })
      .catch((e: unknown) => e);
    expect(err).toBeInstanceOf(OpenAI.BadRequestError);
    expect((err as InstanceType<typeof OpenAI.BadRequestError>).param).toBe("include");
  });
});

describe("function tools on the Responses API", () => {
  it("carries function tools to the provider, answers with a function_call item, and takes its output back", async () => {
    const first = await openai.responses.create({
      model: "llama-tools",
      input: "Paris",
      tools: [weather],
      tool_choice: "required",
    });
    expect(backend.requests.at(-1)).toMatchObject({
      tools: [{ type: "function", function: { name: "get_weather", parameters: weather.parameters } }],
      tool_choice: "required",
    });
    expect(first).toMatchObject({ status: "completed", tools: [weather], tool_choice: "required" });
    const call = first.output.find((o) => o.type === "function_call");
    expect(call).toMatchObject({ type: "function_call", name: "get_weather", status: "completed" });
    if (call?.type !== "function_call") throw new Error("no function call");
    expect(JSON.parse(call.arguments)).toEqual({ city: "Paris", days: 42 });
    expect(first.output.some((o) => o.type === "message")).toBe(false);

    // The program runs the tool and sends the call and its output back, as OpenAI's docs show.
    const second = await openai.responses.create({
      model: "llama-tools",
      tools: [weather],
      input: [
        { role: "user", content: "Paris" },
        call,
        { type: "function_call_output", call_id: call.call_id, output: "sunny, 24 C" },
      ],
    });
    expect(second.output_text).toBe("The tool said: sunny, 24 C");
    expect(backend.requests.at(-1)).toMatchObject({
      messages: [
        { role: "user", content: "Paris" },
        {
          role: "assistant",
          tool_calls: [{ id: call.call_id, type: "function", function: { name: "get_weather" } }],
        },
        { role: "tool", tool_call_id: call.call_id, content: "sunny, 24 C" },
      ],
    });
  });

  it("takes a call's output as a list of input_text parts (the Responses API's other form), as its text; another part refused naming it", async () => {
    const call = {
      type: "function_call" as const,
      call_id: "call_9",
      name: "get_weather",
      arguments: '{"city":"Oslo","days":1}',
    };
    const ask = (output: unknown) =>
      openai.responses.create({
        model: "llama-tools",
        tools: [weather],
        input: [
          { role: "user", content: "Oslo" },
          call,
          { type: "function_call_output", call_id: "call_9", output } as never,
        ],
      });
    const r = await ask([
      { type: "input_text", text: "sunny" },
      { type: "input_text", text: "24 C" },
    ]);
    expect(r.output_text).toBe("The tool said: sunny\n24 C");
    expect((backend.requests.at(-1) as { messages: unknown[] }).messages.at(-1)).toEqual({
      role: "tool",
      tool_call_id: "call_9",
      content: "sunny\n24 C",
    });
    const asked = backend.requests.length;
    for (const [output, param] of [
      [[{ type: "input_image", image_url: "https://example.com/a.png" }], "input.2.output.0.type"],
      [[{ type: "input_text", text: "x", cache_control: {} }], "input.2.output.0.cache_control"],
      [[], "input.2.output"],
      [42, "input.2.output"],
    ] as const) {
      const err = await ask(output).catch((e: unknown) => e);
      expect(err, JSON.stringify(output)).toBeInstanceOf(OpenAI.BadRequestError);
      expect((err as InstanceType<typeof OpenAI.BadRequestError>).param).toBe(param);
    }
    expect(backend.requests.length).toBe(asked);
  });

  it("streams a call as OpenAI does: the item added, argument deltas that add up, done, and the call in the completed response", async () => {
    const stream = openai.responses.stream({ model: "llama-tools", input: "Oslo", tools: [weather] });
    const types: string[] = [];
    let deltas = "";
    const argumentsDone: OpenAI.Responses.ResponseFunctionCallArgumentsDoneEvent[] = [];
    for await (const e of stream) {
      types.push(e.type);
      if (e.type === "response.function_call_arguments.delta") deltas += e.delta;
      if (e.type === "response.function_call_arguments.done") argumentsDone.push(e);
    }
    const final = await stream.finalResponse();
    const call = final.output.find((o) => o.type === "function_call");
    if (call?.type !== "function_call") throw new Error("no function call");
    expect(deltas).toBe(call.arguments);
    // Every field of OpenAI's event (its `name` too, which a client dispatching on it reads).
    expect(argumentsDone).toEqual([
      {
        type: "response.function_call_arguments.done",
        sequence_number: expect.any(Number),
        item_id: call.id,
        output_index: final.output.indexOf(call),
        name: "get_weather",
        arguments: call.arguments,
      },
    ]);
    expect(JSON.parse(deltas)).toEqual({ city: "Oslo", days: 42 });
    expect(types.slice(0, 2)).toEqual(["response.created", "response.in_progress"]);
    expect(
      types.filter((t) => t.startsWith("response.function_call_arguments.delta")).length,
    ).toBeGreaterThan(1);
    expect(types.slice(-3)).toEqual([
      "response.function_call_arguments.done",
      "response.output_item.done",
      "response.completed",
    ]);
    expect(types).not.toContain("response.output_text.delta");
  });

  it("a call cut at max_output_tokens is incomplete in its done, in the end and whole, the response incomplete", async () => {
    const asked = { model: "llama-tools", input: "Oslo", tools: [weather], max_output_tokens: 2 };
    const stream = openai.responses.stream(asked);
    const dones: OpenAI.Responses.ResponseOutputItemDoneEvent[] = [];
    for await (const e of stream) if (e.type === "response.output_item.done") dones.push(e);
    const streamed = await stream.finalResponse();
    const whole = await openai.responses.create(asked);
    for (const r of [streamed, whole]) {
      expect(r).toMatchObject({ status: "incomplete", incomplete_details: { reason: "max_output_tokens" } });
      expect(r.output).toMatchObject([{ type: "function_call", name: "get_weather", status: "incomplete" }]);
    }
    // (the helper adds parsed_arguments to the final response)
    expect(streamed.output).toMatchObject(dones.map((d) => d.item));
  });

  it("refuses a call left unanswered or an output answering no call, naming the input item as sent, streaming or not", async () => {
    const call = { type: "function_call" as const, call_id: "call_1", name: "get_weather", arguments: "{}" };
    const output = (call_id: string) => ({ type: "function_call_output" as const, call_id, output: "sunny" });
    const refusal = (
      body: Omit<OpenAI.Responses.ResponseCreateParamsNonStreaming, "model">,
      stream: boolean,
    ) =>
      openai.responses
        .create({
          model: "llama-tools",
          tools: [weather],
          ...body,
          stream,
        } as OpenAI.Responses.ResponseCreateParamsNonStreaming)
        .catch((e: unknown) => e);
    const asked = backend.requests.length;
    const user = { role: "user" as const, content: "Paris" };
    for (const stream of [false, true]) {
      // `instructions` is the chat request's first message: the item's index is as sent, not shifted by it.
      expect(await refusal({ instructions: "Be brief.", input: [user, call] }, stream)).toMatchObject({
        status: 400,
        param: "input.1",
        error: {
          message: expect.stringMatching(
            /^input\.1: every function_call needs a function_call_output .*`call_1` has none$/,
          ),
        },
      });
      expect(
        await refusal({ instructions: "Be brief.", input: [user, call, user, output("call_1")] }, stream),
      ).toMatchObject({
        status: 400,
        param: "input.1",
      });
      // An output with no call: its own item (chat merged a message and the calls after it into one).
      const answered = [user, { role: "assistant" as const, content: "Looking." }, call, output("call_1")];
      expect(
        await refusal({ instructions: "Be brief.", input: [...answered, output("call_9")] }, stream),
      ).toMatchObject({
        status: 400,
        param: "input.4.call_id",
        error: { message: expect.stringMatching(/^input\.4\.call_id: .*`call_9` is none of them/) },
      });
      expect(await refusal({ input: [user, output("call_9")] }, stream)).toMatchObject({
        status: 400,
        param: "input.1.call_id",
      });
    }
    expect(backend.requests.length).toBe(asked);
  });

  it("names a bad call's field on its function_call item as sent, not on the chat message it became", async () => {
    const call = (call_id: string, name = "get_weather") => ({
      type: "function_call" as const,
      call_id,
      name,
      arguments: "{}",
    });
    const output = (call_id: string) => ({ type: "function_call_output" as const, call_id, output: "sunny" });
    const user = { role: "user" as const, content: "Paris" };
    const asked = backend.requests.length;
    const cases: [OpenAI.Responses.ResponseInput, string, RegExp][] = [
      // Was param "input", message "input.2.tool_calls.0.function.name: …" (the chat message, instructions first).
      [
        [user, call("c1", "bad name!"), output("c1")],
        "input.1.name",
        /^Invalid 'input\.1\.name': string does not match pattern\./,
      ],
      // The second of two calls merged into one chat message is its own item.
      [
        [user, call("c1"), call("c2", "bad name!"), output("c1"), output("c2")],
        "input.2.name",
        /^Invalid 'input\.2\.name': /,
      ],
      [
        [user, call("c".repeat(300)), output("c".repeat(300))],
        "input.1.call_id",
        /^Invalid 'input\.1\.call_id': string too long\. Expected a string with maximum length 128, but got a string with length 300 instead\.$/,
      ],
    ];
    for (const [input, param, message] of cases)
      expect(
        await openai.responses
          .create({ model: "llama-tools", instructions: "Be brief.", tools: [weather], input })
          .catch((e: unknown) => e),
        param,
      ).toMatchObject({ status: 400, param, error: { message: expect.stringMatching(message) } });
    expect(backend.requests.length).toBe(asked);
  });
});
