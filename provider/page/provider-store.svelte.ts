import type { KeyPair } from "../../protocol/identity";
import { flatPrice } from "../../protocol/pricing";
import { formatTon } from "../../protocol/ton-amount";
import { type AuditTotals, auditTotals } from "../../web/audit-text";
import { BackgroundNotice } from "../../web/background-notice.svelte";
import { type Engine, EngineError } from "../../web/engines/engine";
import type { EngineSource, GpuCheck, ModelOption } from "../../web/engines/engine-source-types";
import { type AwakeState, KeepAwake } from "../../web/keep-awake";
import type { ProviderRuntime, RuntimeEvent } from "../runtime";
import { ProviderChain } from "./chain-store.svelte";
import type { EarningSample } from "./earnings-chart";
import { type Link, linkOf, servingHeadline } from "./link-state";
import { describeError, downloadedText, parseNanoTon, servedSupport, timeLeft } from "./page-rules";
import { DEFAULT_SETTINGS, type ProviderSettings } from "./provider-settings";
import type { ProviderStorage } from "./provider-storage";
import { RateMeter } from "./rate-meter";
import { parseSelfHosted, type SelfHostedInput, withSelfHosted } from "./self-hosted";

const SESSION_CAPACITY = 4;
/**
 * A refused heartbeat leaves the tab listed: its notice goes once no failure came for this long
 * (heartbeats go every 20 s, so three passed unrefused). A failed registration's goes at once
 * when the tab is listed again.
 */
const TROUBLE_QUIET_MS = 60_000;
const SIGNALING_TROUBLE =
  "The Silk server refused or garbled this tab's calls to stay listed, so requesters may not be sent here. This tab keeps trying by itself; if this stays, the server may run another version of Silk: tell whoever runs it.";

/** The page's heavy half (storage, chain, `@ton/core`): one lazy chunk, fetched right after mount. */
type PageCore = typeof import("./page-core");
/** How often the page reads its audit counts while serving (they change only when audited). */
const AUDIT_READ_MS = 15_000;
let pageCore: Promise<PageCore> | undefined;
export const loadPageCore = (): Promise<PageCore> => {
  pageCore ??= import("./page-core");
  pageCore.catch(() => {
    pageCore = undefined;
  });
  return pageCore;
};

export type Phase = "starting" | "no-webgpu" | "ready";
export type Serving = "off" | "starting" | "serving" | "paused";

/**
 * The provider page's state, in runes. Components read it and call its methods; every rule
 * (what fits, when to resume, what is owed) lives here or in the pure modules next to it.
 * Numbers that change per token are sampled once a second, so the page stays quiet.
 */
export class ProviderStore {
  phase = $state<Phase>("starting");
  gpu = $state<GpuCheck | undefined>();
  models = $state<ModelOption[]>([]);
  settings = $state<ProviderSettings>({ ...DEFAULT_SETTINGS });
  identityKey = $state("");
  /** A model loading: how far (0 to 1), the engine's own words, and the time left when it can be told. */
  loading = $state<
    { model: string; progress: number; text: string; left?: string; got?: string } | undefined
  >();
  loaded = $state<string | undefined>();
  serving = $state<Serving>("off");
  /** The connection to the Silk server while serving, read every second. */
  link = $state<Link>("connected");
  /** When the connection was lost (ms), while it is. */
  downSince = $state<number | undefined>();
  now = $state(Date.now());
  error = $state<string | undefined>();
  /** The last model load failed to download (the network or the host): repairing the cache would not help. */
  downloadFailed = $state(false);
  stats = $state({ queue: 0, active: 0, sessions: 0, tokensPerSecond: 0, requests: 0, tokens: 0 });
  earnings = $state({ earned: 0n, claimed: 0n, unclaimed: 0n, escrows: 0 });
  samples = $state<EarningSample[]>([]);
  awake = $state<AwakeState>({ hidden: false, locked: false, supported: false });
  /** This provider's audits as the signaling server counts them (issue 16), read while serving. */
  audits = $state<AuditTotals | undefined>();
  /** The network, the wallet, the Registry and claims. */
  readonly chain = new ProviderChain();
  /** What the signaling client failed at by itself while serving (re-registering, heartbeats). */
  readonly background = new BackgroundNotice();

  readonly fitting = $derived(this.models.filter((m) => m.fit.fits));
  readonly unfit = $derived(this.models.filter((m) => !m.fit.fits));
  readonly earnedText = $derived(formatTon(this.earnings.earned));
  readonly unclaimedText = $derived(formatTon(this.earnings.unclaimed));
  readonly claimedText = $derived(formatTon(this.earnings.claimed));
  /** The page's one line on what this tab is doing and what to do next (the status and Serving show it). */
  readonly headline = $derived(
    servingHeadline({
      serving: this.serving,
      link: this.link,
      model: this.loaded,
      downSince: this.downSince,
      now: this.now,
      unregistered: this.chain.unregistered,
      payout: !!this.settings.payout,
    }),
  );

  private core!: PageCore;
  private storage!: ProviderStorage;
  private identity!: KeyPair;
  private runtime: ProviderRuntime | undefined;
  private readonly meter = new RateMeter();
  private ticker: ReturnType<typeof setInterval> | undefined;
  private auditReader: ReturnType<typeof setInterval> | undefined;
  private keepAwake: KeepAwake | undefined;
  /** The engine the loaded model runs on: the plain one, or the reference one (forcing processor). */
  private loadedOn: Engine | undefined;
  private ticks = 0;
  /** The tab was seen unlisted since the last background failure: listed again, that failure is over. */
  private unlistedSinceTrouble = false;
  /** When the engine last streamed a token (ms): read on Stop, never rendered per token. */
  private lastTokenAt = 0;

  /**
   * `referenceSource`: the same models with the forcing processor loaded (engine-source.ts
   * `referenceEngineSource`), used while "Serve as an audit reference" is on.
   */
  constructor(
    readonly source: EngineSource,
    private readonly signalingUrl: string,
    private readonly referenceSource: EngineSource = source,
  ) {}

  /** The engine a model loads on now, as the audit reference setting says. */
  private get engine(): Engine {
    return this.settings.auditReference ? this.referenceSource.engine : this.source.engine;
  }

  /** Loads the page's heavy half, opens IndexedDB, then the chain, the GPU check and the models. */
  async init(): Promise<void> {
    const core = await loadPageCore();
    this.core = core;
    const db = await core.openSilkDb();
    this.storage = new core.ProviderStorage(db);
    this.identity = await this.storage.identity();
    this.identityKey = core.encodePublicKey(this.identity.publicKey);
    this.settings = { ...DEFAULT_SETTINGS, ...(await this.storage.settings.get()) };
    // A wallet's address is the payout address until the provider sets another.
    await this.chain.init(core, this.signalingUrl, db, this.identity, this.storage.receipts, (address) => {
      if (this.settings.payout || this.serving !== "off") return;
      this.settings.payout = core.rawAddress(address);
      void this.saveSettings();
    });
    const totals = await this.storage.totals.get();
    this.stats.requests = totals?.requests ?? 0;
    this.stats.tokens = totals?.tokens ?? 0;
    this.samples = await this.storage.samples();
    await this.refreshEarnings();
    this.keepAwake = new KeepAwake((s) => {
      this.awake = s;
    });
    this.gpu = await this.source.check();
    if (!this.gpu.ok) {
      this.phase = "no-webgpu";
      return;
    }
    this.source.selfHost(this.settings.selfHosted ?? []);
    this.models = await this.source.models(this.gpu.facts);
    this.phase = "ready";
    const resume = this.settings.serving && this.settings.model;
    if (resume && this.models.some((m) => m.id === resume && m.fit.fits && m.cached)) {
      await this.load(resume);
      if (this.loaded === resume && !core.payoutProblem(this.settings.payout)) await this.start();
    }
  }

  select(model: string): void {
    this.settings.model = model;
    void this.saveSettings();
  }

  /** Checks, remembers and lists a self-hosted model's location, and selects it; or says what is wrong. */
  async saveSelfHosted(input: SelfHostedInput): Promise<ReturnType<typeof parseSelfHosted>> {
    const parsed = parseSelfHosted(input);
    if (!parsed.ok) return parsed;
    await this.useSelfHosted(withSelfHosted(this.settings.selfHosted ?? [], parsed.model));
    this.select(parsed.model.modelId);
    return parsed;
  }

  removeSelfHosted(modelId: string): Promise<void> {
    return this.useSelfHosted((this.settings.selfHosted ?? []).filter((m) => m.modelId !== modelId));
  }

  private async useSelfHosted(list: NonNullable<ProviderSettings["selfHosted"]>): Promise<void> {
    this.settings.selfHosted = list;
    await this.saveSettings();
    this.source.selfHost($state.snapshot(list));
    if (this.gpu?.ok) this.models = await this.source.models(this.gpu.facts);
  }

  setPrice(text: string): string | undefined {
    const price = parseNanoTon(text);
    if (typeof price === "string") return price;
    this.settings.price = price;
    void this.saveSettings();
    return undefined;
  }

  setPayout(text: string): string | undefined {
    if (!this.core) return "the page is still loading: try again in a moment";
    const problem = this.core.payoutProblem(text);
    if (problem) return problem;
    this.settings.payout = this.core.rawAddress(text);
    void this.saveSettings();
    return undefined;
  }

  /**
   * "Serve as an audit reference" on or off; a loaded model is loaded again on the engine that
   * setting asks for (the other one's GPU memory freed first). Not while serving: the model's
   * declared features would no longer say what the engine does.
   */
  async setAuditReference(on: boolean): Promise<void> {
    if (this.serving !== "off" || this.loading || on === this.settings.auditReference) return;
    this.settings.auditReference = on;
    await this.saveSettings();
    if (this.loaded && this.loadedOn !== this.engine) await this.load(this.loaded);
  }

  async load(model: string): Promise<void> {
    this.error = undefined;
    this.downloadFailed = false;
    this.loading = { model, progress: 0, text: "starting" };
    const started = Date.now();
    const engine = this.engine;
    try {
      if (this.loadedOn && this.loadedOn !== engine) {
        await this.loadedOn.unload();
        this.loaded = undefined;
        this.loadedOn = undefined;
      }
      await engine.load(model, (p) => {
        const left = timeLeft(p.progress, Date.now() - started);
        const got = downloadedText(p.text);
        this.loading = {
          model,
          progress: p.progress,
          text: p.text,
          ...(left && { left }),
          ...(got && { got }),
        };
      });
      this.loaded = model;
      this.loadedOn = engine;
      this.settings.model = model;
      await this.saveSettings();
      this.models = this.models.map((m) => (m.id === model ? { ...m, cached: true } : m));
    } catch (err) {
      this.error = describeError(err);
      this.downloadFailed = err instanceof EngineError && err.reason === "download";
    } finally {
      this.loading = undefined;
    }
  }

  async repair(model: string): Promise<void> {
    const source = this.settings.auditReference ? this.referenceSource : this.source;
    await source.repair(model).catch((err) => {
      this.error = describeError(err);
    });
    this.models = this.models.map((m) => (m.id === model ? { ...m, cached: false } : m));
  }

  async start(): Promise<void> {
    const model = this.loaded;
    const engine = this.loadedOn;
    const payout = this.settings.payout;
    if (!model || !engine || !payout || this.runtime) return;
    this.error = undefined;
    this.serving = "starting";
    try {
      // Requesters refuse a provider whose Registry entry the server was not told of.
      if (!this.chain.registered) await this.chain.refresh();
      // The runtime (socket.io, WebRTC, the serving loop) is a lazy chunk: the page shows without it.
      const { ProviderRuntime } = await import("../runtime");
      this.runtime = await ProviderRuntime.start({
        signalingUrl: this.signalingUrl,
        identity: this.identity,
        engine,
        models: [
          {
            model,
            price: flatPrice(this.settings.price),
            ...servedSupport(
              this.models.find((m) => m.id === model)?.support,
              engine === this.referenceSource.engine && this.settings.auditReference,
            ),
          },
        ],
        payout,
        // Requesters check this entry on chain before they send anything.
        ...(this.chain.entryClaim() && { entry: this.chain.entryClaim() }),
        // Sessions held open at once (a requester keeps its session between questions); the
        // engine still generates one answer at a time and queues the rest.
        capacity: SESSION_CAPACITY,
        receipts: this.storage.receipts,
        // Claims through the chain the server names; the gate refuses escrows that cannot pay.
        ...(this.chain.settlement && { settlement: this.chain.settlement }),
        ...(this.chain.gate && { gate: this.chain.gate }),
        ...(this.chain.book && { book: this.chain.book }),
        onEvent: (e) => this.onEvent(e),
      });
      this.serving = "serving";
      this.settings.serving = true;
      await this.saveSettings();
      this.ticker = setInterval(() => this.tick(), 1_000);
      this.auditReader = setInterval(() => void this.readAudits(), AUDIT_READ_MS);
      void this.readAudits();
      await this.keepAwake?.hold();
    } catch (err) {
      this.serving = "off";
      this.error = describeError(err);
    }
  }

  /** Reads this provider's audit counts from `/api/models`; a failed read keeps the last. */
  async readAudits(): Promise<void> {
    try {
      // From the page's lazy half: the directory's schemas bring the protocol's crypto with them.
      const view = await this.core.fetchModelsView(this.signalingUrl, AbortSignal.timeout(10_000));
      this.audits = auditTotals(view.audits, (r) => r.provider === this.identityKey);
    } catch {
      // the status line says when signaling is unreachable
    }
  }

  /** Leaves the directory (no server counts or pairs this tab) until `resume`. */
  pause(): void {
    this.runtime?.pause();
    this.serving = "paused";
    this.tick();
  }

  resume(): void {
    this.runtime?.resume();
    this.serving = "serving";
    this.tick();
  }

  /** An answer is streaming to a requester now (a token within the last 2 s): Stop then asks first. */
  answering(now = Date.now()): boolean {
    return this.serving !== "off" && now - this.lastTokenAt < 2_000;
  }

  async stop(): Promise<void> {
    this.runtime?.stop();
    this.runtime = undefined;
    clearInterval(this.ticker);
    clearInterval(this.auditReader);
    // Nothing runs once stopped: the per-second numbers say so instead of keeping their last reading.
    this.stats = { ...this.stats, queue: 0, active: 0, sessions: 0, tokensPerSecond: 0 };
    this.link = "connected";
    this.downSince = undefined;
    this.background.clear();
    this.serving = "off";
    this.settings.serving = false;
    await this.saveSettings();
    await this.keepAwake?.release();
  }

  private onEvent(e: RuntimeEvent): void {
    switch (e.type) {
      case "tokens":
        this.lastTokenAt = Date.now();
        this.meter.add(e.count, Date.now());
        return;
      case "request-done":
        this.stats.requests++;
        this.stats.tokens += e.promptTokens + e.completionTokens;
        void this.storage.totals.set({ requests: this.stats.requests, tokens: this.stats.tokens });
        return;
      case "receipt":
        void this.refreshEarnings(true);
        return;
      case "signaling-error":
        this.background.tell({ key: e.code, text: SIGNALING_TROUBLE, detail: e.message });
        this.unlistedSinceTrouble = !this.listed();
        return;
      default:
        return;
    }
  }

  private tick(): void {
    this.now = Date.now();
    if (this.runtime) {
      this.link = linkOf(this.runtime.signaling);
      if (this.link !== "reconnecting") this.downSince = undefined;
      else this.downSince ??= this.now;
      this.troubleOver();
    }
    const slots = this.runtime?.slots;
    this.stats.tokensPerSecond = Math.round(this.meter.rate(Date.now()) * 10) / 10;
    this.stats.queue = slots?.queued ?? 0;
    this.stats.active = slots?.load ?? 0;
    this.stats.sessions = this.runtime?.activeSessions ?? 0;
    // Claims also happen by themselves (at a session's end): show them within a few seconds.
    if (++this.ticks % 5 === 0) void this.refreshClaims();
  }

  private listed(): boolean {
    return this.runtime?.signaling.state.phase === "registered";
  }

  /** A background failure's notice goes when its condition ended: listed again, or nothing refused for a while. */
  private troubleOver(): void {
    if (!this.background.active) return;
    if (!this.listed()) this.unlistedSinceTrouble = true;
    else if (this.unlistedSinceTrouble || this.now - this.background.toldAt >= TROUBLE_QUIET_MS) {
      this.unlistedSinceTrouble = false;
      this.background.clear();
    }
  }

  /** Publishes this provider in the Registry. Straight from the click: the wallet is called first. */
  register(): Promise<void> {
    const model = this.loaded ?? this.settings.model;
    const payout = this.settings.payout;
    if (!model || !payout) return Promise.resolve();
    return this.chain.register({ payout, model, price: this.settings.price });
  }

  /** "Claim now", then the numbers it moved. */
  async claimNow(): Promise<void> {
    await this.chain.claimNow();
    await this.refreshClaims();
  }

  private async refreshClaims(): Promise<void> {
    await this.chain.refresh();
    await this.refreshEarnings();
  }

  private async refreshEarnings(sample = false): Promise<void> {
    const payout = this.settings.payout;
    if (!payout) return;
    this.earnings = this.core.earningsFrom(await this.storage.receipts.list(), this.core.rawAddress(payout));
    if (sample) {
      const s = { at: Date.now(), earned: this.earnings.earned, claimed: this.earnings.claimed };
      this.samples = [...this.samples.slice(-199), s];
      await this.storage.addSample(s);
    }
  }

  private async saveSettings(): Promise<void> {
    await this.storage.settings.set($state.snapshot(this.settings));
  }
}
