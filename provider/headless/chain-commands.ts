import { parseArgs } from "node:util";
import { optionMessage } from "../../peer/cli-help";
import { flatPrice, formatTon, NETWORK_ID, type NetworkName, parseTon } from "../../protocol";
import { OptionsError } from "./options";
import { initProvider, type StakeOptions, stakeMore, withdrawStake } from "./provider-init";

/**
 * The chain subcommands of `npm run provider`: `init` (identity key, payout, registration, an
 * optional stake) and `stake add AMOUNT` / `stake withdraw`. Each says what it does as it goes.
 */
export const CHAIN_USAGE = `Usage: npm run provider -- init --model NAME --price NANOTON [--stake TON] [--payout ADDRESS] [options]
       npm run provider -- stake add TON | stake withdraw [options]

  --model NAME, --price NANOTON   what the entry publishes (the model and its price per token)
  --stake TON            lock at least this much in the entry (requesters may demand a stake)
  --payout ADDRESS       where receipts pay (default: the owner wallet)
  --owner ADDRESS        testnet/mainnet: your wallet, which pays and owns the entry; the
                         command prints ton:// links for it and waits for them on chain
  --signaling URL        the Silk server whose chain is used (default http://127.0.0.1:8787)
  --network NAME         devnet, testnet or mainnet (default devnet); a server naming another
                         is refused                                              (SILK_NETWORK)
  --ton-endpoint URL     testnet/mainnet: read the chain here (default: toncenter's; an endpoint
                         the server names is never used)                   (SILK_TON_ENDPOINT)
  --key-file PATH        identity key, created if missing (.silk/provider.key)`;

/** parseArgs's refusal (an unknown option) as an OptionsError with the usage, its first sentence only. */
function readArgs<T>(read: () => T): T {
  try {
    return read();
  } catch (err) {
    if (err instanceof OptionsError) throw err;
    throw new OptionsError(`${optionMessage(err)}\n\n${CHAIN_USAGE}`);
  }
}

export const PROVIDER_STATE_FILE = process.env.SILK_PROVIDER_STATE ?? ".silk/provider.json";

export async function runChainCommand(argv: string[], say: (line: string) => void): Promise<void> {
  const [command, ...rest] = argv;
  const { values, positionals } = readArgs(() =>
    parseArgs({
      args: command === "stake" ? rest.slice(1) : rest,
      options: {
        model: { type: "string" },
        price: { type: "string" },
        stake: { type: "string" },
        payout: { type: "string" },
        owner: { type: "string" },
        signaling: { type: "string" },
        network: { type: "string" },
        "ton-endpoint": { type: "string" },
        "key-file": { type: "string" },
      },
      allowPositionals: true,
      strict: true,
    }),
  );
  const network = values.network ?? process.env.SILK_NETWORK ?? "devnet";
  if (!(network in NETWORK_ID))
    throw new OptionsError(`--network must be devnet, testnet or mainnet\n\n${CHAIN_USAGE}`);
  const tonEndpoint = values["ton-endpoint"] ?? process.env.SILK_TON_ENDPOINT;
  const common: StakeOptions = {
    signalingUrl: values.signaling ?? process.env.SILK_SIGNALING_URL ?? "http://127.0.0.1:8787",
    network: network as NetworkName,
    ...(tonEndpoint && { tonEndpoint }),
    stateFile: PROVIDER_STATE_FILE,
    walletFile: ".silk/provider-wallet.seed",
    ...(values.owner && { owner: values.owner }),
    say,
  };
  const ton = (text: string | undefined, flag: string): bigint => {
    const n = text === undefined ? undefined : parseTon(text);
    if (n === undefined) throw new OptionsError(`${flag} is a number of TON, like 1 or 0.5`);
    return n;
  };
  if (command === "init") {
    if (!values.model || !values.price || !/^(0|[1-9][0-9]*)$/.test(values.price))
      throw new OptionsError(`init needs --model and --price (whole nanoTON per token)\n\n${CHAIN_USAGE}`);
    await initProvider({
      ...common,
      keyFile: values["key-file"] ?? process.env.SILK_KEY_FILE ?? ".silk/provider.key",
      model: values.model,
      price: flatPrice(BigInt(values.price)),
      ...(values.payout && { payout: values.payout }),
      ...(values.stake !== undefined && { stake: ton(values.stake, "--stake") }),
    });
    return;
  }
  const action = rest[0];
  if (command === "stake" && action === "add") {
    const total = await stakeMore(common, ton(positionals[0], "stake add"));
    say(`the entry now holds ${formatTon(total)} TON of stake`);
    return;
  }
  if (command === "stake" && action === "withdraw") {
    await withdrawStake(common);
    return;
  }
  throw new OptionsError(CHAIN_USAGE);
}
