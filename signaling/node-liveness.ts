import { PROTOCOL_VERSION } from "../protocol";
import type { ServerContext } from "./context";
import { errorSummary } from "./event-guard";
import { endSession } from "./sessions";

/** The node-redis commands liveness uses; a connected `createClient()` satisfies it. */
export interface LivenessClient {
  set(
    key: string,
    value: string,
    options: { expiration?: { type: "PX"; value: number }; condition?: "NX"; GET: true },
  ): Promise<unknown>;
  sAdd(key: string, members: string): Promise<unknown>;
  sMembers(key: string): Promise<string[]>;
  sRem(key: string, members: string): Promise<number>;
  exists(key: string): Promise<number>;
  del(key: string): Promise<unknown>;
}

/**
 * Which signaling nodes are alive, kept in Redis: each node renews `node:<id>` (expiring after
 * `ttlMs`) and is listed in `nodes`. A listed node whose key expired is dead; the first node to
 * take it off the list (SREM answers 1 to exactly one caller) forgets it. A node learns it was
 * forgotten itself in two ways: the persistent `epoch` key is gone (Redis restarted empty, or was
 * flushed), or it had to list itself again (another node took it for dead while it was too slow to
 * renew, and dropped its providers). Its own key having expired alone means neither: a node too
 * busy to renew in time (10,000 providers registering at once) while nobody else noticed.
 */
export class NodeLiveness {
  private renewed = false;
  /**
   * Dead nodes this node claimed (took off `nodes`) but has not yet forgotten: the claim is made
   * once, so if forgetting fails (Redis refused or did not answer the drop), nobody else will; the
   * drop is tried again at every tick until it goes through.
   */
  private readonly owed = new Set<string>();
  /**
   * Dead nodes whose claim failed or timed out: it may have run without its reply reaching anyone
   * (then no node has it), or not at all (then the node, if it was only slow, is still listed and
   * would never hear it was dropped). The claim is sent again each tick until Redis answers; once
   * it does, the node is off `nodes` either way (a living one learns it lost its state at its next
   * beat) and its drop is owed.
   */
  private readonly unconfirmed = new Set<string>();

  constructor(
    private readonly client: LivenessClient,
    private readonly prefix: string,
    private readonly nodeId: string,
    private readonly ttlMs: number,
  ) {}

  /**
   * Renews this node; says whether Redis had forgotten it, which dead nodes this one owes a drop
   * (`dead`) and which of them it claimed at this beat (`claimed`), and whether a node left lately
   * (its clients are moving to the others).
   */
  async beat(): Promise<{ stateLost: boolean; dead: string[]; claimed: string[]; nodeLeft: boolean }> {
    const [epoch, , added, left] = await Promise.all([
      this.client.set(`${this.prefix}epoch`, "1", { condition: "NX", GET: true }),
      this.client.set(this.key(this.nodeId), "1", {
        expiration: { type: "PX", value: this.ttlMs },
        GET: true,
      }),
      this.client.sAdd(`${this.prefix}nodes`, this.nodeId),
      this.client.exists(`${this.prefix}node-left`),
    ]);
    const stateLost = this.renewed && (epoch === null || added === 1);
    this.renewed = true;
    const listed = await this.client.sMembers(`${this.prefix}nodes`);
    const others = listed.filter((n) => n !== this.nodeId);
    const alive = await Promise.all(others.map((n) => this.client.exists(this.key(n))));
    const gone = others.filter((_, i) => alive[i] === 0);
    // A claim sent again after one that failed answers 0 if the first ran: it is still this node's
    // (DROP_NODE run by two nodes, or twice, drops nothing the second time).
    const claims = [...new Set([...gone, ...this.unconfirmed])];
    const replies = await Promise.allSettled(claims.map((n) => this.client.sRem(`${this.prefix}nodes`, n)));
    const claimed: string[] = [];
    for (const [i, n] of claims.entries()) {
      const claim = replies[i];
      if (claim?.status === "rejected") {
        this.unconfirmed.add(n);
        continue;
      }
      if ((claim?.value === 1 || this.unconfirmed.has(n)) && !this.owed.has(n)) {
        this.owed.add(n);
        claimed.push(n);
      }
      this.unconfirmed.delete(n);
    }
    return { stateLost, dead: [...this.owed], claimed, nodeLeft: left === 1 };
  }

  /** A claimed dead node's state is forgotten: no more drops owed for it. */
  forgotten(node: string): void {
    this.owed.delete(node);
  }

  /** A clean exit: nobody needs to notice this node's death; the others expect its clients for `welcomeMs`. */
  async leave(welcomeMs: number): Promise<void> {
    await Promise.all([
      this.client.del(this.key(this.nodeId)),
      this.client.sRem(`${this.prefix}nodes`, this.nodeId),
      this.client.set(`${this.prefix}node-left`, this.nodeId, {
        expiration: { type: "PX", value: Math.max(1, welcomeMs) },
        GET: true,
      }),
    ]);
  }

  private key(node: string): string {
    return `${this.prefix}node:${node}`;
  }
}

/**
 * One liveness tick: forgets the dead nodes this node claimed (their providers leave the
 * directory, their sessions end with `node-lost`, freeing each place once, whichever party was on
 * the dead node) and, if Redis lost everything, asks every local provider to register again.
 */
export async function livenessTick(ctx: ServerContext, liveness: NodeLiveness): Promise<void> {
  const { stateLost, dead, claimed, nodeLeft } = await liveness.beat();
  if (stateLost) {
    ctx.log.warn(
      { providers: ctx.localProviders.size },
      "the directory forgot this node (Redis restarted empty, or it was taken for dead): providers register again",
    );
    for (const socket of [...ctx.localProviders.values()]) {
      socket.data.provider = undefined;
      ctx.localProviders.delete(socket.id);
      socket.emit("provider:unregistered", { v: PROTOCOL_VERSION, reason: "directory-lost" });
    }
  }
  // A dead or departed node's clients are on their way here: the window opens once per death, at
  // its claim. A drop still owed (Redis refusing or not answering it) is no new death; reopening
  // the window at every tick kept the per-IP limit off for tickets for as long as Redis failed.
  // (Returning clients keep it open themselves, each valid ticket extending it; admission.ts.)
  if (claimed.length > 0 || nodeLeft)
    ctx.welcomeBackUntil = Math.max(
      ctx.welcomeBackUntil,
      Date.now() + (claimed.length > 0 ? ctx.config.reconnectWindowMs : 1_000),
    );
  for (const node of dead) {
    const dropped = await ctx.directory.dropNode(node).catch((err: unknown) => {
      ctx.log.warn(
        { err: errorSummary(err), dead: node },
        "forgetting a dead node failed; trying again next tick",
      );
      return undefined;
    });
    if (!dropped) continue;
    liveness.forgotten(node);
    const { providers, sessions } = dropped;
    const ended = await Promise.all(
      sessions.map((id) =>
        endSession(ctx, id, "node-lost").catch((err: unknown) => {
          ctx.log.warn({ err: errorSummary(err), session: id }, "ending a dead node's session failed");
          return false;
        }),
      ),
    );
    ctx.feed.changed();
    ctx.log.warn({ dead: node, providers, sessions: ended.filter(Boolean).length }, "node died: forgotten");
  }
}
