import type { Address } from "@ton/core";
import type { SessionLife } from "../../peer/session-life";
import type { Deadlines } from "../../peer/session-machine";
import type {
  AnswerFinish,
  AnswerPiece,
  ChatParams,
  KeyPair,
  LogprobEntry,
  MaxPrice,
  ModelPrice,
  SignedAnswer,
  ToolCall,
} from "../../protocol";
import type { QuoteShown } from "./base-receipt";
import type { AccountStoreError } from "./errors";
import type { PaymentAccount } from "./payment-account";
import type { ReserveOptions } from "./reserve-keeper";

/** What a requester session is opened with and what each of its requests ends with. */
export interface RequesterSessionOptions {
  readonly sessionKey: KeyPair;
  readonly keyEpoch: number;
  readonly network: number;
  readonly escrow: Address;
  readonly payout: Address;
  readonly maxPrice: MaxPrice;
  readonly account: PaymentAccount;
  /** Sign a receipt every this many completion tokens (and at every answer's end). */
  readonly receiptEvery?: number;
  /**
   * The session's life (peer/session-life.ts) from whoever made the channel; without it the
   * session keeps its own from the account phase on, with `deadlines`.
   */
  readonly life?: SessionLife;
  readonly deadlines?: Partial<Deadlines>;
  /** Refuse an answer that comes without the provider's signed statement (auditors do). */
  readonly requireSignedAnswers?: boolean;
  /**
   * Keep this provider's stream reserved in the escrow ahead of what is signed (reserve-keeper.ts):
   * a provider that requires reserves serves only what its reserve covers plus one window.
   */
  readonly reserve?: ReserveOptions;
  /** Told when the account fails to keep an answer's signed statement (account-calls.ts). */
  readonly onAccountError?: (e: AccountStoreError) => void;
  /**
   * Who carried the session's frames, as a TamperedError names it ("relayed by the signaling
   * server at URL"): whoever carries them is who could alter, drop or replay one.
   */
  readonly carrier?: string;
  /**
   * The provider's signed quote the grant carried, shown with the base receipt: a provider that
   * has raised its price since honours its own unexpired word (provider/serving/honoured-quote.ts),
   * rather than asking more than the requester was granted.
   */
  readonly quote?: QuoteShown;
}

/** What the base receipt is made of: the stream, the key that signs it, and the last receipt kept. */
export type BaseOptions = Pick<
  RequesterSessionOptions,
  "network" | "escrow" | "payout" | "keyEpoch" | "sessionKey" | "account"
>;

export type RequestInput = ChatParams;

/** One verified piece of an answer, as it arrives. */
export type AnswerDelta = AnswerPiece;
export type FinishReason = AnswerFinish;

export interface RequestResult {
  readonly text: string;
  /** The tool calls the answer made, assembled from their streamed pieces. */
  readonly toolCalls: readonly ToolCall[];
  /**
   * The indices of the calls the provider named no id; `toolCalls` has them as `call_<index>`,
   * the id the signed statement holds (answer-content.ts).
   */
  readonly unnamedCalls?: readonly number[];
  /** Per token, when the request asked for logprobs. */
  readonly logprobs?: readonly LogprobEntry[];
  readonly finishReason: FinishReason;
  readonly promptTokens: number;
  readonly completionTokens: number;
  /** nanoTON this answer cost. */
  readonly cost: bigint;
  readonly price: ModelPrice;
  /**
   * The provider's signed statement of this answer (answer-statement.ts), verified against what
   * was sent and seen; absent only when the provider did not sign and signing was not required.
   */
  readonly signedAnswer?: SignedAnswer;
  /** The request exactly as the provider received and hashed it. */
  readonly sent: ChatParams;
}
