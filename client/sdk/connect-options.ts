import type { RegistryReader } from "../../contracts/wrappers/registry-reader";
import type { Deadlines } from "../../peer/session-machine";
import type { Wrtc } from "../../peer/webrtc-link";
import type { KeyPair, MaxPrice, ProviderStanding, TrustPolicy } from "../../protocol";
import type { PaymentAccount } from "./payment-account";

/** What `connect(...)` takes: where signaling is, what the requester pays with, and its limits. */
export interface ConnectOptions {
  /**
   * The signaling server; several (a list, or comma-separated) are nodes sharing one directory:
   * the client moves to the next when one goes down or shuts down, and reconnects for good.
   */
  readonly signalingUrl: string | readonly string[];
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
  /** Told who answered: each provider a session opens with, as its Registry entry describes it. */
  readonly onProvider?: (p: ProviderStanding & { readonly model: string }) => void;
}
