import type { KeyObject } from "node:crypto";
import type { DefaultEventsMap, Server, Socket } from "socket.io";
import type { SignalingConfig } from "./config";
import type { AuditLedger } from "./directory/audit-ledger";
import type { ProviderDirectory } from "./directory/directory";
import type { DirectoryFeed } from "./directory-feed";
import type { EntryCheck } from "./entry-check";
import type { Logger } from "./logger";
import type { SignalingMetrics } from "./metrics";
import type { KeyedBuckets, TokenBucket } from "./rate-limit";
import type { ResumeTickets, TicketClaim } from "./resume-tickets";
import type { ServerKey } from "./server-key";
import type { InNodeSession } from "./session-parties";

/** Per-socket state, kept in `socket.data` on the node that owns the socket. */
export interface SocketState {
  ip: string;
  events: TokenBucket;
  requests: TokenBucket;
  /** The unanswered registration challenge, single use. */
  challenge?: { bytes: Uint8Array; hex: string; expiresAt: number };
  /** Set once registered as a provider. */
  provider?: {
    identityKey: string;
    lastHeartbeatAt: number;
    /** When the first of its signed quotes runs out (it must register again before then). */
    quotesExpireAt: number;
  };
  /** The resume ticket that admitted this socket past the per-IP limit, if one did. */
  ticket?: TicketClaim;
  /** When this socket's provider was last given a resume ticket. */
  ticketIssuedAt?: number;
  /** The in-node sessions this socket is a party to (session-parties.ts); made with its first. */
  sessions?: Set<string>;
  /** The MAC key its `server:hello` agreed (protocol/server-grant.ts): its grants carry a MAC under it. */
  grantMacKey?: KeyObject;
  /** Relay budgets per session this socket sends frames into. */
  relay: Map<string, { bytes: TokenBucket; frames: TokenBucket }>;
}

export type SilkServer = Server<DefaultEventsMap, DefaultEventsMap, DefaultEventsMap, SocketState>;
export type SilkSocket = Socket<DefaultEventsMap, DefaultEventsMap, DefaultEventsMap, SocketState>;

/** What every event handler needs; one per server instance. */
export interface ServerContext {
  readonly io: SilkServer;
  readonly config: SignalingConfig;
  readonly directory: ProviderDirectory;
  /** Audit counts per provider and model (issue 16), shared like the directory. */
  readonly audits: AuditLedger;
  readonly metrics: SignalingMetrics;
  readonly log: Logger;
  readonly nodeId: string;
  /** Providers registered through sockets on this node, by socket id. */
  readonly localProviders: Map<string, SilkSocket>;
  readonly ipRequests: KeyedBuckets;
  readonly feed: DirectoryFeed;
  /**
   * Offers this node is waiting on, session id → provider socket id. A provider that disconnects
   * mid-offer leaves these to the pairing loop, which moves the requester on rather than ending.
   */
  readonly pendingOffers: Map<string, string>;
  /** Sessions whose two parties are both sockets of this node, by session id (session-parties.ts). */
  readonly inNode: Map<string, InNodeSession>;
  /** Reads a provider's Registry entry at registration (entry-check.ts); without it, its word stands. */
  readonly entryCheck?: { readonly read: EntryCheck; readonly timeoutMs: number };
  closing: boolean;
  /** Until when clients with a resume ticket are admitted past the per-IP connection limit (see config). */
  welcomeBackUntil: number;
  /** Answers `server:hello` (server-key.ts): each grant on such a connection then carries a MAC. */
  readonly serverKey: ServerKey;
  /** Signs and checks resume tickets (replaced once Redis tells the shared secret). */
  tickets: ResumeTickets;
  /** Last cluster-wide session count read from the directory (for /metrics). */
  sessionCount: number;
  /** A provider registered on `socket` (the admission gate counts it off its backlog). */
  onRegistered: (socket: SilkSocket) => void;
}
