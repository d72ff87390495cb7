import type OpenAI from "openai";

type ResponseStreamEvent = OpenAI.Responses.ResponseStreamEvent;

/**
 * Reads a streamed Responses answer (the `openai` client's `responses.create({ stream: true })`)
 * to its end: every event, their types in order, and the text their deltas add up to.
 */
export async function readResponseEvents(
  stream: AsyncIterable<ResponseStreamEvent>,
): Promise<{ events: ResponseStreamEvent[]; types: string[]; text: string }> {
  const events: ResponseStreamEvent[] = [];
  let text = "";
  for await (const event of stream) {
    events.push(event);
    if (event.type === "response.output_text.delta") text += event.delta;
  }
  return { events, types: events.map((e) => e.type), text };
}
