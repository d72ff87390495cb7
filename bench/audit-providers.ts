/**
 * The provider side of the honest-audits benchmark, in a process of its own (providers are other
 * machines in production, and their Ed25519 and engine work should not share the auditor's event
 * loop): two honest providers of `test-model` on `SIGNALING_URL`, each a `LogprobEngine` test
 * double whose reported logprobs carry Gaussian noise of σₕ/√2, so that the difference between
 * any two of them (suspect against reference) has the σₕ the audit statistics assume. Prints
 * `{ msg: "ready", keys }` on stdout and serves until SIGTERM.
 */
import wrtc from "@roamhq/wrtc";
import { DEFAULT_TOLERANCE, encodePublicKey, flatPrice, generateKeyPair } from "../protocol";
import { ProviderRuntime } from "../provider/runtime";
import { LogprobEngine } from "../tests/doubles/logprob-engine";

const signalingUrl = process.env.SIGNALING_URL!;
const noise = DEFAULT_TOLERANCE.honestSigmaNats / Math.SQRT2;
const runtimes = await Promise.all(
  [10n, 20n].map((price, i) => {
    const identity = generateKeyPair();
    return ProviderRuntime.start({
      signalingUrl,
      identity,
      engine: new LogprobEngine({ model: { seed: 1 }, noise, seed: 100 + i }),
      models: [{ model: "test-model", price: flatPrice(price), features: ["logprobs", "scoring"] }],
      payout: `0:${(i ? "44" : "22").repeat(32)}`,
      capacity: 8,
      wrtc,
    }).then((runtime) => ({ runtime, key: encodePublicKey(identity.publicKey) }));
  }),
);
console.log(JSON.stringify({ msg: "ready", keys: runtimes.map((r) => r.key) }));
process.on("SIGTERM", () => {
  for (const r of runtimes) r.runtime.stop();
  process.exit(0);
});
