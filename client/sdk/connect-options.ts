import { Address, type ContractProvider } from "@ton/core";
import type { RegistryReader } from "../../contracts/wrappers/registry-reader";
import type { ServerKeys } from "../../peer/server-pins";
import type { Deadlines } from "../../peer/session-machine";
import type { SignalingError } from "../../peer/signaling-errors";
import type { Wrtc } from "../../peer/webrtc-link";
import type { KeyPair, MaxPrice, ProviderStanding, TrustPolicy } from "../../protocol";
import { type AccountStoreError, InvalidRequestError } from "./errors";
import type { PaymentAccount } from "./payment-account";
import {
  defaultReserveAhead,
  escrowReserveChain,
  type ReserveOptions,
  tonReserveChain,
} from "./reserve-keeper";

/** What `connect(...)` takes: where signaling is, what the requester pays with, and its limits. */
/** How long a request waits for room when every provider is busy (`queueTimeoutMs`'s default). */
export const DEFAULT_QUEUE_TIMEOUT_MS = 30_000;
/** How long a signaling server caught lying (`QUOTE_FORGED`) is avoided (`liarMemoryMs`'s default). */
export const DEFAULT_LIAR_MEMORY_MS = 10 * 60_000;

/** A signaling server the client caught lying, and until when it avoids it. */
export interface DistrustedServer {
  readonly url: string;
  /** Unix time (ms) it is forgotten. */
  readonly until: number;
  /** What it lied about (the `QUOTE_FORGED` message). */
  readonly reason: string;
  /**
   * Whether the grant is known to be the server's own: signed by its pinned server key
   * (`serverKey`, or the key learned from its first grant), or received over TLS (an https or wss
   * URL). False only for a server that signs nothing over plain http: a man in the middle could
   * have forged it, so do not report the server as a liar on that alone.
   */
  readonly authenticated: boolean;
}

export interface ConnectOptions {
  /**
   * The signaling server; several (a list, or comma-separated) are nodes sharing one directory:
   * the client moves to the next when one goes down or shuts down, and reconnects for good.
   */
  readonly signalingUrl: string | readonly string[];
  /**
   * The signaling servers' public keys (64 hex characters, as `GET /api/server-key` and the
   * server's start-up log give them): one for every URL (nodes sharing one key file), or one per
   * URL, `{ [url]: key }`. Every grant must then be signed by it: one that is not was altered on
   * the path (`GRANT_TAMPERED`), and the server is neither blamed nor avoided. A URL without one
   * pins the key of its first signed grant (trust on first use, for this client's life).
   */
  readonly serverKey?: ServerKeys;
  /** Signs receipts; authorised in the escrow. */
  readonly sessionKey: KeyPair;
  readonly maxPrice: MaxPrice;
  /** The requester's escrow contract address. */
  readonly escrow: string;
  readonly network?: number;
  readonly keyEpoch?: number;
  readonly account?: PaymentAccount;
  readonly receiptEvery?: number;
  readonly wrtc?: Wrtc;
  readonly forceRelay?: boolean;
  readonly directTimeoutMs?: number;
  /** How many times to move to another provider when one fails mid-answer. */
  readonly maxFailovers?: number;
  /**
   * Close a session this long after its last answer (default 20 s). An open session holds one of
   * the provider's places at the signaling server, so an idle one would keep others waiting.
   */
  readonly idleCloseMs?: number;
  /**
   * How long a request may wait for room when every provider of its model refused it as full
   * (QUEUE_FULL) or signaling has no other (ALL_BUSY), before it fails with ALL_BUSY (default 30 s).
   */
  readonly queueTimeoutMs?: number;
  /**
   * How long each phase of a session may wait (peer/session-machine.ts, protocol/README.md
   * "Deadlines"): the channel, the handshake, the account, the next frame of an answer.
   */
  readonly deadlines?: Partial<Deadlines>;
  /**
   * How long a signaling server caught lying (a grant that is not the provider's signed quote:
   * `QUOTE_FORGED`) is avoided (default 10 minutes): no later request, move or reconnect goes back
   * to it meanwhile while another configured server will do; when every one is remembered so, a
   * request fails at once with `QUOTE_FORGED` naming them and until when.
   */
  readonly liarMemoryMs?: number;
  /** Told each time a signaling server is caught lying and avoided (a page can say so). */
  readonly onServerDistrusted?: (e: DistrustedServer) => void;
  /**
   * Told when `account` fails to keep an answer's signed statement (`keepAnswer` threw or
   * rejected: `FAILED`; or did not settle within `deadlines.account`: `TIMEOUT`). The answer is
   * not held back by it (its statement is in `usage.silk.signed_answer`), so this is the only
   * word an app gets that its store is failing.
   */
  readonly onAccountError?: (e: AccountStoreError) => void;
  /**
   * Told when what the client does by itself fails, which no call awaits: subscribing to the
   * directory again after a reconnect (what `models.list` is kept fresh by). A `SignalingError`
   * naming the server: `SERVER_MALFORMED` for an answer that cannot be read or a refusal in
   * another protocol version. The next reconnect tries again.
   */
  readonly onSignalingError?: (e: SignalingError) => void;
  /**
   * Told when what `onSignalingError` was told of works again: the directory subscribed again
   * after a re-subscription that failed. Once per failure (not at every good re-subscription), so
   * an app can take down what it showed.
   */
  readonly onSignalingRecovered?: () => void;
  /** Told when an answer moves to another provider (a page can say "failover in progress"). */
  readonly onFailover?: (e: { model: string; failovers: number }) => void;
  /**
   * Checks every provider the signaling server names (grant or `session:moved`) before anything
   * is sent to it: its Registry entry, read on chain through `registry`, must publish that identity
   * key and payout, and it must meet `policy` (defaults per network: `DEFAULT_POLICIES`). A provider
   * that fails is refused with an `UntrustedProviderError` and never hears from us. Without it the
   * SDK believes the server about who a provider is: only for tests and servers you run yourself.
   */
  readonly trust?: { readonly registry: RegistryReader; readonly policy?: Partial<TrustPolicy> };
  /**
   * Offer only providers the signaling server counts at least this many audits passed for the
   * model (issue 16), with or without `trust` (overrides `trust.policy.minAuditsPassed`). The
   * server's word, from reports whose evidence it checked.
   */
  readonly minAuditsPassed?: number;
  /** Refuse answers without the provider's signed statement (`BAD_STATEMENT`); auditors set it. */
  readonly requireSignedAnswers?: boolean;
  /**
   * The TON chain the escrow is on: a TonClient (`new TonClient({ endpoint })`), or anything with
   * its `provider(address)`. Given, the SDK raises reserves by default (`reserve`), dated by the
   * chain's clock when it also has TonClient's `getContractState` (else by this machine's).
   */
  readonly ton?: {
    provider(address: Address): ContractProvider;
    getContractState?(address: Address): Promise<{ timestampt: number }>;
  };
  /**
   * Keep each provider's stream reserved in the escrow ahead of what is signed (reserve-keeper.ts):
   * providers that require reserves (the default) serve only what a reserve covers plus one window,
   * and no other provider can take it. By default, when `ton` is given: raised through it, a credit
   * window at `maxPrice` ahead and at least 0.1 TON (`defaultReserveAhead`). Options of your own
   * (`chain: escrowReserveChain(...)`, `ahead`, deadlines) replace that; `false` raises none.
   */
  readonly reserve?: ReserveOptions | false;
  /** Told who answered: each provider a session opens with, as its Registry entry describes it. */
  readonly onProvider?: (p: ProviderStanding & { readonly model: string }) => void;
}

/** The reserves `connect` keeps: those given, else the default over `ton`, else none (`reserve: false` or no chain). */
export function reserveOf(o: ConnectOptions): ReserveOptions | undefined {
  if (o.reserve === false) return undefined;
  if (o.reserve) return o.reserve;
  const ton = o.ton;
  if (!ton) return undefined;
  const { getContractState } = ton;
  return {
    chain: getContractState
      ? tonReserveChain({
          provider: (address) => ton.provider(address),
          getContractState: (address) => getContractState.call(ton, address),
        })
      : escrowReserveChain((address) => ton.provider(address)),
    ahead: defaultReserveAhead(o.maxPrice.completionNanoPerToken),
  };
}

/**
 * What `connect` is given, checked before anything is opened: a typo in an address or a price
 * is refused at once, naming the option, rather than as a stray TypeError or a timeout later.
 */
export function checkConnectOptions(o: ConnectOptions): void {
  const refuse = (param: string, why: string) => {
    throw new InvalidRequestError(`${param}: ${why}`, param);
  };
  const urls = typeof o.signalingUrl === "string" ? o.signalingUrl.split(",") : (o.signalingUrl ?? []);
  if (urls.length === 0) refuse("signalingUrl", "give the signaling server's URL");
  for (const url of urls) {
    let protocol: string | undefined;
    try {
      protocol = new URL(url.trim()).protocol;
    } catch {
      protocol = undefined;
    }
    if (!protocol || !["http:", "https:", "ws:", "wss:"].includes(protocol))
      refuse("signalingUrl", `${JSON.stringify(url.slice(0, 80))} is not an http(s) URL`);
  }
  for (const [url, k] of serverKeys(o.serverKey)) {
    if (typeof k !== "string" || !/^[0-9a-fA-F]{64}$/.test(k))
      refuse("serverKey", `${url ? `the key for ${url.slice(0, 80)}` : "the key"} is not 64 hex characters`);
    if (url && !urls.some((u) => u.trim() === url))
      refuse("serverKey", `${JSON.stringify(url.slice(0, 80))} is not one of signalingUrl`);
  }
  const key = o.sessionKey;
  if (
    !(key?.publicKey instanceof Uint8Array) ||
    key.publicKey.length !== 32 ||
    !(key.secretKey instanceof Uint8Array)
  )
    refuse("sessionKey", "an Ed25519 key pair ({ publicKey, secretKey }), as generateKeyPair() makes");
  for (const side of ["promptNanoPerToken", "completionNanoPerToken"] as const) {
    const price: unknown = o.maxPrice?.[side];
    if (typeof price !== "bigint" || price < 0n) refuse(`maxPrice.${side}`, "a bigint of nanoTON, 0 or more");
  }
  if (typeof o.escrow !== "string" || (!Address.isFriendly(o.escrow) && !Address.isRaw(o.escrow)))
    refuse("escrow", "your escrow contract's TON address");
  if (o.keyEpoch !== undefined && !(Number.isInteger(o.keyEpoch) && o.keyEpoch >= 0 && o.keyEpoch < 2 ** 32))
    refuse("keyEpoch", "the epoch your escrow gave the key, an integer from 0");
}

/** The `serverKey` option as (url, key) pairs; the url empty for a key given for every URL. */
function serverKeys(given: ServerKeys | undefined): [string, unknown][] {
  if (given === undefined) return [];
  if (typeof given === "string") return [["", given]];
  return typeof given === "object" && given !== null ? Object.entries(given) : [["", given]];
}
