import { type RelayRefusedError, SignalingClient } from "../../peer/signaling-client";
import { type AuditReport, NETWORK_ID, type NetworkName, needsOf, policyFor } from "../../protocol";
import { linkAbort, refuseIfAborted } from "./abort-link";
import { toChatParams } from "./chat-input";
import { completionFromResult, streamChunks } from "./completion-stream";
import {
  type ConnectOptions,
  checkConnectOptions,
  DEFAULT_QUEUE_TIMEOUT_MS,
  reserveOf,
} from "./connect-options";
import {
  type CreateEmbeddingResponse,
  EMBED_NEEDS,
  type EmbeddingCreateParams,
  runEmbeddings,
  toEmbedParams,
} from "./embeddings";
import { ProviderError } from "./errors";
import { runWithFailover } from "./failover";
import { ModelDirectory } from "./model-directory";
import type {
  ChatCompletion,
  ChatCompletionChunk,
  ChatCompletionCreateParams,
  ModelEntry,
} from "./openai-shapes";
import { MemoryPaymentAccount } from "./payment-account";
import type { AnswerDelta } from "./requester-session";
import { SessionOpener } from "./session-opener";
import { SessionSource } from "./session-source";

/**
 * The requester SDK: `connect(...)`, then an OpenAI-compatible surface. Sessions are pooled per
 * model and reused (session-source.ts), opened with a checked provider (session-opener.ts), and an
 * answer whose provider vanishes continues on another (failover.ts).
 */
export type { ConnectOptions, DistrustedServer } from "./connect-options";

/** A streamed answer: OpenAI's chunks, and the controller that stops it. */
export type ChunkStream = AsyncIterable<ChatCompletionChunk> & { readonly controller: AbortController };

export interface SilkClient {
  readonly chat: {
    readonly completions: {
      /** The stream's `controller` aborts it, as OpenAI's Stream's does (so does leaving its loop). */
      create(params: ChatCompletionCreateParams & { stream: true }): Promise<ChunkStream>;
      create(params: ChatCompletionCreateParams & { stream?: false | null }): Promise<ChatCompletion>;
      create(params: ChatCompletionCreateParams): Promise<ChunkStream | ChatCompletion>;
    };
  };
  readonly models: { list(): Promise<{ object: "list"; data: ModelEntry[] }> };
  /** OpenAI's embeddings, from providers that declare `embeddings` for the model, billed per input token. */
  readonly embeddings: { create(params: EmbeddingCreateParams): Promise<CreateEmbeddingResponse> };
  /**
   * Sends an audit report (protocol/audit-report.ts) to the signaling server, which counts it
   * only when its evidence checks out; resolves with the provider's counts for the model.
   */
  reportAudit(report: AuditReport): Promise<AuditCounts>;
  /** Like WebLLM's engine.interruptGenerate(): stops every answer in progress. */
  interruptGenerate(): void;
  close(): void;
}

export interface AuditCounts {
  readonly counted: boolean;
  readonly passed: number;
  readonly failed: number;
}

export async function connect(opts: ConnectOptions): Promise<SilkClient> {
  checkConnectOptions(opts);
  const reserve = reserveOf(opts);
  const signaling = await SignalingClient.connect(opts.signalingUrl, {
    ...(opts.serverKey !== undefined && { serverKey: opts.serverKey }),
    ...(opts.onSignalingError && { onError: opts.onSignalingError }),
    ...(opts.onSignalingRecovered && { onRecovered: opts.onSignalingRecovered }),
  });
  return new Client(signaling, { ...opts, reserve: reserve ?? false });
}

class Client implements SilkClient {
  private readonly source: SessionSource;
  private readonly interrupts = new Set<AbortController>();
  private readonly directory: ModelDirectory;
  readonly chat: SilkClient["chat"];
  readonly models: SilkClient["models"];
  readonly embeddings: SilkClient["embeddings"];

  constructor(
    private readonly signaling: SignalingClient,
    private readonly opts: ConnectOptions,
  ) {
    const network = (Object.keys(NETWORK_ID) as NetworkName[]).find(
      (n) => NETWORK_ID[n] === (opts.network ?? NETWORK_ID.devnet),
    );
    const policy = policyFor(network ?? "mainnet", {
      ...opts.trust?.policy,
      ...(opts.minAuditsPassed !== undefined && { minAuditsPassed: opts.minAuditsPassed }),
    });
    const account = opts.account ?? new MemoryPaymentAccount();
    this.source = new SessionSource(new SessionOpener(signaling, opts, account, policy), opts);
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

  reportAudit(report: AuditReport): Promise<AuditCounts> {
    return this.signaling.reportAudit(report);
  }

  close(): void {
    this.source.close();
    this.directory.close();
    this.signaling.close();
  }

  private async create(params: ChatCompletionCreateParams): Promise<ChunkStream | ChatCompletion> {
    const input = toChatParams(params);
    refuseIfAborted(params.signal);
    const needs = needsOf(input);
    const abort = new AbortController();
    const unlink = linkAbort(params.signal, () => abort.abort());
    this.interrupts.add(abort);
    const run = (onDelta: (d: AnswerDelta, provider: string) => void) =>
      runWithFailover(this.source, this.opts, input, needs, onDelta, abort.signal, params.avoid).finally(
        () => {
          unlink();
          this.interrupts.delete(abort);
        },
      );
    if (params.stream)
      return streamChunks(params.model, run, Boolean(params.stream_options?.include_usage), abort);
    return completionFromResult(params.model, await run(() => undefined));
  }

  private async embed(p: EmbeddingCreateParams): Promise<CreateEmbeddingResponse> {
    const params = toEmbedParams(p);
    refuseIfAborted(p.signal);
    const abort = new AbortController();
    const unlink = linkAbort(p.signal, () => abort.abort());
    this.interrupts.add(abort);
    const pool = this.source.poolOf(params.model);
    const deadline = Date.now() + (this.opts.queueTimeoutMs ?? DEFAULT_QUEUE_TIMEOUT_MS);
    const room = (full: Set<string>, refusals: RelayRefusedError[]) => ({
      full,
      deadline,
      signal: abort.signal,
      refusals,
    });
    try {
      return await runEmbeddings(
        params,
        p.encoding_format ?? "float",
        {
          session: async (exclude, full, refusals) => {
            const { provider, session } = await this.source.sessionFor(
              params.model,
              exclude,
              EMBED_NEEDS,
              room(full, refusals),
            );
            const embed: typeof session.embed = async (x, signal) => {
              const load = pool.sessions.begin(provider);
              try {
                return await this.source.tracked(session, () => session.embed(x, signal));
              } catch (err) {
                if (err instanceof ProviderError && err.code === "QUEUE_FULL")
                  pool.sessions.full(provider, load.inflight);
                throw err;
              } finally {
                load.end();
              }
            };
            return { provider, session, embed };
          },
          lost: (provider) => pool.sessions.remove(provider),
          retire: (session) => this.source.retire(session),
          quoteRefused: this.source.quoteRefused,
          maxFailovers: this.opts.maxFailovers ?? 2,
        },
        abort.signal,
      );
    } finally {
      unlink();
      this.interrupts.delete(abort);
    }
  }
}
