import { refusal } from "../matchmaking";
import {
  endedLoad,
  type Paired,
  type PickRequest,
  type ProviderDirectory,
  type ProviderRecord,
  type ProviderState,
  type Refused,
  type SessionDraft,
  type SessionRecord,
} from "./directory";
import { MatchIndex } from "./memory-index";
import { newSessionId } from "./session-id";

/** `beats`: heartbeats heard since it registered (see `closeNow`). */
type MutableState = { -readonly [K in keyof ProviderState]: ProviderState[K] } & { beats: number };

/** A session with the provider's `beats` when it was opened. */
interface OpenSession {
  readonly record: SessionRecord;
  readonly beat: number;
}

/** The embedded default: one process, no Redis. Same semantics as the Redis store. */
export class MemoryDirectory implements ProviderDirectory {
  private readonly providers = new Map<string, MutableState>();
  private readonly byModel = new Map<string, Set<string>>();
  private readonly sessions = new Map<string, OpenSession>();
  /** Per-model lists, rebuilt only when membership changes: pairing reads them on every request. */
  private readonly lists = new Map<string, ProviderState[]>();
  private readonly index = new MatchIndex();

  async register(record: ProviderRecord, now: number): Promise<void> {
    const old = this.providers.get(record.identityKey);
    if (old) this.unindex(old);
    // Built field by field (not spread) so every entry shares one hidden class: pairing scans
    // thousands of them per request and a megamorphic scan is ten times slower.
    const state: MutableState = {
      identityKey: record.identityKey,
      socketId: record.socketId,
      payout: record.payout,
      models: record.models.map((m) => ({ ...m })),
      capacity: record.capacity,
      device: record.device,
      registeredAt: record.registeredAt,
      node: record.node,
      entry: record.entry,
      load: 0,
      active: 0,
      failures: 0,
      lastFailureAt: 0,
      lastAssignedAt: 0,
      seenAt: now,
      beats: 0,
    };
    this.providers.set(record.identityKey, state);
    for (const { model } of record.models) {
      const set = this.byModel.get(model) ?? new Set<string>();
      set.add(record.identityKey);
      this.byModel.set(model, set);
      this.lists.delete(model);
    }
    this.index.add(state);
  }

  async unregister(identityKey: string, socketId: string): Promise<boolean> {
    const state = this.owned(identityKey, socketId);
    if (!state) return false;
    this.unindex(state);
    this.providers.delete(identityKey);
    this.index.remove(identityKey);
    return true;
  }

  async heartbeat(identityKey: string, socketId: string, load: number, now: number): Promise<boolean> {
    const state = this.owned(identityKey, socketId);
    if (!state) return false;
    const changed = state.load !== load;
    state.load = load;
    state.seenAt = now;
    state.beats += 1;
    if (changed) this.index.update(identityKey);
    return true;
  }

  async providersFor(model: string): Promise<readonly ProviderState[]> {
    let list = this.lists.get(model);
    if (!list) {
      list = [];
      for (const key of this.byModel.get(model) ?? []) {
        const state = this.providers.get(key);
        if (state) list.push(state);
      }
      this.lists.set(model, list);
    }
    return list;
  }

  async providerOf(identityKey: string, model: string): Promise<ProviderState | undefined> {
    return this.byModel.get(model)?.has(identityKey) ? this.providers.get(identityKey) : undefined;
  }

  async all(): Promise<readonly ProviderState[]> {
    return [...this.providers.values()];
  }

  async reserveBest(request: PickRequest, draft: SessionDraft): Promise<Paired | Refused> {
    return this.reserveNow(request, draft);
  }

  reserveNow(request: PickRequest, draft: SessionDraft): Paired | Refused {
    const { model, maxPrice, exclude } = request;
    const picked = this.index.pick(model, maxPrice, exclude, request.now, request.failureWindowMs);
    if (!picked) {
      const why = this.index.whyNot(model, maxPrice, exclude);
      return refusal(why.code, request, why.cheapest);
    }
    const state = this.providers.get(picked.state.identityKey)!;
    this.take(state, request.now);
    const sessionId = newSessionId();
    this.sessions.set(sessionId, {
      record: {
        sessionId,
        identityKey: state.identityKey,
        providerSocketId: state.socketId,
        requesterSocketId: draft.requesterSocketId,
        model,
        createdAt: request.now,
        ...(draft.requesterNode && { requesterNode: draft.requesterNode }),
        ...(state.node && { providerNode: state.node }),
      },
      beat: state.beats,
    });
    return { ok: true, sessionId, provider: state, price: picked.price };
  }

  async recordFailure(identityKey: string, socketId: string, now: number): Promise<void> {
    const state = this.owned(identityKey, socketId);
    if (!state) return;
    state.failures += 1;
    state.lastFailureAt = now;
    this.index.failed(identityKey, now);
    this.index.update(identityKey);
  }

  async closeSession(sessionId: string): Promise<SessionRecord | undefined> {
    return this.closeNow(sessionId).record;
  }

  closeNow(sessionId: string): { record: SessionRecord | undefined } {
    const open = this.sessions.get(sessionId);
    if (!open) return { record: undefined };
    this.sessions.delete(sessionId);
    const { record } = open;
    const state = this.owned(record.identityKey, record.providerSocketId);
    if (state && state.active > 0) {
      state.active -= 1;
      // A load heard after the session opened may count it: the server knows it ended, so its
      // place is not held until the provider's next heartbeat (`endedLoad`).
      state.load = endedLoad(state.load, open.beat, state.beats);
      this.index.update(state.identityKey);
    }
    return { record };
  }

  async sessionCount(): Promise<number> {
    return this.sessions.size;
  }

  async dropNode(node: string): Promise<{ providers: number; sessions: string[] }> {
    let providers = 0;
    for (const p of [...this.providers.values()])
      if (p.node === node && (await this.unregister(p.identityKey, p.socketId))) providers++;
    const sessions = [...this.sessions.values()]
      .filter(({ record: s }) => s.requesterNode === node || s.providerNode === node)
      .map(({ record: s }) => s.sessionId);
    return { providers, sessions };
  }

  async close(): Promise<void> {
    this.providers.clear();
    this.byModel.clear();
    this.lists.clear();
    this.index.clear();
    this.sessions.clear();
  }

  private take(state: MutableState, now: number): void {
    state.active += 1;
    state.lastAssignedAt = now;
    this.index.assigned(state.identityKey);
    this.index.update(state.identityKey);
  }

  private owned(identityKey: string, socketId: string): MutableState | undefined {
    const state = this.providers.get(identityKey);
    return state && state.socketId === socketId ? state : undefined;
  }

  private unindex(state: ProviderRecord): void {
    for (const { model } of state.models) {
      this.lists.delete(model);
      const set = this.byModel.get(model);
      set?.delete(state.identityKey);
      if (set?.size === 0) this.byModel.delete(model);
    }
  }
}
