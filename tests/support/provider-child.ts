/**
 * A provider in a process of its own, over WebRTC (`@roamhq/wrtc`), so a test can kill it as a
 * crashed tab dies (SIGKILL: no close is sent on any channel). Started by provider-process.ts:
 * argv is the signaling URL, the ms between tokens, the reply; it prints `ready <identity key>`.
 */
import wrtc from "@roamhq/wrtc";
import { encodePublicKey, flatPrice, generateKeyPair } from "../../protocol";
import { ProviderRuntime } from "../../provider/runtime";
import { ScriptedEngine } from "../doubles/scripted-engine";
import { PAYOUT } from "./silk-parties";

const [url = "", tokenDelay = "50", reply = "one two three"] = process.argv.slice(2);
const identity = generateKeyPair();
await ProviderRuntime.start({
  signalingUrl: url,
  identity,
  engine: new ScriptedEngine({ tokenDelayMs: Number(tokenDelay), reply: () => reply }),
  models: [{ model: "test-model", price: flatPrice(10n) }],
  payout: PAYOUT,
  wrtc,
  onEvent: (e) => {
    if (e.type === "tokens") process.stdout.write(`tokens ${e.count}\n`);
  },
});
process.stdout.write(`ready ${encodePublicKey(identity.publicKey)}\n`);
