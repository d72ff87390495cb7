import { Address } from "@ton/core";
import { connectPeer, type PeerChannel } from "../../peer/connect-peer";
import { isUp } from "../../peer/connection-machine";
import { endingError, SessionLife } from "../../peer/session-life";
import { DEFAULT_DEADLINES } from "../../peer/session-machine";
import { MAX_MOVES } from "../../peer/session-router";
import { blameServer } from "../../peer/signaling-ack";
import {
  type GrantSeal,
  RelayRefusedError,
  relayRefusedEnd,
  ServerRefusalError,
  SessionEndedNoticeError,
  type SessionGranted,
  SessionMovedError,
  SessionNotTakenError,
  type SignalingClient,
  SignalingError,
  SignalingLostError,
} from "../../peer/signaling-client";
import {
  decodePublicKey,
  type ErrorCode,
  encodePublicKey,
  escrowCodeSaid,
  type FrameTransport,
  initiateSession,
  isAccountRefusal,
  type ModelPrice,
  missingNeed,
  NETWORK_ID,
  type Need,
  PolicyRefusedError,
  type ProviderStanding,
  perTokenPrice,
  policyHint,
  priceExceeds,
  priceFits,
  priceToWire,
  quoteFault,
  SilkError,
  TimeoutError,
  type TrustPolicy,
  UntrustedProviderError,
} from "../../protocol";
import type { QuoteShown } from "./base-receipt";
import { type ConnectOptions, DEFAULT_LIAR_MEMORY_MS } from "./connect-options";
import {
  AccountStoreError,
  HandshakeFailedError,
  type HandshakeFailure,
  NoProviderError,
  ProviderError,
  ReserveNotSeenError,
} from "./errors";
import type { PaymentAccount } from "./payment-account";
import { checkProvider, otherEntry } from "./provider-trust";
import { isOneProvidersRefusal, isPriceRefusal } from "./refusal-kinds";
import { RequesterSession } from "./requester-session";

/**
 * Opens the SDK's sessions: asks signaling for a provider, checks it on chain, makes the channel,
 * runs the handshake and opens the account, following the server's moves and skipping providers
 * that fail. Keeps one session per payout address (two would sign rival receipts on one stream).
 */

interface Prepared {
  readonly trusted: Promise<ProviderStanding> | undefined;
  readonly channel: Promise<PeerChannel>;
  /** Whether the server key vouches for the grant (peer/server-pins.ts). */
  readonly seal: GrantSeal;
}

/** Handshake failures that mean the peer is not who the server said, or the handshake was altered. */
const HANDSHAKE_FAILURES: ReadonlySet<string> = new Set([
  "IDENTITY_MISMATCH",
  "BAD_SIGNATURE",
  "HANDSHAKE",
  "VERSION",
  "DECRYPT",
  "REPLAY",
]);

/**
 * A quote that ran out no longer ago than this may be our own clock running ahead (the server
 * stops offering a quote `QUOTE_MARGIN_MS` before it runs out): refused, but the server is not
 * remembered as a liar for it.
 */
export const CLOCK_SLACK_MS = 10 * 60_000;

/**
 * How long after a request began a failed handshake (IDENTITY_MISMATCH, …) still moves it to
 * another configured signaling server; later, the failure is the answer.
 */
export const HANDSHAKE_MOVES_MS = 60_000;

/**
 * How many connecting deadlines (`deadlines.connecting`) the connecting stage of one request may
 * last, from the first grant across the server's moves of it: each move starts a channel afresh,
 * but not the stage's clock. An honest server's own failover (3 offers, each withdrawn after 10 s
 * unanswered) fits within 3 x 15 s; a server moving the session just before each deadline held a
 * request 9 x 15 s (MAX_MOVES + 1 channels).
 */
export const CONNECTING_WINDOWS = 3;

/**
 * A server's refusals that say the server itself cannot serve now (its directory, Redis, away; the
 * node leaving, which a refusal of `session:request` moves the connection on for in
 * signaling-client.ts), not that the network has nobody: another configured server is asked.
 */
const SERVER_OUTAGES: ReadonlySet<string> = new Set(["DIRECTORY_UNAVAILABLE", "SHUTTING_DOWN"]);

/**
 * The one owner of which server words move a request on to the next configured server, whether
 * said as a refusal of `session:request` or as `session:ended` `no-provider` after a grant: an
 * outage (SERVER_OUTAGES), or an answer that shows the server broken or lying (SERVER_MALFORMED,
 * the client's own finding).
 */
function serverFailed(err: unknown): err is SignalingError {
  if (err instanceof ServerRefusalError) return SERVER_OUTAGES.has(err.code);
  return err instanceof SignalingError && err.code === "SERVER_MALFORMED";
}

/**
 * An account of what happened: `said` whole, `ours` the same without any server's unchecked text
 * (the same string when it quotes none).
 */
interface Word {
  readonly said: string;
  readonly ours: string;
  /** The server it is about, where a request's end lists the servers it tried (relayRefusedEnd). */
  readonly server?: string;
}
const ourWord = (said: string): Word => ({ said, ours: said });

/** What each server that failed a request said (serversWord), in the order asked: one sentence. */
function outagesWord(outages: readonly Word[]): Word {
  const join = (k: keyof Word) =>
    outages.length === 1
      ? outages.map((o) => o[k]).join("")
      : `every signaling server asked failed the request: ${outages.map((o) => o[k]).join("; ")}`;
  return { said: join("said"), ours: join("ours") };
}

/** How much of a server's own refusal text an error quotes. */
const SERVER_TEXT_MAX = 200;

export class SessionOpener {
  private readonly byPayout = new Map<string, RequesterSession>();
  /** QUOTE_FORGED refusals that are only a quote run out within CLOCK_SLACK_MS. */
  private readonly maybeOurClock = new WeakSet<Error>();
  /** Sessions open one at a time, so two models served by one provider end up on one session. */
  private opening: Promise<unknown> = Promise.resolve();

  constructor(
    private readonly signaling: SignalingClient,
    private readonly opts: ConnectOptions,
    private readonly account: PaymentAccount,
    private readonly policy: TrustPolicy,
  ) {}

  closeAll(): void {
    for (const s of this.byPayout.values()) s.close();
  }

  /** The sessions held, one per payout address. */
  sessions(): RequesterSession[] {
    return [...this.byPayout.values()];
  }

  /** Signaling connections dialled so far (SignalingClient.links). */
  get links(): number {
    return this.signaling.links;
  }

  /** A session we already hold with a provider that serves this model too: same receipt stream. */
  connectedFor(
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

  /**
   * Providers whose open session prices `model` at terms they did not sign (account-quotes.ts):
   * excluded for it (a second session with one would sign rival receipts on its stream, and it
   * priced the model falsely); the first such refusal, said if nobody else serves the model.
   */
  private unsignedFor(model: string, exclude: string[]): ProviderError | undefined {
    let refusal: ProviderError | undefined;
    for (const session of this.byPayout.values()) {
      if (!session.isOpen || !session.unquoted.has(model)) continue;
      exclude.push(encodePublicKey(session.providerKey));
      refusal ??= session.notPriced(model);
    }
    return refusal;
  }

  /** Opens one at a time across models, so two models served by one provider share its session. */
  openFresh(
    model: string,
    exclude: readonly string[],
    needs: readonly Need[],
    /** The request's relay refusals so far (mid-answer ones too); those met here are added. */
    refusals: RelayRefusedError[] = [],
  ): Promise<RequesterSession> {
    const opening = this.opening.then(() => this.open(model, [...exclude], needs, refusals));
    this.opening = opening.catch(() => undefined);
    return opening;
  }

  /**
   * Before anything goes to the provider, not even a signal, the Registry and our policy decide;
   * meanwhile the channel is prepared (its offer and candidates held back until they have).
   */
  private prepare(grant: SessionGranted, seal: GrantSeal): Prepared {
    // The entry the provider's own quote names (checked in `forgedQuote`), not just the server's word.
    const { identityKey, payout, quote } = grant.provider;
    const trusted = this.opts.trust
      ? checkProvider({ identityKey, payout, owner: quote?.owner }, this.opts.trust.registry, this.policy)
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
    return { trusted, channel, seal };
  }

  /**
   * A grant that fails the server key pinned for its URL: altered or written on the path to the
   * server (a man in the middle), or replayed. The server is not blamed, nor the provider.
   */
  private tamperedGrant(grant: SessionGranted, model: string, why: string): NoProviderError {
    return new NoProviderError(
      "GRANT_TAMPERED",
      `a grant of provider ${grant.provider.identityKey} for ${model} from the signaling server at ${this.signaling.url} ${why}: a man in the middle on the path to the server wrote or altered it, the server and the provider are not blamed; use https, or another path`,
    );
  }

  /** The grant's terms checked against the provider's signed quote, before anything goes to it. */
  private forgedQuote(grant: SessionGranted, model: string, seal: GrantSeal): NoProviderError | undefined {
    const p = grant.provider;
    const expiresAt = p.quote?.expiresAt ?? 0;
    const terms = {
      identityKey: p.identityKey,
      payout: p.payout,
      model,
      price: p.price,
      expiresAt,
      owner: p.quote?.owner,
    };
    const now = Date.now();
    const fault = quoteFault(terms, p.quote, now) ?? otherEntry(p) ?? this.aboveMax(p.price);
    if (!fault) return undefined;
    const path = vouched(seal)
      ? ". The server's own key signed that grant"
      : overTls(this.signaling.url)
        ? ""
        : ". It came without TLS, so it may have been forged by the server or by anyone on the unauthenticated path to it";
    const err = new NoProviderError(
      "QUOTE_FORGED",
      `the signaling server at ${this.signaling.url} lied: its grant of provider ${p.identityKey} for ${model} (payout ${p.payout}) ${fault}; the provider is not blamed, retry later or through another server${path}`,
    );
    // Only run out, and only just: by a clock a little behind ours the same grant would pass.
    const justRunOut =
      expiresAt <= now &&
      now - expiresAt < CLOCK_SLACK_MS &&
      !quoteFault(terms, p.quote, expiresAt - 1) &&
      !otherEntry(p) &&
      !this.aboveMax(p.price);
    if (justRunOut) this.maybeOurClock.add(err);
    return err;
  }

  /**
   * A grant priced above the request's `maxPrice`: the server matches on that ceiling, so granting
   * past it (the provider's own honest quote) is the server's word against the request, caught
   * here before any signal, receipt or prompt goes to the provider.
   */
  private aboveMax(price: ModelPrice): string | undefined {
    const max = this.opts.maxPrice;
    if (priceFits(price, max)) return undefined;
    const asks = perTokenPrice(price);
    return `asks ${asks.promptNanoPerToken} nanoTON a prompt token and ${asks.completionNanoPerToken} a completion token, above the request's maximum (${max.promptNanoPerToken} and ${max.completionNanoPerToken})`;
  }

  /**
   * No grant in time while our connection to signaling is down (reconnecting): the request was
   * never heard, so the answer is "signaling is unreachable, retry", not a server that timed out
   * (one connected that timed out is left for another, `attempts`).
   */
  private grantTimeout(err: TimeoutError): NoProviderError {
    return new NoProviderError(
      "UNREACHABLE",
      `no grant: the signaling server at ${this.signaling.url} cannot be reached (reconnecting); retry later`,
      undefined,
      { cause: err },
    );
  }

  /**
   * A refusal of the request (ALL_BUSY, NO_MODEL, …) is the server's word, which nothing checks:
   * said as such, naming the server, its own text quoted and cut short, so an app or user can
   * tell it from what the SDK found itself, and a lying server's text does not pass for Silk's.
   */
  private serversWord(err: SignalingError): Word {
    const text =
      err.message.length > SERVER_TEXT_MAX ? `${err.message.slice(0, SERVER_TEXT_MAX)}…` : err.message;
    const ours = `the signaling server at ${this.signaling.url} refused the request with ${err.code}`;
    return { said: `${ours} (its word, unchecked: "${text}")`, ours };
  }

  /**
   * The server's word that nobody took a session it granted (`session:ended` `no-provider`): as its
   * refusal of the request would be (`blameServer`, `serversWord`), never the SDK's own text, nor
   * the request's fault for a request this SDK's schema checked.
   */
  private notTaken(said: SignalingError, err: SessionNotTakenError, needs: readonly Need[]): NoProviderError {
    if (said instanceof ServerRefusalError) return noProvider(said.code, this.serversWord(said), needs, err);
    return noProvider(said.code, ourWord(said.message), needs, err);
  }

  /** The server's word that nobody took the session, read as its refusal of the request would be. */
  private notTakenWord(err: SessionNotTakenError): SignalingError {
    const refusal = new ServerRefusalError(err.why, err.message);
    return blameServer(this.signaling.url, "session:request", refusal, true) as SignalingError;
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

  /**
   * Asks signaling for a provider and runs the handshake; a provider that fails it is skipped. The
   * grant comes before the provider has taken the session, so the server may move it to another
   * provider (or say nobody took it) while we are already connecting: we follow it there.
   */
  private async open(
    model: string,
    exclude: string[],
    needs: readonly Need[],
    refusals: RelayRefusedError[],
  ): Promise<RequesterSession> {
    // A server caught lying is not asked again while remembered: another is, or none is.
    const liars = this.signaling.liars;
    if (liars.onLiar && !liars.anyTrusted) throw onlyLiars(liars.servers);
    this.signaling.leaveLiar();
    const prepared = new Map<string, Prepared>();
    try {
      return await this.attempts(model, exclude, needs, prepared, refusals);
    } finally {
      // Grants made ready but never used (a move that came as we gave up): closed and ended.
      for (const sessionId of [...prepared.keys()]) this.abandon(sessionId, prepared);
    }
  }

  private abandon(sessionId: string, prepared: Map<string, Prepared>): void {
    const p = prepared.get(sessionId);
    prepared.delete(sessionId);
    void p?.channel.then(
      (c) => c.transport.close(),
      () => undefined,
    );
    this.signaling.endSession(sessionId, "abandoned");
  }

  private async attempts(
    model: string,
    exclude: string[],
    needs: readonly Need[],
    prepared: Map<string, Prepared>,
    refusals: RelayRefusedError[],
  ): Promise<RequesterSession> {
    let moved: SessionGranted | undefined;
    // Servers left for a quote that had only just run out (perhaps our clock): at most one.
    let clockMoves = 0;
    // A provider we refused: after it, "nobody else" is best explained by the refusal.
    let refused: UntrustedProviderError | ProviderError | undefined = this.unsignedFor(model, exclude);
    // Each grant's channel is made in the turn the grant is read (and a move's in the turn the
    // move is), so the provider's first signals and frames find it there.
    // Paths to servers that altered a grant (GRANT_TAMPERED) left within this request, not remembered.
    let pathMoves = 0;
    // Handshakes failed within this request, one per server (each left for the next).
    const handshakeFailures: HandshakeFailure[] = [];
    // Servers that could not serve this request at all (SERVER_OUTAGES), each left for the next.
    const outages: Word[] = [];
    // What ended the last attempt asked again (said if no attempt succeeds).
    let lastFailure: Error | undefined;
    const started = Date.now();
    // Whether the request may go on at the next configured server, `failed` of them having
    // failed it: some not failed yet, within HANDSHAKE_MOVES_MS of its start, and one to move to.
    const canMoveOn = (failed: number): boolean =>
      failed < this.signaling.urlCount &&
      Date.now() - started < HANDSHAKE_MOVES_MS &&
      this.signaling.moveOn(0);
    const prepare = (grant: SessionGranted, seal: GrantSeal): Prepared => {
      const refusal =
        seal.kind === "tampered"
          ? this.tamperedGrant(grant, model, seal.why)
          : this.forgedQuote(grant, model, seal);
      const made = refusal
        ? refusedGrant(refusal, seal)
        : isExcluded(grant, exclude)
          ? excludedGrant(grant, seal)
          : this.prepare(grant, seal);
      prepared.set(grant.sessionId, made);
      return made;
    };
    // The connecting stage's bound across the server's moves of one grant (CONNECTING_WINDOWS),
    // from when that grant came; and how many moves of it were followed.
    const connectingMs =
      CONNECTING_WINDOWS * (this.opts.deadlines?.connecting ?? DEFAULT_DEADLINES.connecting);
    let connectingUntil = 0;
    let chainMoves = 0;
    // A server that would not carry two of this request's sessions (RelayRefusedError: here, or
    // mid-answer before this open) has failed it: the request goes on at another configured server
    // not failed yet (as for an outage), or ends now with the refusals, each server named. Asking it
    // again met the same refusal, each after the link's patience (10 s): a request refused on every
    // session took 41 s to end, and with one server still 30 s once a mid-answer refusal's fresh
    // session was not counted.
    // Checked before each server is asked, not only when this open starts: a move (for another
    // server's refusals, or its outage) could land on one that had already refused twice (within an
    // earlier open of the request), which was then asked once more.
    const refusedHere = () => refusals.filter((r) => r.servers.includes(this.signaling.url));
    const relayWords = new Set<Word>();
    const relayFailed = (): boolean => {
      const here = refusedHere();
      if (here.length < 2) return false;
      const word = ourWord(here[here.length - 1]!.message);
      relayWords.add(word);
      outages.push(word);
      if (canMoveOn(outages.length + handshakeFailures.length)) return true;
      // Every server tried named, and why: those that failed the request otherwise too (an outage,
      // a handshake that failed there), which the relays' refusals alone left out.
      throw relayRefusedEnd(refusals, [
        ...outages
          .filter((o) => !relayWords.has(o))
          .map((o) => ({ server: o.server ?? this.signaling.url, why: o.ours })),
        ...handshakeFailures.map((f) => ({
          server: f.server,
          why: `on the signaling server at ${f.server}, provider ${f.provider} failed the handshake with ${f.cause.code}`,
        })),
      ]);
    };
    for (let attempt = 0, moves = 0; attempt < 3 && moves <= MAX_MOVES; ) {
      if (!moved && relayFailed()) continue;
      // The one owner of this session's life from the request on: each phase below, the
      // server's grant among them, has its deadline there. A move's channel has what is left of
      // the connecting stage's bound, not a deadline of its own.
      const left = Math.max(1, connectingUntil - Date.now());
      const life = new SessionLife(
        "requester",
        moved ? { ...this.opts.deadlines, connecting: Math.min(left, connectingMs) } : this.opts.deadlines,
      );
      let transport: FrameTransport | undefined;
      life.bind({ close: (ending) => transport?.close(endingError(ending)) });
      let grant: SessionGranted;
      // The server asked (the connection may move while the grant is awaited).
      const asked = this.signaling.url;
      try {
        grant =
          moved ??
          (await life.race(
            this.signaling.requestSession(
              {
                model,
                maxPrice: this.opts.maxPrice,
                sessionKey: this.opts.sessionKey.publicKey,
                exclude,
                needs: needs.map((n) => n.feature),
                ...(this.opts.trust && { policy: policyHint(this.policy) }),
                ...(this.policy.minAuditsPassed && { minAuditsPassed: this.policy.minAuditsPassed }),
              },
              prepare,
            ),
            (late) => this.abandon(late.sessionId, prepared),
          ));
      } catch (err) {
        life.send({ type: "close" });
        // After refusing what the server offered, "nobody else" is best explained by the refusal.
        if (refused) throw refused;
        // A node that cannot read its directory (its Redis away) fails the request, not the
        // network: it goes on at another configured server not failed yet, within
        // HANDSHAKE_MOVES_MS of its start (the server not remembered); the last error names each.
        // So does one connected that never grants (its handlers hung): the grant's deadline ran out,
        // and one whose grant cannot be read (SERVER_MALFORMED).
        // Also when the request's own ack deadline ran out first (a grant deadline set longer):
        // no answer in time is what the client found, not a word of the server's.
        const ours = err instanceof SignalingError && !(err instanceof ServerRefusalError);
        const ackTimeout = ours && err.code === "TIMEOUT";
        const silent = (err instanceof TimeoutError || ackTimeout) && isUp(this.signaling.state.phase);
        // An outage, or a grant (or ack) that cannot be read (that server is broken or lies).
        const failed = serverFailed(err);
        const outage = failed && err instanceof ServerRefusalError;
        // Unanswered while the connection left the server asked (another request's move, an
        // outage): asked again where the connection is now, that server counted as failed.
        const leftBehind = ours && (ackTimeout || err.code === "UNREACHABLE") && this.signaling.url !== asked;
        if (failed || silent || leftBehind) {
          outages.push({
            ...(outage
              ? this.serversWord(err)
              : ourWord(
                  ours
                    ? err.message
                    : `the signaling server at ${asked} did not answer: ${(err as Error).message}`,
                )),
            server: asked,
          });
          const count = outages.length + handshakeFailures.length;
          const inTime = Date.now() - started < HANDSHAKE_MOVES_MS;
          if (leftBehind ? count < this.signaling.urlCount && inTime : canMoveOn(count)) continue;
          // The last server's: its refusal, our finding (UNREACHABLE when the connection went), or TIMEOUT.
          const code = outage || ours ? err.code : "TIMEOUT";
          throw noProvider(code, outagesWord(outages), needs, err);
        }
        if (err instanceof ServerRefusalError) throw noProvider(err.code, this.serversWord(err), needs, err);
        // The client's own finding (the server unreachable, an answer malformed or replayed).
        if (err instanceof SignalingError) throw noProvider(err.code, ourWord(err.message), needs, err);
        if (err instanceof TimeoutError) throw this.grantTimeout(err);
        throw err;
      }
      life.send({ type: "granted" });
      if (!moved) {
        connectingUntil = Date.now() + connectingMs;
        chainMoves = 0;
      }
      moved = undefined;
      // A grant always comes through `prepare` (the router opens it in the turn it is read).
      const { trusted, channel, seal } =
        prepared.get(grant.sessionId) ?? prepare(grant, { kind: "tampered", why: "was never opened" });
      prepared.delete(grant.sessionId);
      let standing: ProviderStanding | undefined;
      try {
        standing = await life.race(trusted ?? Promise.resolve(undefined));
      } catch (err) {
        life.send({ type: "close" });
        void channel.then(
          (p) => p.transport.close(),
          () => undefined,
        );
        if (err instanceof TimeoutError)
          throw new NoProviderError("TIMEOUT", err.message, undefined, { cause: err });
        if (err instanceof NoProviderError && err.code === "GRANT_TAMPERED") {
          // Not the server's word: the path to it lies. Nothing went to the provider, the server
          // is not remembered as a liar; another configured server is asked (each path once).
          this.signaling.endSession(grant.sessionId, "grant not signed by the server key");
          if (pathMoves++ >= this.signaling.urlCount - 1 || !this.signaling.moveOn(0)) throw err;
          continue;
        }
        if (err instanceof NoProviderError && err.code === "QUOTE_FORGED") {
          // The server's word against the provider's signed one: nothing went to the provider,
          // which is not excluded. The same server would lie again: it is remembered as a liar for
          // a while, and the request goes to another configured server not remembered so (each
          // liar once: the hops are bounded by the URLs); with none left, the app decides.
          this.signaling.endSession(grant.sessionId, "grant differs from the provider's signed quote");
          if (this.maybeOurClock.has(err)) {
            // Perhaps our clock, not a lie: not remembered; another server is asked, once.
            if (clockMoves++ > 0 || !this.signaling.moveOn(0)) throw err;
            continue;
          }
          const forMs = this.opts.liarMemoryMs ?? DEFAULT_LIAR_MEMORY_MS;
          const url = this.signaling.url;
          const movedOn = this.signaling.moveOn(forMs);
          this.opts.onServerDistrusted?.({
            url,
            until: Date.now() + forMs,
            reason: err.message,
            authenticated: overTls(url) || vouched(seal),
          });
          if (!movedOn) throw onlyLiars(this.signaling.liars.servers, err);
          continue;
        }
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
      // The payout's one session is with a provider this request avoids: this grant cannot be
      // used either (a second session would sign rival receipts), so ask for another provider.
      if (existing?.isOpen && exclude.includes(encodePublicKey(existing.providerKey))) {
        life.send({ type: "close" });
        void channel.then(
          (p) => p.transport.close(),
          () => undefined,
        );
        this.signaling.endSession(grant.sessionId, "shares its payout with an excluded provider");
        exclude.push(grant.provider.identityKey);
        attempt++;
        continue;
      }
      if (
        existing?.isOpen &&
        !existing.retired &&
        existing.prices.has(model) &&
        !missingNeed(needs, existing.support.get(model))
      ) {
        life.send({ type: "close" });
        void channel.then(
          (p) => p.transport.close(),
          () => undefined,
        );
        this.signaling.endSession(grant.sessionId, "already connected to this provider");
        return existing;
      }
      // Whether the provider proved itself over the channel (a reply came from it through the server).
      let secured = false;
      try {
        // Signed while ICE runs (the channel is made off this thread), not after the handshake.
        const base = RequesterSession.signBase({
          ...this.stream(),
          payout: Address.parse(grant.provider.payout),
        });
        base.catch(() => undefined);
        const peer = await life.race(channel, (late) => late.transport.close());
        transport = peer.transport;
        // Connected once the provider is heard: a direct channel opens with it there, but the
        // relay is up from the grant, and the provider's first frame (its handshake reply) is
        // the first sign it took the session. Until then the relay is still connecting, bounded
        // across the server's moves as a direct channel is: it was the handshake's deadline, a
        // fresh one per move, which an honest server's offer timeout (as long) could outrun.
        const connected = () => {
          if (life.state.phase === "connecting") life.send({ type: "connected" });
        };
        void peer.heard.then(connected);
        const secure = await life.race(
          initiateSession(peer.transport, {
            sessionId: grant.sessionId,
            requesterFingerprint: peer.requesterFingerprint,
            providerFingerprint: peer.providerFingerprint,
            providerIdentity: decodePublicKey(grant.provider.identityKey),
            sessionKey: this.opts.sessionKey,
            // The life's deadlines end it first; on the relay the reply's wait spans both stages.
            timeoutMs:
              peer.path === "relay"
                ? life.deadlines.connecting + life.deadlines.handshaking
                : life.deadlines.handshaking,
          }),
          (late) => late.close(),
        );
        connected();
        life.send({ type: "secured" });
        secured = true;
        // The provider proved itself, so it took the offer: the server may no longer move this session.
        this.signaling.settled(grant.sessionId);
        peer.probeEnds(secure, life.deadlines.probe);
        life.bind({ close: (ending) => secure.close(endingError(ending)) });
        secure.onClose(() => this.signaling.endSession(grant.sessionId, "closed"));
        // Within the account deadline, the receipt store's read (the base) and the reserve included:
        // a store that never answers ends the open with TIMEOUT, not the client's opens for ever.
        const session = await life.race(
          RequesterSession.open(secure, {
            ...this.stream(),
            payout: Address.parse(grant.provider.payout),
            maxPrice: this.opts.maxPrice,
            life,
            base,
            ...(this.opts.receiptEvery !== undefined && { receiptEvery: this.opts.receiptEvery }),
            ...(this.opts.requireSignedAnswers && { requireSignedAnswers: true }),
            ...(this.opts.reserve && { reserve: this.opts.reserve }),
            ...(this.opts.onAccountError && { onAccountError: this.opts.onAccountError }),
            quote: shownQuote(grant, model),
            carrier:
              peer.path === "relay"
                ? `relayed by the signaling server at ${this.signaling.url}`
                : "sent over a direct WebRTC channel",
          }),
          (late) => late.close(),
        );
        // The price it quotes in the session is what receipts pay: never above its own signed
        // quote (checked against the grant before the channel, and the handshake proved its key).
        const quoted = session.prices.get(model);
        if (quoted && priceExceeds(quoted, grant.provider.price)) {
          session.close();
          throw new ProviderError(
            "PRICE",
            `the provider ${grant.provider.identityKey} quotes more for ${model} in the session than its own signed quote (a bait); it is excluded`,
          );
        }
        this.byPayout.set(payoutKey, session);
        if (standing) this.opts.onProvider?.({ ...standing, model });
        secure.onClose(() => {
          if (this.byPayout.get(payoutKey) === session) this.byPayout.delete(payoutKey);
        });
        return session;
      } catch (err) {
        life.send({ type: "close" });
        if (err instanceof SessionMovedError) {
          // The server already withdrew that offer and excludes the provider itself.
          this.signaling.forget(grant.sessionId);
          moved = err.to;
          moves++;
          chainMoves++;
          continue;
        }
        // Nobody took the session after the server's own failover: said as a refused request is
        // (the server's word, unchecked, naming it; one blaming our checked request is its fault).
        // One that the server could not serve (an outage, or a word that shows it broken) goes on
        // at the next configured server, as the same word refusing the request outright does.
        if (err instanceof SessionNotTakenError) {
          this.signaling.forget(grant.sessionId);
          const said = this.notTakenWord(err);
          if (!serverFailed(said)) throw this.notTaken(said, err, needs);
          outages.push({
            ...(said instanceof ServerRefusalError ? this.serversWord(said) : ourWord(said.message)),
            server: this.signaling.url,
          });
          if (canMoveOn(outages.length + handshakeFailures.length)) continue;
          throw noProvider(said.code, outagesWord(outages), needs, err);
        }
        this.signaling.endSession(grant.sessionId, "handshake failed");
        // Our own receipt store failed: every provider would meet it, so none is blamed or tried.
        if (err instanceof AccountStoreError) throw err;
        // The provider refused the receipts this requester signs: bound to our network and to the
        // payout address its own signed quote names (checked before the channel), so nobody lied
        // about the payout. It takes receipts on another network (the grant does not say which), or
        // to an address it has moved to since it signed that quote: it cannot serve this requester,
        // and another provider may. Said if nobody else answers.
        if (err instanceof ProviderError && err.code === "RECEIPT_BINDING") {
          const network = this.stream().network;
          const named = Object.entries(NETWORK_ID).find(([, id]) => id === network)?.[0];
          refused = new NoProviderError(
            "RECEIPT_BINDING",
            `the provider ${grant.provider.identityKey} refused receipts bound to network ${network}${named ? ` (${named})` : ""} and to the payout address its own signed quote names (${grant.provider.payout}): it takes receipts on another network or to another address, so it cannot serve this requester; it is excluded for this request`,
            undefined,
            { cause: err },
          );
        }
        // The escrow itself is the problem (unfunded, key not authorised): every provider would say so.
        // Not so for a chain this provider cannot read, nor tokens only it streamed unpaid.
        if (err instanceof ProviderError && isAccountRefusal(err.code) && !isOneProvidersRefusal(err))
          throw err;
        // The escrow (or the chain) would not hold a reserve before the account opened: so for everyone.
        if (err instanceof ReserveNotSeenError) throw err;
        // Someone is not who the server said, or the handshake was tampered with: an attack, not
        // an offline provider, and retrying through the same server would meet it again. The
        // server or the path to it lies (the signals are not the server key's to vouch for): the
        // request goes on at another configured server not tried for this yet, while within
        // HANDSHAKE_MOVES_MS of its start, the provider not excluded nor the server remembered;
        // the last error says what happened on each.
        if (err instanceof SilkError && HANDSHAKE_FAILURES.has(err.code)) {
          const failed = new HandshakeFailedError(grant.provider.identityKey, err, {
            server: this.signaling.url,
            earlier: handshakeFailures,
          });
          handshakeFailures.push({
            server: this.signaling.url,
            provider: grant.provider.identityKey,
            cause: err,
          });
          if (canMoveOn(handshakeFailures.length)) continue;
          throw failed;
        }
        // No answer in time: the provider or the path between may be at fault; blame neither.
        // Before the handshake, the server granted a session and nothing from the provider came
        // through it: that server is named, as the grant's and NO_ANSWER's errors name it.
        if (err instanceof TimeoutError)
          throw new NoProviderError(
            "TIMEOUT",
            secured
              ? err.message
              : `the signaling server at ${this.signaling.url} granted a session with the provider ${grant.provider.identityKey}, and no answer from the provider came through it: ${err.message}${chainMoves > 0 ? ` (the server moved the session ${chainMoves === 1 ? "once" : `${chainMoves} times`}; connecting is bounded at ${connectingMs} ms across its moves)` : ""}; neither the server nor the provider is blamed, the provider is not excluded`,
            undefined,
            { cause: err },
          );
        // Quoting more than its own signed quote (a bait), or refusing this escrow for what happened
        // on its own stream: said if nobody else answers.
        if (isPriceRefusal(err) || isOneProvidersRefusal(err)) refused = err;
        // Which provider does not recognise the escrow's code is the point: the escrow runs this
        // build's (the pages and `init` deploy only that), so it is that provider's version.
        if (err instanceof ProviderError && err.code === "ESCROW_CODE")
          refused = new ProviderError(
            "ESCROW_CODE",
            `${escrowCodeSaid(grant.provider.identityKey)}; it is excluded for this request`,
            undefined,
            { cause: err },
          );
        // The server's word that the session ended, unchecked (it carries the signals, so it can
        // deny the session anyway), its refusal to relay a session it granted (a grant of an
        // ended session replayed), or signaling gone from under it (our connection dropped or
        // moved, a node leaving): asked again, without blaming the provider.
        if (!(err instanceof SessionEndedNoticeError) && !relayRefused(err) && !signalingWentAway(err))
          exclude.push(grant.provider.identityKey);
        if (err instanceof Error) lastFailure = err;
        // A server that would not carry a session's frames is asked once more, on a fresh session
        // (its relay budget is a session's); refusing that one too, it failed the request (above).
        const refusal = relayRefusalOf(err);
        if (refusal && !signalingWentAway(err)) {
          refusals.push(refusal);
          if (relayFailed()) continue;
        }
        attempt++;
      }
    }
    throw (
      refused ??
      new NoProviderError(
        "NO_ANSWER",
        `no provider completed the handshake through the signaling server at ${this.signaling.url}${lastFailure ? `; the last attempt ended: ${lastFailure.message}` : ""}`,
        undefined,
        lastFailure && { cause: lastFailure },
      )
    );
  }
}

/**
 * Whether the server's URL is TLS (https, wss): then what arrived on it came from whoever holds
 * the server's certificate, and a forged grant is the server's own; otherwise anyone on the path
 * could have written it.
 */
function overTls(url: string): boolean {
  try {
    const { protocol } = new URL(url);
    return protocol === "https:" || protocol === "wss:";
  } catch {
    return false;
  }
}

/**
 * The grant's quote (checked in `forgedQuote`) as the base receipt shows it to the provider, which
 * honours its own unexpired word if it has raised its price since (a server granting with an old
 * quote would otherwise make an honest provider look like a bait).
 */
function shownQuote(grant: SessionGranted, model: string): QuoteShown | undefined {
  const p = grant.provider;
  if (!p.quote) return undefined;
  return {
    model,
    price: priceToWire(p.price),
    payout: p.payout,
    expiresAt: p.quote.expiresAt,
    ...(p.quote.owner && { owner: p.quote.owner }),
    signature: p.quote.signature,
  };
}

/** Signed by a server key the client held before this grant: the server's own word, whatever the path. */
const vouched = (seal: GrantSeal) => seal.kind === "signed" && seal.pin !== "now";

/** The server's refusal to carry a frame of the session, if that is what `err` is or was caused by. */
const relayRefusalOf = (err: unknown): RelayRefusedError | undefined =>
  err instanceof RelayRefusedError
    ? err
    : err instanceof Error && err.cause instanceof RelayRefusedError
      ? err.cause
      : undefined;

/** The server would not carry a frame of the session (its own refusal, not the provider's doing). */
const relayRefused = (err: unknown) => relayRefusalOf(err) !== undefined;

/** The session ended because signaling went away (SignalingLostError), not for its provider's doing. */
const signalingWentAway = (err: unknown) =>
  err instanceof SignalingLostError || (err instanceof Error && err.cause instanceof SignalingLostError);

const isExcluded = (grant: SessionGranted, exclude: readonly string[]) =>
  exclude.some((k) => k.toLowerCase() === grant.provider.identityKey.toLowerCase());

/**
 * The server offered a provider this request excludes (one it avoids or already left): the
 * requester decides who it talks to, so no channel is made and not a signal goes to it.
 */
function excludedGrant(grant: SessionGranted, seal: GrantSeal): Prepared {
  const refusal = new PolicyRefusedError(
    grant.provider.identityKey,
    "EXCLUDED",
    "the signaling server offered a provider this request excludes",
  );
  return refusedGrant(refusal, seal);
}

/** A grant refused before any channel is made: neither signal nor frame goes to its provider. */
function refusedGrant(err: Error, seal: GrantSeal): Prepared {
  const trusted = Promise.reject(err);
  const channel = Promise.reject(err);
  trusted.catch(() => undefined);
  channel.catch(() => undefined);
  return { trusted, channel, seal };
}

/** A refusal from signaling; one about a feature names the request field that needs it. */
function noProvider(code: ErrorCode, word: Word, needs: readonly Need[], cause?: unknown): NoProviderError {
  const { said, ours } = word;
  if (code !== "UNSUPPORTED") return new NoProviderError(code, said, undefined, { cause, ownWords: ours });
  const need = needs.find((n) => said.includes(n.feature)) ?? needs[0];
  const field = (m: string) => (need ? `${need.param}: ${m}` : m);
  // Our own words say what the request needs (a fact of ours), where the server's said why.
  const needed = need && ours !== said ? `${ours} (this request needs ${need.feature})` : ours;
  return new NoProviderError(code, field(said), need?.param, { cause, ownWords: field(needed) });
}

/**
 * Every configured signaling server was caught lying and is still remembered: the request is not
 * asked of any (the last lie, when there is one, is the cause).
 */
function onlyLiars(
  servers: readonly { url: string; until: number }[],
  cause?: NoProviderError,
): NoProviderError {
  const list = servers.map((s) => `${s.url} (until ${new Date(s.until).toISOString()})`).join(", ");
  const last = cause ? `${cause.message}. ` : "";
  return new NoProviderError(
    "QUOTE_FORGED",
    `${last}Every configured signaling server was caught forging a grant and is avoided for a while: ${list}; configure an honest one or retry after that`,
    undefined,
    cause ? { cause } : undefined,
  );
}
