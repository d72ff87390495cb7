import type {
  CarriedQuote,
  DeviceFacts,
  MaxPrice,
  ModelPrice,
  ModelSupport,
  RegistryEntryClaim,
} from "../../protocol";

/**
 * The provider directory: who is registered, what they serve at what price, how loaded they are,
 * and which sessions hold their capacity. One interface, two stores (in-memory for one process,
 * Redis for several), both run through the same test suite.
 */

export interface ModelListing extends ModelSupport {
  readonly model: string;
  readonly price: ModelPrice;
  /** The provider's signed quote, carried verbatim to the requester in the grant. */
  readonly quote?: CarriedQuote;
}

/** What a provider proved and claimed at registration; immutable until it registers again. */
export interface ProviderRecord {
  readonly identityKey: string;
  /** The socket that registered it; every mutation names it, so a stale socket changes nothing. */
  readonly socketId: string;
  readonly payout: string;
  readonly models: readonly ModelListing[];
  readonly capacity: number;
  readonly device: DeviceFacts;
  readonly registeredAt: number;
  /** The signaling node holding the provider's socket, so its entry goes when that node dies. */
  readonly node?: string;
  /** The provider's word on its Registry entry (owner, stake, on-chain registration time), if it gave one. */
  readonly entry?: RegistryEntryClaim;
}

/** A record with its live counters. Returned as a view: read it, do not keep it. */
export interface ProviderState extends ProviderRecord {
  /** Sessions in progress as the provider last reported them (heartbeat). */
  readonly load: number;
  /** Sessions the server has assigned and not yet seen end (offers in flight included). */
  readonly active: number;
  readonly failures: number;
  readonly lastFailureAt: number;
  readonly lastAssignedAt: number;
  readonly seenAt: number;
}

/** Which provider registration a session holds a unit of capacity from. */
export interface SessionRecord {
  readonly sessionId: string;
  readonly identityKey: string;
  readonly providerSocketId: string;
  readonly requesterSocketId: string;
  readonly model: string;
  readonly createdAt: number;
  /** The nodes of the requester and the provider: the session's place is freed when either dies. */
  readonly requesterNode?: string;
  readonly providerNode?: string;
}

/** A provider chosen for a request, with its price for the requested model. */
export interface Candidate {
  readonly provider: ProviderState;
  readonly price: ModelPrice;
}

/** The requester's side of a session being opened; the directory adds the provider's. */
export interface SessionDraft {
  readonly requesterSocketId: string;
  readonly requesterNode?: string;
}

/** A provider reserved and the session opened with it (`reserveBest` minted the id). */
export interface Paired extends Candidate {
  readonly ok: true;
  readonly sessionId: string;
}

/** Why nobody fits a request (see `refusal` in matchmaking.ts). */
export interface Refused {
  readonly ok: false;
  readonly code: "NO_MODEL" | "PRICE_TOO_LOW" | "ALL_BUSY";
  readonly message: string;
}

/** What `reserveBest` needs to apply the matchmaking order (see matchmaking.ts). */
export interface PickRequest {
  readonly model: string;
  readonly maxPrice: MaxPrice;
  /** Identity keys to skip. */
  readonly exclude: ReadonlySet<string>;
  readonly now: number;
  /** A failure older than this no longer counts against a provider. */
  readonly failureWindowMs: number;
}

/** Providers alike in what they list, summed: what the market view (directory-feed.ts) needs. */
export interface MarketGroup {
  readonly models: readonly ModelListing[];
  readonly providers: number;
  readonly capacity: number;
  /** Capacity in use, each provider's capped at its capacity. */
  readonly inUse: number;
}

export interface ProviderDirectory {
  /** Adds or replaces the entry for `record.identityKey`, counters reset. */
  register(record: ProviderRecord, now: number): Promise<void>;
  /** Removes the entry only if `socketId` still owns it. */
  unregister(identityKey: string, socketId: string): Promise<boolean>;
  /** Refreshes the entry; false when `socketId` no longer owns it (the provider must register). */
  heartbeat(identityKey: string, socketId: string, load: number, now: number): Promise<boolean>;
  providersFor(model: string): Promise<readonly ProviderState[]>;
  /** One provider's entry where `model`'s providers are kept (one read, whoever else serves it); undefined if none. */
  providerOf(identityKey: string, model: string): Promise<ProviderState | undefined>;
  all(): Promise<readonly ProviderState[]>;
  /** The market summed in the store where that is cheaper than reading every entry (`all`). */
  market?(): Promise<readonly MarketGroup[]>;
  /**
   * A pairing, as one atomic step (one Redis round trip): picks the first provider in matchmaking
   * order (matchmaking.ts) that fits the request, takes one unit of its capacity and records the
   * session, from an index kept up to date on every change (so a pick touches a few entries, not
   * every provider). When nobody fits, the same index says why (no such model, the cheapest price,
   * all busy) without ranking every provider either.
   */
  reserveBest(request: PickRequest, session: SessionDraft): Promise<Paired | Refused>;
  /**
   * `reserveBest` answered in this turn when this node can answer alone (in memory; with Redis,
   * from its own lease or refusal memo): the pairing path then waits on no promise. Undefined,
   * with nothing reserved, when the store must be asked.
   */
  reserveNow?(request: PickRequest, session: SessionDraft): Paired | Refused | undefined;
  recordFailure(identityKey: string, socketId: string, now: number): Promise<void>;
  /**
   * Removes and returns the session and gives its unit of capacity back (if the provider's entry
   * still belongs to the socket that took it), as one step; exactly one caller gets the record.
   */
  closeSession(sessionId: string): Promise<SessionRecord | undefined>;
  /** `closeSession` done in this turn when no store round trip is needed; undefined when one is. */
  closeNow?(sessionId: string): { readonly record: SessionRecord | undefined } | undefined;
  sessionCount(): Promise<number>;
  /**
   * Forgets a dead node: removes the providers it still holds (owner-checked, so one that has
   * registered again elsewhere stays) and returns the ids of sessions either of whose parties was
   * on it, for the caller to end (`endSession` frees each place exactly once).
   */
  dropNode(node: string): Promise<{ providers: number; sessions: string[] }>;
  close(): Promise<void>;
}

/** Capacity in use: the larger of what the server assigned and what the provider reports. */
export function usedCapacity(p: Pick<ProviderState, "active" | "load">): number {
  return Math.max(p.active, p.load);
}

/**
 * The provider's reported load once a session it holds has ended: one less when a heartbeat was
 * heard since the session opened (`beatAtOpen` < `beats`), since that report may count it; the
 * same otherwise (a report from before the session cannot). The next heartbeat replaces it either
 * way, so a provider still busy (its direct sessions outliving the server's word) says so again.
 * Both stores apply it (redis-scripts.ts `CLOSE` in Lua).
 */
export function endedLoad(load: number, beatAtOpen: number, beats: number): number {
  return beats > beatAtOpen ? Math.max(0, load - 1) : load;
}

/** Each provider as a group of one (for stores without a `market` of their own). */
export function marketOf(providers: readonly ProviderState[]): MarketGroup[] {
  return providers.map((p) => ({
    models: p.models,
    providers: 1,
    capacity: p.capacity,
    inUse: Math.min(usedCapacity(p), p.capacity),
  }));
}
