import { Address, type Cell } from "@ton/core";
import { TonClient } from "@ton/ton";
import { EscrowParams } from "../contracts/generated/constants";
import { Escrow, externalClaimBody } from "../contracts/wrappers/escrow";
import { type SignedReceipt, streamId } from "../protocol/receipt";
import { type AccountGate, accountGate } from "./account-gate";
import { ChainPriceSource, jsonRpcConfigReader } from "./chain-prices";
import { type ClaimTransaction, EscrowClaimChain } from "./claim-chain";
import { CROWDED_CLAIM_DEPTH, claimFee } from "./claim-fee";
import { type EscrowAccount, escrowFacts, readEscrowAccount } from "./escrow-account";
import { EscrowBook } from "./escrow-book";
import { FOREIGN_CLAIM_REASON, foreignClaimsByEscrow, type ReceiptStore } from "./receipt-store";
import { Settlement } from "./settlement";
import type { SettlementPolicy } from "./settlement-policy";

/**
 * The provider's view of a real chain through TonClient (the devnet, testnet or mainnet, chosen
 * by the endpoint alone): settlement, claiming as external messages so the provider needs no TON;
 * the gate that checks a requester's escrow (its code, network, close delay, key and funds) with
 * one account read per session; the book of what each escrow can still pay; and the chain's prices.
 */
export const DEFAULT_SETTLEMENT_POLICY: SettlementPolicy = {
  feeShareBps: 100, // claim once the fee is at most 1% of the amount
  maxHoldMs: 7 * 24 * 3_600_000, // or after a week held, whatever the fee
  riskHeadroomNano: 100_000_000n, // the runtime raises it to its credit window's worth
  minClaimNano: EscrowParams.MIN_CLAIM,
  maxAttempts: 5,
  retryBaseMs: 2_000,
};

export interface TonConnection {
  readonly settlement: Settlement;
  readonly gate: AccountGate;
  readonly book: EscrowBook;
  readonly prices: ChainPriceSource;
}

export function connectTon(o: {
  endpoint: string;
  apiKey?: string;
  store: ReceiptStore;
  /** The Escrow code this provider knows: only accounts running it are served. */
  escrowCode: Cell;
  /** Shortest close delay served (seconds); see DEFAULT_MIN_CLOSE_DELAY. */
  minCloseDelay: number;
  policy?: Partial<SettlementPolicy>;
  /**
   * Reserves are required: an escrow's free balance is trusted for at most this much per stream
   * beyond the stream's reserve, so that what requesters sign to other providers can never leave
   * this one owed more than that. Default: a prompt's bound and one credit window at the dearest
   * model's prices (serving/unreserved-floor.ts), so a single request starts before its raise is
   * seen. "whole-balance" opts out: the whole free balance is trusted (requesters that raise no
   * reserve are served as before reserves, and the provider shares that risk).
   */
  unreservedNano?: bigint | "whole-balance";
  /** The clock settlement decides by (ms); tests move it. */
  now?: () => number;
  /**
   * The provider's log, where a failure it keeps going past is said, by code only (no amounts,
   * addresses or keys): console.warn by default, as the receipts log's own.
   */
  warn?: (message: string) => void;
}): TonConnection {
  const warn = o.warn ?? ((m: string) => console.warn(m));
  const client = new TonClient({ endpoint: o.endpoint, ...(o.apiKey ? { apiKey: o.apiKey } : {}) });
  const open = (address: Address) => client.open(Escrow.createFromAddress(address));
  const read = (address: Address): Promise<EscrowAccount> =>
    readEscrowAccount((a) => client.getContractState(a), address);
  // Claims are external only (no wallet here): an escrow too crowded along a stream is not served.
  const book = new EscrowBook(read, Date.now, {
    maxClaimDepth: CROWDED_CLAIM_DEPTH,
    ...(o.unreservedNano !== "whole-balance" && { unreserved: o.unreservedNano ?? "auto" }),
    // Kept with the stream's receipts, so a restart still knows (seeded below).
    onForeignClaim: (stream, amount, paid) => {
      const claim = { at: (o.now ?? Date.now)(), amount, fee: 0n, reason: FOREIGN_CLAIM_REASON };
      // Not saved, the claim still counts for this run (the book holds it), but a restart would
      // forget it: said, and serving goes on.
      o.store.setClaimed(streamId(stream), paid, claim).catch((err: unknown) => {
        warn(
          `another party's claim on a stream could not be saved with its receipts (${failureCode(err)}): it counts until this provider restarts`,
        );
      });
    },
  });
  // What earlier runs counted: every escrow's foreign small claims, before any session is let in.
  const remembered = o.store.list().then(
    (records) => {
      for (const [escrow, n] of foreignClaimsByEscrow(records))
        book.rememberForeignClaims(Address.parse(escrow), n);
    },
    () => undefined,
  );
  const prices = new ChainPriceSource(jsonRpcConfigReader(o.endpoint, o.apiKey));
  const chain = new EscrowClaimChain(open);
  const settlement = new Settlement({
    store: o.store,
    chain: Object.assign(chain, {
      claimTransaction: (signed: SignedReceipt) => claimTransactionOf(client, signed),
    }),
    policy: { ...DEFAULT_SETTLEMENT_POLICY, ...o.policy },
    book,
    ...(o.now ? { now: o.now } : {}),
    // Escrows owed by are read often enough to see a close well within the shortest delay served.
    watchMs: Math.min(5 * 60_000, Math.max(1_000, (o.minCloseDelay * 1_000) / 4)),
    fee: async (signed) => {
      const p = await prices.get();
      const { path, dictionaryEntries, reserved } = book.claimPathOf(signed.receipt);
      return p && claimFee(signed, path, p, dictionaryEntries, reserved);
    },
  });
  const gate = accountGate(
    async (address, base, sessionKey) => {
      await remembered;
      const account = await read(address);
      book.track(base);
      book.update(address, account);
      return {
        ...escrowFacts(account, base, sessionKey),
        foreignSmallClaims: book.foreignSmallClaims(address),
      };
    },
    {
      codeHash: o.escrowCode.hash().toString("hex"),
      minCloseDelay: o.minCloseDelay,
      minimum: EscrowParams.MIN_CLAIM,
      maxClaimDepth: CROWDED_CLAIM_DEPTH,
    },
  );
  return { settlement, gate, book, prices };
}

/** What failed, by its code alone (an errno like ENOSPC, or the error's name): never its text, which may carry values. */
function failureCode(err: unknown): string {
  const code = (err as { code?: unknown } | null)?.code;
  if (typeof code === "string" && /^[A-Z0-9_]{1,40}$/.test(code)) return code;
  return err instanceof Error ? err.name : "unknown";
}

/**
 * The escrow's transaction that took a confirmed external claim, and what it cost the claim: its
 * fees but the escrow's own rent, plus the payout message's forward fee (what the escrow paid out
 * less what reached the payout).
 */
async function claimTransactionOf(
  client: TonClient,
  signed: SignedReceipt,
): Promise<ClaimTransaction | undefined> {
  const body = externalClaimBody(signed).hash();
  for (const tx of await client.getTransactions(signed.receipt.escrow, { limit: 10 })) {
    const inMsg = tx.inMessage;
    if (inMsg?.info.type !== "external-in" || !inMsg.body.hash().equals(body)) continue;
    const out = tx.outMessages.get(0);
    const forward = out?.info.type === "internal" ? out.info.forwardFee : 0n;
    // The escrow's storage rent is in its fees too, but the escrow pays it, not the claim.
    const d = tx.description;
    const rent = d.type === "generic" ? (d.storagePhase?.storageFeesCollected ?? 0n) : 0n;
    return { fee: tx.totalFees.coins - rent + forward, hash: tx.hash().toString("hex") };
  }
  return undefined;
}
