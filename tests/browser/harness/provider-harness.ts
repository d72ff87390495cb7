// Test-only page: the real provider runtime in a browser tab, with the scripted test engine
// standing in for WebLLM (no model weights here). Never part of the production build.
import "../../../peer/browser-globals";
import { flatPrice, generateKeyPair } from "../../../protocol";
import { ProviderRuntime, type RuntimeEvent } from "../../../provider/runtime";
import { ScriptedEngine } from "../../doubles/scripted-engine";

const params = new URLSearchParams(location.search);
const fixedReply = params.get("reply");
const engine = new ScriptedEngine({
  tokenDelayMs: Number(params.get("delay") ?? "0"),
  ...(fixedReply ? { reply: () => fixedReply } : {}),
  // A dishonest provider: claims this many tokens for every word it sends.
  ...(params.get("overreport") ? { tokensPerChunk: Number(params.get("overreport")) } : {}),
});
const events: RuntimeEvent[] = [];
const status = document.getElementById("status")!;

const runtime = await ProviderRuntime.start({
  signalingUrl: location.origin,
  identity: generateKeyPair(),
  engine,
  models: [{ model: "test-model", price: flatPrice(10n) }],
  payout: `0:${"22".repeat(32)}`,
  capacity: 2,
  ...(params.get("window") ? { creditWindowTokens: Number(params.get("window")) } : {}),
  onEvent: (e) => {
    events.push(e);
    status.textContent = e.type;
  },
});

(window as unknown as { silkProvider: unknown }).silkProvider = {
  events: () => events.map((e) => e.type),
  paths: () => events.flatMap((e) => (e.type === "session-open" ? [e.path] : [])),
  generated: () => engine.generatedTokens,
  active: () => engine.activeGenerations,
  stop: () => runtime.stop(),
};
document.body.dataset.ready = "true";
