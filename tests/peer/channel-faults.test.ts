import wrtc from "@roamhq/wrtc";
import { afterAll, afterEach, beforeAll, describe, expect, it } from "vitest";
import { type ProviderError, ProviderLostError, StalledError, TamperedError } from "../../client/sdk/errors";
import { WebRtcLink } from "../../peer/webrtc-link";
import { MAX_FRAME_BYTES } from "../../protocol/limits";
import type { RuntimeEvent } from "../../provider/runtime";
import { ScriptedEngine } from "../doubles/scripted-engine";
import { cleanup, startServer } from "../signaling/helpers";
import { killProviderProcesses, startProviderProcess } from "../support/provider-process";
import { ask, relayClient, relayProvider, stopAll } from "../support/silk-parties";

/**
 * Faults on a direct WebRTC data channel (real @roamhq/wrtc, real signaling on loopback), done by
 * the provider's side of the link to the frames it sends once the answer is under way: frames
 * coalesced into one message, one split across two, one truncated, one sent twice, two swapped,
 * one a byte over the size limit and one far over it, the channel closed without a word, and
 * silence with the channel open. Each row: the request ends
 * within its deadline with the typed error that says what happened, the provider's engine and
 * place are freed, and no receipt signs for more than reached the requester.
 */
const REQUESTER_DEADLINES = { frame: 1_500, account: 3_000, handshaking: 3_000 };
const PROVIDER_DEADLINES = { credit: 1_500, keepalive: 300, account: 6_000, handshaking: 6_000 };
const LONG =
  "one two three four five six seven eight nine ten eleven twelve thirteen fourteen fifteen sixteen";
/** The scripted engine's count for the one-message prompt "hello". */
const PROMPT_TOKENS = 14;
/** Frames the provider sends before the fault: its HELLO reply, the account, the first tokens. */
const BEFORE = 3;

type Send = (this: WebRtcLink, frame: Uint8Array) => Promise<void>;
type Fault = (link: WebRtcLink, frame: Uint8Array, send: (f: Uint8Array) => Promise<void>) => Promise<void>;

const held = new WeakMap<WebRtcLink, Uint8Array>();
const ROWS: { fault: string; expected: new (...a: never[]) => ProviderError; code: string; act: Fault }[] = [
  {
    fault: "two frames coalesced in one message",
    expected: TamperedError,
    code: "TAMPERED",
    act: async (link, frame, send) => {
      const first = held.get(link);
      if (!first) return void held.set(link, frame);
      await send(Uint8Array.from([...first, ...frame]));
    },
  },
  {
    fault: "a frame split across two messages",
    expected: TamperedError,
    code: "TAMPERED",
    act: async (_link, frame, send) => {
      const cut = frame.length >> 1;
      await send(frame.subarray(0, cut));
      await send(frame.subarray(cut));
    },
  },
  {
    fault: "a frame truncated",
    expected: TamperedError,
    code: "TAMPERED",
    act: (_link, frame, send) => send(frame.subarray(0, frame.length - 1)),
  },
  {
    fault: "a frame over the size limit",
    expected: TamperedError,
    code: "TAMPERED",
    act: (_link, frame, send) => send(Uint8Array.from([...frame, ...new Uint8Array(MAX_FRAME_BYTES)])),
  },
  {
    fault: "a frame sent twice",
    expected: TamperedError,
    code: "TAMPERED",
    act: async (_link, frame, send) => {
      await send(frame);
      await send(frame);
    },
  },
  {
    fault: "two frames swapped",
    expected: TamperedError,
    code: "TAMPERED",
    act: async (link, frame, send) => {
      const first = held.get(link);
      if (!first) return void held.set(link, frame);
      held.delete(link);
      await send(frame);
      await send(first);
    },
  },
  {
    fault: "a frame one byte over the size limit",
    expected: TamperedError,
    code: "TAMPERED",
    act: (_link, frame, send) =>
      send(Uint8Array.from([...frame, ...new Uint8Array(MAX_FRAME_BYTES + 1 - frame.length)])),
  },
  {
    fault: "the channel closed without a word",
    expected: ProviderLostError,
    code: "PROVIDER_LOST",
    act: async (link) => link.close(),
  },
  {
    fault: "silence with the channel open",
    expected: StalledError,
    code: "STALLED",
    act: async () => undefined,
  },
];

const original = WebRtcLink.prototype.send;
let fault: Fault | undefined;
let url = "";
beforeAll(async () => {
  url = (await startServer()).url;
  const counts = new WeakMap<WebRtcLink, number>();
  // The provider's side (the link that did not initiate) sends through the row's fault.
  const send: Send = async function (this: WebRtcLink, frame) {
    const provider = !(this as unknown as { opts: { initiator: boolean } }).opts.initiator;
    const n = (counts.get(this) ?? 0) + 1;
    counts.set(this, n);
    if (!provider || !fault || n <= BEFORE) return original.call(this, frame);
    return fault(this, frame, (f) => original.call(this, f));
  };
  WebRtcLink.prototype.send = send;
});
afterAll(async () => {
  WebRtcLink.prototype.send = original;
  await cleanup();
});
afterEach(() => {
  fault = undefined;
  stopAll();
  killProviderProcesses();
});

const receiptTokens = (events: RuntimeEvent[]) =>
  events.flatMap((e) => (e.type === "receipt" ? [Number(e.receipt.receipt.tokens)] : []));

describe("faults on a direct data channel, mid-answer", () => {
  it.each(ROWS)(
    "$fault: $code in bounded time, the provider's place freed",
    async (row) => {
      const engine = new ScriptedEngine({ tokenDelayMs: 30, reply: () => LONG });
      const p = await relayProvider(url, { engine, deadlines: PROVIDER_DEADLINES, forceRelay: false, wrtc });
      const client = await relayClient(url, { deadlines: REQUESTER_DEADLINES, forceRelay: false, wrtc });
      fault = row.act;
      const start = Date.now();
      const err = await ask(client).catch((e: unknown) => e);
      expect(err).toBeInstanceOf(row.expected);
      expect((err as ProviderError).code).toBe(row.code);
      expect(Date.now() - start).toBeLessThan(REQUESTER_DEADLINES.frame + 10_000);
      const delivered = err instanceof ProviderLostError ? err.tokens : 0;
      await expect.poll(() => engine.activeGenerations, { timeout: 10_000 }).toBe(0);
      await expect.poll(() => p.runtime.slots.load, { timeout: 10_000 }).toBe(0);
      for (const t of receiptTokens(p.events)) expect(t).toBeLessThanOrEqual(PROMPT_TOKENS + delivered);
    },
    30_000,
  );
});

describe("a provider process frozen mid-answer (SIGSTOP)", () => {
  it("its sockets stay open and silent: STALLED within the frame deadline, with the partial answer", async () => {
    const frozen = await startProviderProcess(url, { tokenDelayMs: 50, reply: LONG });
    const client = await relayClient(url, { deadlines: REQUESTER_DEADLINES, forceRelay: false, wrtc });
    const start = Date.now();
    // Frozen once the requester has read "one two": tokens the provider counted as sent may still
    // sit in its own buffers when SIGSTOP lands (seen under load), so its count is not enough.
    let read = "";
    const err = await (async () => {
      try {
        const stream = await client.chat.completions.create({
          model: "test-model",
          messages: [{ role: "user", content: "hello" }],
          stream: true,
        });
        for await (const chunk of stream) {
          read += chunk.choices[0]?.delta.content ?? "";
          if (read.startsWith("one two")) frozen.signal("SIGSTOP");
        }
      } catch (e) {
        return e;
      }
    })();
    frozen.signal("SIGCONT");
    expect(err).toBeInstanceOf(StalledError);
    expect((err as StalledError).partial.startsWith("one two")).toBe(true);
    expect(Date.now() - start).toBeLessThan(REQUESTER_DEADLINES.frame + 15_000);
  }, 40_000);
});
