// `npm run provider -- init --model NAME --price N`, then `npm run provider -- --backend URL --model NAME --price N`
import { exitOnHelp } from "../../peer/cli-help";
import { shownUrl } from "../../peer/shown-url";
import { formatTon } from "../../protocol";
import { statusReport } from "../settlement-view";
import { CHAIN_USAGE, PROVIDER_STATE_FILE, runChainCommand } from "./chain-commands";
import { startHeadlessProvider } from "./headless-provider";
import { HEADLESS_USAGE, OptionsError, parseHeadlessOptions } from "./options";
import { readProviderState } from "./provider-state";

async function main(): Promise<void> {
  const argv = process.argv.slice(2);
  exitOnHelp(
    argv,
    argv[0] === "init" || argv[0] === "stake" ? CHAIN_USAGE : `${HEADLESS_USAGE}\n\n${CHAIN_USAGE}`,
  );
  if (argv[0] === "init" || argv[0] === "stake") return runChainCommand(argv, (line) => console.log(line));
  let options: ReturnType<typeof parseHeadlessOptions>;
  try {
    options = parseHeadlessOptions(argv, process.env, readProviderState(PROVIDER_STATE_FILE));
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
    else if (e.type === "signaling-error") console.error(`signaling: ${e.code}: ${e.message}`);
  });
  console.log(
    `headless provider ${identityKey.slice(0, 16)}… serving ${options.model} via ${shownUrl(options.backend)}`,
  );
  console.log(`registered with ${shownUrl(options.signalingUrl)}; Ctrl-C to stop`);
  console.log(
    settlement
      ? `claiming on ${shownUrl(options.tonEndpoint ?? "")}`
      : "no --ton-endpoint: receipts are kept, not claimed",
  );
  if (settlement) {
    // Every minute, when something changed: earned, held per escrow, each claim made with its fee
    // and share, and when and why each stream will be claimed (settlement-view.ts, as on the page).
    let last = "";
    const reported = new Set<string>();
    setInterval(() => {
      void settlement.status().then((s) => {
        const text = statusReport(s, Date.now(), reported).join("\n");
        if ((s.pending > 0n || s.claimed > 0n) && text !== last) console.log(text);
        last = text;
      });
    }, 60_000).unref();
  }
  const stop = () => {
    runtime.stop();
    process.exit(0);
  };
  process.on("SIGINT", stop);
  process.on("SIGTERM", stop);
}

main().catch((err: unknown) => {
  console.error(
    err instanceof OptionsError
      ? err.message
      : `headless provider failed: ${err instanceof Error ? err.message : String(err)}`,
  );
  // A command line that cannot be read is status 2, as the provider's own options.
  process.exit(err instanceof OptionsError ? 2 : 1);
});
