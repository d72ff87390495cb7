import type { KeyObject } from "node:crypto";
import { createServer } from "node:http";
import type { AddressInfo, Socket as NetSocket } from "node:net";
import { type Socket as PartySocket, Server } from "socket.io";
import { io as connectUpstream, type Socket as UpstreamSocket } from "socket.io-client";
import { keyPairFromSecret, type ServerHello, unsealed } from "../../protocol";
import { ServerKey } from "../../signaling/server-key";

/**
 * A man in the middle between Silk parties and the real signaling server: every party connects
 * to the proxy's `url` and the proxy opens its own socket.io connection upstream for it, so each
 * event and each ack passes through `stages` in both directions. A stage sees one message and may
 * let it through (return undefined), rewrite it (return a message), drop it (null), hold it
 * (a promise: later messages on the same party and direction wait behind it, order is kept), or
 * deliver several at once (an array: to a party they leave in one TCP write, so the party's
 * socket.io reads them in one macrotask, as a busy relay or a coalescing proxy would deliver
 * them). See tests/README.md for the behaviours below and how to write another.
 */
export type Direction = "to-server" | "to-party";
export type Role = "provider" | "requester" | "unknown";

export interface MitmParty {
  readonly id: number;
  /** `?party=NAME` on the url the party connected with, if any. */
  readonly label: string | undefined;
  /** Learned from what the party sends: `provider:register` or `session:request`. */
  role: Role;
  /** Closes both of the party's connections, as a killed tab: the server sees it leave. */
  kill(): void;
  /** Sends the party an event of the proxy's own (a replay, a forgery); resolves with its ack, or undefined. */
  inject(event: string, payload: unknown, timeoutMs?: number): Promise<unknown>;
  readonly killed: boolean;
}

export interface MitmMessage {
  readonly party: MitmParty;
  readonly direction: Direction;
  /** `event` for an emitted event; `ack` for the answer to one (`event` names what it answers). */
  readonly kind: "event" | "ack";
  readonly event: string;
  /** The payloads, without the ack callback. */
  readonly args: readonly unknown[];
  /** Set when the sender waits for an answer; keep it (spread the message) to let the answer pass. */
  readonly ack?: (...reply: unknown[]) => void;
}

type Verdict = MitmMessage | readonly MitmMessage[] | null | undefined;
export type Stage = (m: MitmMessage) => Verdict | Promise<Verdict>;

/** Which messages a behaviour applies to; every given field must match. */
export interface Match {
  readonly event?: string;
  readonly direction?: Direction;
  readonly kind?: "event" | "ack";
  /** The role of the party on this connection (to-party: the receiver; to-server: the sender). */
  readonly role?: Role;
  readonly label?: string;
  readonly where?: (m: MitmMessage) => boolean;
}

export function matches(m: MitmMessage, match: Match): boolean {
  return (
    (match.event === undefined || m.event === match.event) &&
    (match.direction === undefined || m.direction === match.direction) &&
    (match.kind ?? "event") === m.kind &&
    (match.role === undefined || m.party.role === match.role) &&
    (match.label === undefined || m.party.label === match.label) &&
    (match.where === undefined || match.where(m))
  );
}

export interface Mitm {
  readonly url: string;
  readonly parties: readonly MitmParty[];
  /** Every message that passed the stages (after rewriting), in order: what each side was sent. */
  readonly log: readonly MitmMessage[];
  /** Adds a stage at the end of the pipeline; returns a function that removes it. */
  use(stage: Stage): () => void;
  close(): Promise<void>;
}

export interface MitmOptions {
  /**
   * The server's own secret key (its `serverKey`): held, the proxy stands for the server itself
   * lying, not a man in the middle. It answers each requester's `server:hello` as the server
   * would, and gives every grant (a `session:request` ack, a `session:moved` target) the MAC of
   * that connection after the stages, so what they wrote reaches the requester as the server's
   * own word.
   */
  readonly serverSecretKey?: Uint8Array;
}

export async function startMitm(
  upstreamUrl: string,
  stages: readonly Stage[] = [],
  opts: MitmOptions = {},
): Promise<Mitm> {
  const pipeline = [...stages];
  const parties: Party[] = [];
  const log: MitmMessage[] = [];
  const http = createServer();
  const io = new Server(http, { serveClient: false, maxHttpBufferSize: 16 * 1024 * 1024 });

  io.on("connection", (socket) => {
    const rawLabel = socket.handshake.query.party;
    const label = typeof rawLabel === "string" ? rawLabel : undefined;
    const upstream = connectUpstream(upstreamUrl, {
      transports: ["websocket"],
      forceNew: true,
      reconnection: false,
    });
    const party = new Party(parties.length + 1, label, socket, upstream);
    parties.push(party);
    const toServer = new Lane();
    const toParty = new Lane();

    const pass = (m: MitmMessage, lane: Lane) =>
      lane.push(async () => {
        let out: MitmMessage[] = [m];
        for (const stage of pipeline) {
          const next: MitmMessage[] = [];
          for (const each of out) {
            const verdict = await stage(each);
            if (verdict === undefined) next.push(each);
            else if (verdict !== null)
              next.push(...(Array.isArray(verdict) ? verdict : [verdict as MitmMessage]));
          }
          out = next;
        }
        const secretKey = opts.serverSecretKey;
        if (secretKey) out = out.flatMap((each) => signedAsServer(each, party, secretKey) ?? []);
        for (const each of out) log.push(each);
        deliver(out);
      });

    socket.onAny((event: string, ...args: unknown[]) => {
      if (event === "provider:register") party.role = "provider";
      if (event === "session:request" && party.role === "unknown") party.role = "requester";
      const ack = takeAck(args);
      pass(
        {
          party,
          direction: "to-server",
          kind: "event",
          event,
          args,
          ...(ack && {
            ack: (...reply: unknown[]) =>
              pass({ party, direction: "to-party", kind: "ack", event, args: reply, ack }, toParty),
          }),
        },
        toServer,
      );
    });
    upstream.onAny((event: string, ...args: unknown[]) => {
      const ack = takeAck(args);
      pass(
        {
          party,
          direction: "to-party",
          kind: "event",
          event,
          args,
          ...(ack && {
            ack: (...reply: unknown[]) =>
              pass({ party, direction: "to-server", kind: "ack", event, args: reply, ack }, toServer),
          }),
        },
        toParty,
      );
    });
    upstream.on("disconnect", () => party.kill());
    upstream.on("connect_error", () => party.kill());
    socket.on("disconnect", () => party.kill());
  });

  await new Promise<void>((resolve) => http.listen(0, "127.0.0.1", resolve));
  const { port } = http.address() as AddressInfo;
  return {
    url: `http://127.0.0.1:${port}`,
    parties,
    log,
    use(stage) {
      pipeline.push(stage);
      return () => {
        const i = pipeline.indexOf(stage);
        if (i >= 0) pipeline.splice(i, 1);
      };
    },
    async close() {
      for (const p of parties) p.kill();
      await new Promise<void>((resolve) => io.close(() => resolve()));
    },
  };
}

class Party implements MitmParty {
  role: Role = "unknown";
  killed = false;
  constructor(
    readonly id: number,
    readonly label: string | undefined,
    readonly socket: PartySocket,
    readonly upstream: UpstreamSocket,
  ) {}

  inject(event: string, payload: unknown, timeoutMs = 2_000): Promise<unknown> {
    return this.socket
      .timeout(timeoutMs)
      .emitWithAck(event, payload)
      .catch(() => undefined);
  }

  kill(): void {
    if (this.killed) return;
    this.killed = true;
    this.upstream.disconnect();
    this.socket.disconnect(true);
  }
}

/** One direction of one party: messages leave in the order they came, whatever the stages await. */
class Lane {
  private tail: Promise<void> = Promise.resolve();
  push(run: () => Promise<void>): void {
    this.tail = this.tail.then(run).catch(() => undefined);
  }
}

function takeAck(args: unknown[]): ((...reply: unknown[]) => void) | undefined {
  return typeof args.at(-1) === "function" ? (args.pop() as (...reply: unknown[]) => void) : undefined;
}

/** Sends each message on, those to one party in one write. */
function deliver(messages: readonly MitmMessage[]): void {
  const byParty = new Map<Party, MitmMessage[]>();
  for (const m of messages) {
    const party = m.party as Party;
    if (party.killed) continue;
    if (m.direction === "to-server") send(party.upstream, m);
    else byParty.set(party, [...(byParty.get(party) ?? []), m]);
  }
  for (const [party, list] of byParty)
    inOneWrite(party.socket, () => {
      for (const m of list) send(party.socket, m);
    });
}

function send(target: PartySocket | UpstreamSocket, m: MitmMessage): void {
  if (m.kind === "ack") m.ack?.(...m.args);
  else if (m.ack) (target.emit as (e: string, ...a: unknown[]) => void)(m.event, ...m.args, m.ack);
  else (target.emit as (e: string, ...a: unknown[]) => void)(m.event, ...m.args);
}

/**
 * engine.io sends one batch per write and buffers the rest until the write completes; holding
 * the batch open (and the TCP socket corked) while emitting puts every packet in one segment.
 */
function inOneWrite(socket: PartySocket, emit: () => void): void {
  const conn = socket.conn as unknown as {
    transport: { writable: boolean; socket?: { _socket?: NetSocket } };
    flush(): void;
  };
  const tcp = conn.transport.socket?._socket;
  const writable = conn.transport.writable;
  conn.transport.writable = false;
  tcp?.cork();
  try {
    emit();
  } finally {
    conn.transport.writable = writable;
    if (writable) conn.flush();
    tcp?.uncork();
  }
}

/** Per party, the last nonce its requests carried and the MAC key of its hello (see `MitmOptions`). */
const asServer = new WeakMap<MitmParty, { nonce?: string; macKey?: KeyObject }>();

/**
 * `m` as the server holding `secretKey` would have sent it (see `MitmOptions`): a hello is answered
 * here (so the MAC key is the proxy's to use, and the server never hears it), and every grant to
 * the party carries a MAC under that key for its request's nonce.
 */
function signedAsServer(m: MitmMessage, party: MitmParty, secretKey: Uint8Array): MitmMessage | null {
  const state = asServer.get(party) ?? {};
  asServer.set(party, state);
  if (m.direction === "to-server" && m.kind === "event") {
    if (m.event === "server:hello") {
      const { answer, macKey } = new ServerKey(keyPairFromSecret(secretKey)).hello(m.args[0] as ServerHello);
      state.macKey = macKey;
      m.ack?.(answer);
      return null;
    }
    const nonce = (m.args[0] as { nonce?: unknown } | undefined)?.nonce;
    if (m.event === "session:request" && typeof nonce === "string") state.nonce = nonce;
    return m;
  }
  const { nonce, macKey } = state;
  if (m.direction !== "to-party" || !nonce || !macKey) return m;
  const seal = (g: unknown): unknown => {
    if (typeof g !== "object" || g === null || (g as { ok?: unknown }).ok !== true) return g;
    const grant = unsealed(g as Record<string, unknown>);
    return { ...grant, server: ServerKey.mac(macKey, nonce, grant) };
  };
  if (m.kind === "ack" && m.event === "session:request") return { ...m, args: [seal(m.args[0])] };
  if (m.kind === "event" && m.event === "session:moved") {
    const moved = m.args[0] as { to?: unknown } | undefined;
    return moved && typeof moved === "object" ? { ...m, args: [{ ...moved, to: seal(moved.to) }] } : m;
  }
  return m;
}
