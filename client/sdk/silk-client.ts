import { Address } from "@ton/core";
import type { RegistryReader } from "../../contracts/wrappers/registry-reader";
import { connectPeer } from "../../peer/connect-peer";
import { endingError, SessionLife } from "../../peer/session-life";
import type { Deadlines } from "../../peer/session-machine";
import {
  type SessionGranted,
  SessionMovedError,
  SessionNotTakenError,
  SignalingClient,
  SignalingError,
  SignalingLostError,
} from "../../peer/signaling-client";
import type { Wrtc } from "../../peer/webrtc-link";
import {
  decodePublicKey,
  type ErrorCode,
  encodePublicKey,
  type FrameTransport,
  initiateSession,
  isAccountRefusal,
  type KeyPair,
  type MaxPrice,
  missingNeed,
  NETWORK_ID,
  type Need,
  type NetworkName,
  needsOf,
  type ProviderStanding,
  policyFor,
  policyHint,
  priceFits,
  SilkError,
  TimeoutError,
  type TrustPolicy,
  UntrustedProviderError,
} from "../../protocol";
import { linkAbort } from "./abort-link";
import { toChatParams } from "./chat-input";
import { completionFromResult, type RunResult, streamChunks } from "./completion-stream";
import {
  type CreateEmbeddingResponse,
  EMBED_NEEDS,
  type EmbeddingCreateParams,
  runEmbeddings,
  toEmbedParams,
} from "./embeddings";
import {
  HandshakeFailedError,
  NoProviderError,
  ProviderError,
  ProviderLostError,
  StalledError,
  TamperedError,
} from "./errors";
import { ModelDirectory } from "./model-directory";
import type {
  ChatCompletion,
  ChatCompletionChunk,
  ChatCompletionCreateParams,
  ModelEntry,
} from "./openai-shapes";
import { MemoryPaymentAccount, type PaymentAccount } from "./payment-account";
import { checkProvider } from "./provider-trust";
import { type AnswerDelta, RequesterSession, type RequestInput } from "./requester-session";
import { SessionPool } from "./session-pool";

/**
 * The requester SDK: `connect(...)`, then an OpenAI-compatible surface. One session per model is
 * kept open and reused; a provider that vanishes mid-answer is replaced and the answer continues.
 */
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
  /** Refuse answers without the provider's signed statement (`BAD_STATEMENT`); auditors set it. */
  readonly requireSignedAnswers?: boolean;
  /** Told who answered: each provider a session opens with, as its Registry entry describes it. */
  readonly onProvider?: (p: ProviderStanding & { readonly model: string }) => void;
}

export interface SilkClient {
  readonly chat: {
    readonly completions: {
      create(
        params: ChatCompletionCreateParams & { stream: true },
      ): Promise<AsyncIterable<ChatCompletionChunk>>;
      create(params: ChatCompletionCreateParams & { stream?: false | null }): Promise<ChatCompletion>;
      create(
        params: ChatCompletionCreateParams,
      ): Promise<AsyncIterable<ChatCompletionChunk> | ChatCompletion>;
    };
  };
  readonly models: { list(): Promise<{ object: "list"; data: ModelEntry[] }> };
  /** OpenAI's embeddings, from providers that declare `embeddings` for the model, billed per input token. */
  readonly embeddings: { create(params: EmbeddingCreateParams): Promise<CreateEmbeddingResponse> };
  /** Like WebLLM's engine.interruptGenerate(): stops every answer in progress. */
  interruptGenerate(): void;
  close(): void;
}

/** Moves by the server's failover that one open follows (it makes at most `maxOfferAttempts`). */
const MAX_MOVES = 8;

/** Signaling's answers that mean no provider besides those excluded can take a session now. */
const NO_OTHER_PROVIDER: ReadonlySet<string> = new Set(["ALL_BUSY", "NO_MODEL"]);
/** How long a pool waits for room before asking signaling again for another provider. */
const NO_OTHER_RETRY_MS = 2_000;

/** What a request waits for room with: providers that refused it as full, until when, and its abort. */
interface RoomWait {
  readonly full: Set<string>;
  readonly deadline: number;
  readonly signal: AbortSignal;
}

interface ModelPool {
  readonly sessions: SessionPool<RequesterSession>;
  /** The open in flight for this model, if any. */
  opening?: Promise<RequesterSession>;
  /** Until then, signaling is not asked for another provider (it said there was none). */
  noOtherUntil: number;
}

/** How long a failover waits for a provider to be listed again (they re-register within seconds). */
const RESUME_MS = 8_000;
const RESUMABLE = new Set(["NO_MODEL", "ALL_BUSY", "NO_ANSWER", "UNREACHABLE", "TIMEOUT"]);

/** Handshake failures that mean the peer is not who the server said, or the handshake was altered. */
const HANDSHAKE_FAILURES: ReadonlySet<string> = new Set([
  "IDENTITY_MISMATCH",
  "BAD_SIGNATURE",
  "HANDSHAKE",
  "VERSION",
  "DECRYPT",
]);

export async function connect(opts: ConnectOptions): Promise<SilkClient> {
  const signaling = await SignalingClient.connect(opts.signalingUrl);
  return new Client(signaling, opts);
}

/** A request's progress as it moves across providers. */
export interface Attempt {
  onText: (text: string, tokens: number) => void;
  signal: AbortSignal;
}

class Client implements SilkClient {
  /** Per model: the open sessions that serve it, one per provider (session-pool.ts). */
  private readonly pools = new Map<string, ModelPool>();
  private readonly byPayout = new Map<string, RequesterSession>();
  /** Sessions open one at a time, so two models served by one provider end up on one session. */
  private opening: Promise<unknown> = Promise.resolve();
  private readonly account: PaymentAccount;
  private readonly interrupts = new Set<AbortController>();
  private readonly policy: TrustPolicy;
  private readonly directory: ModelDirectory;
  readonly chat: SilkClient["chat"];
  readonly models: SilkClient["models"];
  readonly embeddings: SilkClient["embeddings"];

  constructor(
    private readonly signaling: SignalingClient,
    private readonly opts: ConnectOptions,
  ) {
    this.account = opts.account ?? new MemoryPaymentAccount();
    const network = (Object.keys(NETWORK_ID) as NetworkName[]).find(
      (n) => NETWORK_ID[n] === (opts.network ?? NETWORK_ID.devnet),
    );
    this.policy = policyFor(network ?? "mainnet", opts.trust?.policy);
    this.chat = {
      completions: {
        create: ((params: ChatCompletionCreateParams) =>
          this.create(params)) as SilkClient["chat"]["completions"]["create"],
      },
    };
    this.directory = new ModelDirectory(signaling);
    this.directory.start();
    this.models = { list: () => this.directory.list() };
    this.embeddings = { create: (p) => this.embed(p) };
  }

  interruptGenerate(): void {
    for (const c of this.interrupts) c.abort();
  }

  close(): void {
    for (const { timer } of this.busy.values()) clearTimeout(timer);
    for (const s of this.byPayout.values()) s.close();
    this.directory.close();
    this.signaling.close();
  }

  private async create(
    params: ChatCompletionCreateParams,
  ): Promise<AsyncIterable<ChatCompletionChunk> | ChatCompletion> {
    const input = toChatParams(params);
    const needs = needsOf(input);
    const abort = new AbortController();
    const unlink = linkAbort(params.signal, () => abort.abort());
    this.interrupts.add(abort);
    const avoid = [...(params.avoid ?? [])];
    const run = (onDelta: (d: AnswerDelta) => void) =>
      this.runWithFailover(input, needs, onDelta, abort.signal, avoid).finally(() => {
        unlink();
        this.interrupts.delete(abort);
      });
    if (params.stream) return streamChunks(params.model, run, Boolean(params.stream_options?.include_usage));
    return completionFromResult(params.model, await run(() => undefined));
  }

  private async embed(p: EmbeddingCreateParams): Promise<CreateEmbeddingResponse> {
    const params = toEmbedParams(p);
    const abort = new AbortController();
    const unlink = linkAbort(p.signal, () => abort.abort());
    this.interrupts.add(abort);
    const pool = this.poolOf(params.model);
    const deadline = Date.now() + (this.opts.queueTimeoutMs ?? 30_000);
    const room = (full: Set<string>) => ({ full, deadline, signal: abort.signal });
    try {
      return await runEmbeddings(
        params,
        p.encoding_format ?? "float",
        {
          session: async (exclude, full) => {
            const { provider, session } = await this.sessionFor(
              params.model,
              exclude,
              EMBED_NEEDS,
              room(full),
            );
            const embed: typeof session.embed = async (x, signal) => {
              const load = pool.sessions.begin(provider);
              try {
                return await this.tracked(session, () => session.embed(x, signal));
              } catch (err) {
                if (err instanceof ProviderError && err.code === "QUEUE_FULL")
                  pool.sessions.full(provider, load.inflight);
                throw err;
              } finally {
                load.end();
              }
            };
            return { provider, embed };
          },
          lost: (provider) => pool.sessions.remove(provider),
          maxFailovers: this.opts.maxFailovers ?? 2,
        },
        abort.signal,
      );
    } finally {
      unlink();
      this.interrupts.delete(abort);
    }
  }

  /**
   * Runs the request on the model's pool of sessions, moving to another provider (with the partial
   * answer as context) if one vanishes, and to another (or waiting for room, up to
   * `queueTimeoutMs`) when one refuses it with QUEUE_FULL.
   */
  private async runWithFailover(
    input: RequestInput,
    needs: readonly Need[],
    onDelta: (d: AnswerDelta) => void,
    signal: AbortSignal,
    exclude: string[] = [],
  ): Promise<RunResult> {
    const full = new Set<string>();
    const deadline = Date.now() + (this.opts.queueTimeoutMs ?? 30_000);
    const pool = this.poolOf(input.model);
    let partial = "";
    let failovers = 0;
    let spentCompletion = 0;
    let spentCost = 0n;
    for (;;) {
      let picked: { provider: string; session: RequesterSession };
      try {
        picked =
          failovers === 0
            ? await this.sessionFor(input.model, exclude, needs, { full, deadline, signal })
            : await this.resume(input.model, exclude, needs, { full, deadline, signal });
      } catch (err) {
        if (failovers === 0) throw err;
        const why = err instanceof NoProviderError ? ` (${err.code})` : "";
        throw new ProviderLostError(
          partial,
          spentCompletion,
          spentCost,
          err,
          `the provider disconnected mid-answer and no other provider could continue it${why}`,
        );
      }
      const { provider, session } = picked;
      const attempt: RequestInput = partial
        ? {
            ...input,
            messages: [...input.messages, { role: "assistant", content: partial }],
            ...(input.max_tokens !== undefined && {
              max_tokens: Math.max(1, input.max_tokens - spentCompletion),
            }),
          }
        : input;
      const load = pool.sessions.begin(provider);
      try {
        const r = await this.tracked(session, () => session.request(attempt, onDelta, signal));
        return {
          ...r,
          text: partial + r.text,
          promptTokens: r.promptTokens,
          completionTokens: spentCompletion + r.completionTokens,
          cost: spentCost + r.cost,
          provider,
          failovers,
        };
      } catch (err) {
        // A full queue is a refusal before any token: the request goes to another provider.
        if (err instanceof ProviderError && err.code === "QUEUE_FULL" && !signal.aborted) {
          pool.sessions.full(provider, load.inflight);
          full.add(provider);
          continue;
        }
        // A stall or tampering cannot be pinned on the provider: end with it rather than blame one.
        if (
          !(err instanceof ProviderLostError) ||
          err instanceof StalledError ||
          err instanceof TamperedError
        )
          throw err;
        if (signal.aborted || err.midToolCall) throw err;
        pool.sessions.remove(provider);
        // Signaling went away, not the provider: it registers again in a moment and may continue.
        if (!(err.cause instanceof SignalingLostError)) exclude.push(provider);
        if (++failovers > (this.opts.maxFailovers ?? 2)) throw err;
        this.opts.onFailover?.({ model: input.model, failovers });
        partial += err.partial;
        spentCompletion += err.tokens;
        spentCost += err.cost;
      } finally {
        load.end();
      }
    }
  }

  /**
   * A session to continue an answer on. Right after signaling comes back, providers are still
   * registering again: "nobody serves it" is then asked again for a few seconds (`RESUME_MS`).
   */
  private async resume(
    model: string,
    exclude: readonly string[],
    needs: readonly Need[],
    room: RoomWait,
  ): Promise<{ provider: string; session: RequesterSession }> {
    const deadline = Date.now() + RESUME_MS;
    for (let wait = 250; ; wait = Math.min(wait * 2, 2_000)) {
      try {
        return await this.sessionFor(model, exclude, needs, room);
      } catch (err) {
        const retry = err instanceof NoProviderError && RESUMABLE.has(err.code);
        if (!retry || room.signal.aborted || Date.now() + wait > deadline) throw err;
        await new Promise((r) => setTimeout(r, wait));
      }
    }
  }

  private readonly busy = new Map<
    RequesterSession,
    { inflight: number; timer?: ReturnType<typeof setTimeout> }
  >();

  /** Counts answers in flight per session and closes a session once it has been idle long enough. */
  private async tracked<T>(session: RequesterSession, run: () => Promise<T>): Promise<T> {
    const entry = this.busy.get(session) ?? { inflight: 0 };
    this.busy.set(session, entry);
    clearTimeout(entry.timer);
    entry.inflight++;
    try {
      return await run();
    } finally {
      entry.inflight--;
      if (entry.inflight === 0) {
        entry.timer = setTimeout(() => {
          this.busy.delete(session);
          session.close();
        }, this.opts.idleCloseMs ?? 20_000);
        entry.timer.unref?.();
      }
    }
  }

  private poolOf(model: string): ModelPool {
    let pool = this.pools.get(model);
    if (!pool) {
      pool = { sessions: new SessionPool(), noOtherUntil: 0 };
      this.pools.set(model, pool);
    }
    return pool;
  }

  /**
   * A session for one request: the least loaded pooled one with room; else one more provider
   * (a session we hold for another model, or a new one); else, when signaling has no other
   * provider (ALL_BUSY, or none besides those pooled), room in the pool, waited for until
   * `deadline`. One open per model at a time: requests that arrive meanwhile wait for it.
   */
  private async sessionFor(
    model: string,
    exclude: readonly string[],
    needs: readonly Need[],
    { full, deadline, signal }: RoomWait,
  ): Promise<{ provider: string; session: RequesterSession }> {
    const pool = this.poolOf(model);
    // A session whose provider declared every feature this request needs (tools, schema, …).
    const fits = (s: RequesterSession) => !missingNeed(needs, s.support.get(model));
    for (;;) {
      const skip = new Set([...exclude, ...full]);
      const pooled = pool.sessions.pick(skip, fits);
      if (pooled) return pooled;
      const connected = this.connectedFor(model, new Set([...skip, ...pool.sessions.providers()]), fits);
      if (connected) {
        pool.sessions.add(connected.provider, connected.session);
        return connected;
      }
      if (pool.opening) {
        await pool.opening.catch(() => undefined);
        continue;
      }
      const held = pool.sessions.count(fits) > 0;
      if (Date.now() >= pool.noOtherUntil || !held) {
        const opening = this.openFresh(model, [...exclude, ...pool.sessions.providers(fits)], needs);
        pool.opening = opening;
        try {
          const session = await opening;
          const provider = encodePublicKey(session.providerKey);
          pool.sessions.add(provider, session);
          if (!skip.has(provider) && fits(session)) return { provider, session };
          continue;
        } catch (err) {
          if (!(err instanceof NoProviderError && NO_OTHER_PROVIDER.has(err.code)) || !held) throw err;
          pool.noOtherUntil = Date.now() + NO_OTHER_RETRY_MS;
        } finally {
          if (pool.opening === opening) pool.opening = undefined;
        }
      }
      // Every provider that serves the model is in the pool and full: wait for one to have room.
      const wakeAt = Math.min(deadline, pool.noOtherUntil);
      if (!(await pool.sessions.waitForRoom(wakeAt, signal))) {
        // As fetch does: the caller cancelled, and nothing was sent to any provider.
        if (signal.aborted) throw new DOMException("cancelled while waiting for a provider", "AbortError");
        if (Date.now() >= deadline)
          throw new NoProviderError(
            "ALL_BUSY",
            `every provider of ${model} stayed busy for ${Math.round((this.opts.queueTimeoutMs ?? 30_000) / 1000)} s; retry shortly`,
          );
      }
      full.clear();
    }
  }

  /** A session we already hold with a provider that serves this model too: same receipt stream. */
  private connectedFor(
    model: string,
    skip: ReadonlySet<string>,
    fits: (s: RequesterSession) => boolean,
  ): { provider: string; session: RequesterSession } | undefined {
    for (const session of this.byPayout.values()) {
      const price = session.prices.get(model);
      const provider = encodePublicKey(session.providerKey);
      const usable = session.isOpen && fits(session) && !skip.has(provider);
      if (usable && price && priceFits(price, this.opts.maxPrice)) return { provider, session };
    }
    return undefined;
  }

  /** The stream a session's receipts are on, but for the provider's payout address. */
  private stream() {
    return {
      sessionKey: this.opts.sessionKey,
      keyEpoch: this.opts.keyEpoch ?? 0,
      network: this.opts.network ?? NETWORK_ID.devnet,
      escrow: Address.parse(this.opts.escrow),
      account: this.account,
    };
  }

  /** Opens one at a time across models, so two models served by one provider share its session. */
  private openFresh(
    model: string,
    exclude: readonly string[],
    needs: readonly Need[],
  ): Promise<RequesterSession> {
    const opening = this.opening.then(() => this.open(model, [...exclude], needs));
    this.opening = opening.catch(() => undefined);
    return opening;
  }

  /**
   * Asks signaling for a provider and runs the handshake; a provider that fails it is skipped. The
   * grant comes before the provider has taken the session, so the server may move it to another
   * provider (or say nobody took it) while we are already connecting: we follow it there.
   */
  private async open(model: string, exclude: string[], needs: readonly Need[]): Promise<RequesterSession> {
    let moved: SessionGranted | undefined;
    let refused: UntrustedProviderError | undefined;
    for (let attempt = 0, moves = 0; attempt < 3 && moves <= MAX_MOVES; ) {
      let grant: SessionGranted;
      try {
        grant =
          moved ??
          (await this.signaling.requestSession({
            model,
            maxPrice: this.opts.maxPrice,
            sessionKey: this.opts.sessionKey.publicKey,
            exclude,
            needs: needs.map((n) => n.feature),
            ...(this.opts.trust && { policy: policyHint(this.policy) }),
          }));
      } catch (err) {
        // After refusing what the server offered, "nobody else" is best explained by the refusal.
        if (refused) throw refused;
        if (err instanceof SignalingError) throw noProvider(err.code, err.message, needs, err);
        throw err;
      }
      moved = undefined;
      // Before anything goes to the provider, not even a signal, the Registry and our policy
      // decide; meanwhile the channel is prepared here (its offer and candidates held back).
      const trusted = this.opts.trust
        ? checkProvider(grant.provider, this.opts.trust.registry, this.policy)
        : undefined;
      trusted?.catch(() => undefined);
      const channel = connectPeer({
        signaling: this.signaling,
        sessionId: grant.sessionId,
        role: "requester",
        iceServers: grant.iceServers as RTCIceServer[],
        wrtc: this.opts.wrtc,
        forceRelay: this.opts.forceRelay,
        directTimeoutMs: this.opts.directTimeoutMs,
        ...(trusted && { release: trusted }),
      });
      channel.catch(() => undefined);
      let standing: ProviderStanding | undefined;
      try {
        standing = await trusted;
      } catch (err) {
        if (!(err instanceof UntrustedProviderError)) throw err;
        this.signaling.endSession(grant.sessionId, `provider refused: ${err.code}`);
        exclude.push(grant.provider.identityKey);
        refused = err;
        attempt++;
        continue;
      }
      // One session per payout address: two would sign rival cumulative receipts on one stream.
      const payoutKey = Address.parse(grant.provider.payout).toRawString();
      const existing = this.byPayout.get(payoutKey);
      if (
        existing?.isOpen &&
        existing.prices.has(model) &&
        !missingNeed(needs, existing.support.get(model))
      ) {
        void channel.then(
          (p) => p.transport.close(),
          () => undefined,
        );
        this.signaling.endSession(grant.sessionId, "already connected to this provider");
        return existing;
      }
      let life: SessionLife | undefined;
      try {
        // The one owner of this session's life: each phase below has its deadline there.
        life = new SessionLife("requester", this.opts.deadlines);
        life.send({ type: "granted" });
        let transport: FrameTransport | undefined;
        life.bind({ close: (ending) => transport?.close(endingError(ending)) });
        // Signed while ICE runs (the channel is made off this thread), not after the handshake.
        const base = RequesterSession.signBase({
          ...this.stream(),
          payout: Address.parse(grant.provider.payout),
        });
        base.catch(() => undefined);
        const peer = await life.race(channel, (late) => late.transport.close());
        transport = peer.transport;
        life.send({ type: "connected" });
        const secure = await life.race(
          initiateSession(peer.transport, {
            sessionId: grant.sessionId,
            requesterFingerprint: peer.requesterFingerprint,
            providerFingerprint: peer.providerFingerprint,
            providerIdentity: decodePublicKey(grant.provider.identityKey),
            sessionKey: this.opts.sessionKey,
            timeoutMs: life.deadlines.handshaking,
          }),
          (late) => late.close(),
        );
        life.send({ type: "secured" });
        life.bind({ close: (ending) => secure.close(endingError(ending)) });
        secure.onClose(() => this.signaling.endSession(grant.sessionId, "closed"));
        const session = await RequesterSession.open(secure, {
          ...this.stream(),
          payout: Address.parse(grant.provider.payout),
          maxPrice: this.opts.maxPrice,
          life,
          base,
          ...(this.opts.receiptEvery !== undefined && { receiptEvery: this.opts.receiptEvery }),
          ...(this.opts.requireSignedAnswers && { requireSignedAnswers: true }),
        });
        this.byPayout.set(payoutKey, session);
        if (standing) this.opts.onProvider?.({ ...standing, model });
        secure.onClose(() => {
          if (this.byPayout.get(payoutKey) === session) this.byPayout.delete(payoutKey);
        });
        return session;
      } catch (err) {
        life?.send({ type: "close" });
        if (err instanceof SessionMovedError) {
          // The server already withdrew that offer and excludes the provider itself.
          this.signaling.forget(grant.sessionId);
          moved = err.to;
          moves++;
          continue;
        }
        // Nobody took the session after the server's own failover: say why, as a refused request would.
        if (err instanceof SessionNotTakenError) {
          this.signaling.forget(grant.sessionId);
          throw noProvider(err.why, err.message, needs);
        }
        this.signaling.endSession(grant.sessionId, "handshake failed");
        // The escrow itself is the problem (unfunded, key not authorised): every provider would say so.
        if (err instanceof ProviderError && isAccountRefusal(err.code) && err.code !== "ESCROW_UNREACHABLE")
          throw err;
        // Someone is not who the server said, or the handshake was tampered with: an attack, not
        // an offline provider, and retrying through the same server would meet it again.
        if (err instanceof SilkError && HANDSHAKE_FAILURES.has(err.code))
          throw new HandshakeFailedError(grant.provider.identityKey, err);
        // No answer in time: the provider or the path between may be at fault; blame neither.
        if (err instanceof TimeoutError)
          throw new NoProviderError("TIMEOUT", err.message, undefined, { cause: err });
        exclude.push(grant.provider.identityKey);
        attempt++;
      }
    }
    throw refused ?? new NoProviderError("NO_ANSWER", "no provider completed the handshake");
  }
}

/** A refusal from signaling; one about a feature names the request field that needs it. */
function noProvider(
  code: ErrorCode,
  message: string,
  needs: readonly Need[],
  cause?: unknown,
): NoProviderError {
  const options = cause === undefined ? undefined : { cause };
  if (code !== "UNSUPPORTED") return new NoProviderError(code, message, undefined, options);
  const need = needs.find((n) => message.includes(n.feature)) ?? needs[0];
  return new NoProviderError(code, need ? `${need.param}: ${message}` : message, need?.param, options);
}
