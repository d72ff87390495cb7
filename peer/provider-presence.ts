import type { Socket } from "socket.io-client";
import * as v from "valibot";
import {
  type DeviceFacts,
  encodePublicKey,
  type KeyPair,
  offerToWire,
  parseWith,
  QUOTE_TTL_MS,
  type ServedModel,
  signQuote,
  signRegistration,
} from "../protocol";
import type { ConnState } from "./connection-machine";
import { ACK_TIMEOUT_MS, type AckBody, blameServer, callOn, serverMalformed } from "./signaling-ack";
import type { SignalingConnection } from "./signaling-connection";
import { SignalingError } from "./signaling-errors";

export interface ProviderRegistration {
  readonly identity: KeyPair;
  readonly payout: string;
  readonly models: readonly ServedModel[];
  readonly capacity: number;
  readonly device: DeviceFacts;
  /** The provider's Registry entry: its owner wallet (which requesters check on chain), stake and registration time. */
  readonly entry?: { readonly owner: string; readonly stake: bigint; readonly registeredAt: number };
  /** How long each signed quote holds (default `QUOTE_TTL_MS`); registered again halfway through the part the server offers it (`renewDelayMs`). */
  readonly quoteTtlMs?: number;
}

const ChallengeAck = v.object({ challenge: v.pipe(v.string(), v.regex(/^[0-9a-f]{64}$/)) });
const Ticket = v.optional(v.pipe(v.string(), v.maxLength(120)));
/**
 * The longest delay a timer holds (Node and browsers alike): one past it runs after 1 ms, so a
 * server naming a longer heartbeat interval had the provider send a heartbeat every millisecond.
 */
const MAX_TIMER_MS = 2 ** 31 - 1;

const RegisterAck = v.object({
  heartbeatIntervalMs: v.optional(v.pipe(v.number(), v.minValue(1000), v.maxValue(MAX_TIMER_MS))),
  quoteMarginMs: v.optional(v.pipe(v.number(), v.minValue(0))),
  ticket: Ticket,
});

const DEFAULT_HEARTBEAT_MS = 20_000;
/** Never sooner than this after signing, whatever margin a server names. */
const MIN_RENEW_MS = 1_000;

/**
 * When to sign fresh quotes, after signing ones living `ttl`: halfway through the part of their
 * life the server offers them in (all but its `margin`: inside it they are swept), so a quote
 * living less than twice the margin is renewed before the sweep drops it. Halfway for an old
 * server that names no margin.
 */
export function renewDelayMs(ttl: number, margin = 0): number {
  return Math.max(MIN_RENEW_MS, Math.min(ttl / 2, (ttl - margin) / 2));
}
const LOAD_CHECK_MS = 1_000;

/**
 * A provider's standing with the server: the signed registration, sent again on every
 * connection; the heartbeats and load reports that keep it listed; the resume ticket that
 * admits it first after a restart.
 */
export class ProviderPresence {
  private registration: { reg: ProviderRegistration; load: () => number } | undefined;
  private heartbeatTimer: ReturnType<typeof setInterval> | undefined;
  private heartbeatMs = DEFAULT_HEARTBEAT_MS;
  private loadTimer: ReturnType<typeof setInterval> | undefined;
  /** The load the server last heard (a registration starts it at 0). */
  private reportedLoad = 0;
  /** The server's resume ticket for our registration. */
  private resumeTicket: string | undefined;
  /** Registers again with fresh quotes halfway through their offered life (`renewDelayMs`), before the server sweeps them. */
  private renewTimer: ReturnType<typeof setTimeout> | undefined;
  private renewAt = Number.POSITIVE_INFINITY;

  constructor(
    private readonly conn: SignalingConnection,
    /** Told of a heartbeat the server refused (but `NOT_REGISTERED`): no caller awaits one. */
    private readonly refused: (e: SignalingError) => void = () => undefined,
  ) {}

  get ticket(): string | undefined {
    return this.resumeTicket;
  }

  /** What to register from now on; a ticket for an earlier registration no longer applies. */
  set(reg: ProviderRegistration, load: () => number): void {
    this.registration = { reg, load };
    this.resumeTicket = undefined;
  }

  /** Asks for a challenge, signs it with the identity key and registers; resolves once listed. */
  async registerOn(socket: Socket): Promise<void> {
    const r = this.registration;
    if (!r) throw new SignalingError("NOT_REGISTERED", "nothing to register");
    const { reg } = r;
    const url = this.conn.url;
    const challenge = await answerOf(url, "provider:challenge", ChallengeAck, "challenge", () =>
      callOn(socket, url, "provider:challenge", { v: 1 }),
    );
    const identityKey = encodePublicKey(reg.identity.publicKey);
    // Each model's terms signed anew at every registration, so the requester can check the grant.
    // The entry's owner among them: a requester reads that entry, not another naming our key.
    const ttl = reg.quoteTtlMs ?? QUOTE_TTL_MS;
    const signedAt = Date.now();
    const expiresAt = signedAt + ttl;
    const owner = reg.entry?.owner;
    const quoted = (m: ServedModel) =>
      offerToWire(m, {
        expiresAt,
        ...(owner && { owner }),
        signature: signQuote(reg.identity.secretKey, {
          identityKey,
          payout: reg.payout,
          model: m.model,
          price: m.price,
          expiresAt,
          owner,
        }),
      });
    const body = {
      identityKey,
      payout: reg.payout,
      models: reg.models.map(quoted),
      capacity: reg.capacity,
      device: reg.device,
      ...(reg.entry && { entry: { ...reg.entry, stake: reg.entry.stake.toString() } }),
    };
    let ack: v.InferOutput<typeof RegisterAck>;
    try {
      ack = await answerOf(url, "provider:register", RegisterAck, "registration", () =>
        callOn(socket, url, "provider:register", {
          v: 1,
          ...body,
          challenge: challenge.challenge,
          signature: signRegistration(reg.identity.secretKey, challenge.challenge, body),
        }),
      );
    } catch (err) {
      // A refused ticket (another identity's, say) must not be presented again and again.
      if (err instanceof SignalingError && err.code === "BAD_TICKET") this.resumeTicket = undefined;
      throw err;
    }
    // It refuses (QUOTE_TOO_SHORT) quotes with no more than its margin left, so accepting ours
    // while naming a margin as long as their life contradicts itself: obeyed, the provider
    // registered again every MIN_RENEW_MS for as long as it stayed up.
    if (ack.quoteMarginMs !== undefined && ack.quoteMarginMs >= ttl)
      throw serverMalformed(
        url,
        "provider:register",
        `a quote margin of ${ack.quoteMarginMs} ms for quotes living ${ttl} ms, which it accepted`,
      );
    this.heartbeatMs = ack.heartbeatIntervalMs ?? DEFAULT_HEARTBEAT_MS;
    this.resumeTicket = ack.ticket;
    this.renewAt = signedAt + renewDelayMs(ttl, ack.quoteMarginMs);
  }

  /** Unanswered, the server still drops the listing once heartbeats stop. */
  unregisterOn(socket: Socket): void {
    void callOn(socket, this.conn.url, "provider:unregister", { v: 1 }).catch(() => undefined);
  }

  /** Heartbeats run only while registered. */
  changed(state: ConnState): void {
    this.stop();
    if (state.phase !== "registered") return;
    // A registration starts at load 0, while sessions that outlived a reconnect (direct ones)
    // hold places: the server hears the load at once, and within a second of every change
    // after, so no place it counts stays busy (or free) for a whole heartbeat interval.
    this.reportedLoad = 0;
    const reportChange = () => {
      if (this.registration && this.registration.load() !== this.reportedLoad) this.heartbeat();
    };
    reportChange();
    this.loadTimer = setInterval(reportChange, LOAD_CHECK_MS);
    this.heartbeatTimer = setInterval(() => this.heartbeat(), this.heartbeatMs);
    const socket = this.conn.live;
    if (socket && Number.isFinite(this.renewAt))
      this.renewTimer = setTimeout(
        () => this.conn.from(socket, { type: "renew" }),
        Math.max(0, this.renewAt - Date.now()),
      );
  }

  /** Reports the load now, whatever the server last heard (only while registered: heartbeats run then). */
  reportLoad(): void {
    if (this.loadTimer) this.heartbeat();
  }

  stop(): void {
    clearInterval(this.heartbeatTimer);
    clearInterval(this.loadTimer);
    clearTimeout(this.renewTimer);
    this.heartbeatTimer = undefined;
    this.loadTimer = undefined;
    this.renewTimer = undefined;
  }

  /**
   * A heartbeat is answered: `NOT_REGISTERED` means register again, silence means the node is gone,
   * `SHUTTING_DOWN` that it is leaving.
   */
  private heartbeat(): void {
    const socket = this.conn.live;
    const r = this.registration;
    if (!socket || !r) return;
    const wait = Math.min(ACK_TIMEOUT_MS, this.heartbeatMs);
    const load = r.load();
    this.reportedLoad = load;
    const url = this.conn.url;
    const event = "provider:heartbeat";
    callOn(socket, url, event, { v: 1, load: Math.min(64, load) }, Date.now() + wait).then(
      (ack: AckBody) => {
        const renewed = v.safeParse(Ticket, ack.ticket);
        if (renewed.success && renewed.output) this.resumeTicket = renewed.output;
      },
      (err: unknown) => {
        const code = err instanceof SignalingError ? err.code : undefined;
        if (code === "NOT_REGISTERED") this.conn.from(socket, { type: "unregistered" });
        else if (code === "TIMEOUT" || code === "UNREACHABLE") this.conn.from(socket, { type: "lost" });
        // The node is leaving: registered elsewhere (or here once it is back), as a refused request moves.
        else if (code === "SHUTTING_DOWN") this.conn.from(socket, { type: "server-shutdown" });
        else {
          const named = blameServer(url, event, err, false);
          this.refused(named instanceof SignalingError ? named : serverMalformed(url, event, String(err)));
        }
      },
    );
  }
}

/**
 * The server's answer to one of the provider's own requests, read with `schema`: a refusal in
 * another protocol version (`VERSION`) or an answer that cannot be read is SERVER_MALFORMED
 * naming the server (signaling-ack.ts), never a bare code the operator cannot place.
 */
async function answerOf<S extends v.GenericSchema>(
  url: string,
  event: string,
  schema: S,
  what: string,
  ask: () => Promise<AckBody>,
): Promise<v.InferOutput<S>> {
  let ack: AckBody;
  try {
    ack = await ask();
  } catch (err) {
    throw blameServer(url, event, err, false);
  }
  try {
    return parseWith(schema, ack, what);
  } catch (err) {
    throw serverMalformed(url, event, (err as Error).message);
  }
}
