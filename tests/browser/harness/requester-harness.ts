// Test-only page: the requester SDK in a browser tab, as an app would use it.
import "../../../peer/browser-globals";
import { connect } from "../../../client/sdk/silk-client";
import { generateKeyPair } from "../../../protocol";

const client = await connect({
  signalingUrl: location.origin,
  sessionKey: generateKeyPair(),
  maxPrice: { promptNanoPerToken: 100n, completionNanoPerToken: 100n },
  escrow: `0:${"11".repeat(32)}`,
});

async function ask(content: string, opts: { cancelAfter?: number } = {}) {
  const abort = new AbortController();
  const stream = await client.chat.completions.create({
    model: "test-model",
    messages: [{ role: "user", content }],
    stream: true,
    stream_options: { include_usage: true },
    signal: abort.signal,
  });
  let text = "";
  let pieces = 0;
  let finish: string | null = null;
  let usage: unknown;
  for await (const chunk of stream) {
    const piece = chunk.choices[0]?.delta.content;
    if (piece) {
      text += piece;
      if (++pieces === opts.cancelAfter) abort.abort();
    }
    finish = chunk.choices[0]?.finish_reason ?? finish;
    usage = chunk.usage ?? usage;
  }
  return { text, finish, usage };
}

(window as unknown as { silkAsk: unknown }).silkAsk = ask;
document.body.dataset.ready = "true";
