// `npm run provider -- --backend http://127.0.0.1:8080/v1 --model NAME --price N --payout ADDR`
import { formatTon } from "../../protocol";
import { startHeadlessProvider } from "./headless-provider";
import { HEADLESS_USAGE, OptionsError, parseHeadlessOptions } from "./options";

async function main(): Promise<void> {
  let options: ReturnType<typeof parseHeadlessOptions>;
  try {
    options = parseHeadlessOptions(process.argv.slice(2), process.env);
  } catch (err) {
    console.error(`${err instanceof Error ? err.message : String(err)}\n\n${HEADLESS_USAGE}`);
    process.exit(2);
  }
  let served = 0;
  let earned = 0n;
  const { runtime, identityKey, settlement } = await startHeadlessProvider(options, (e) => {
    if (e.type === "request-done") {
      served++;
      earned += e.cost;
      console.log(
        `served request ${served}: ${e.promptTokens}+${e.completionTokens} tokens, ${formatTon(earned)} TON so far`,
      );
    } else if (e.type === "session-failed") console.log(`a session failed: ${e.reason}`);
  });
  console.log(
    `headless provider ${identityKey.slice(0, 16)}… serving ${options.model} via ${options.backend}`,
  );
  console.log(`registered with ${options.signalingUrl}; Ctrl-C to stop`);
  console.log(
    settlement ? `claiming on ${options.tonEndpoint}` : "no --ton-endpoint: receipts are kept, not claimed",
  );
  if (settlement) {
    setInterval(() => {
      void settlement.status().then((s) => {
        if (s.pending > 0n || s.claimed > 0n)
          console.log(`claimed ${formatTon(s.claimed)} TON, pending ${formatTon(s.pending)} TON`);
      });
    }, 60_000).unref();
  }
  const stop = () => {
    runtime.stop();
    process.exit(0);
  };
  process.once("SIGINT", stop);
  process.once("SIGTERM", stop);
}

main().catch((err: unknown) => {
  console.error(
    err instanceof OptionsError
      ? err.message
      : `headless provider failed: ${err instanceof Error ? err.message : String(err)}`,
  );
  process.exit(1);
});
