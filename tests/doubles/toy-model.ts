import { type ChatParams, contentText } from "../../protocol";

/**
 * TEST DOUBLE: a tiny deterministic "language model" standing in for a model's weights (which
 * cannot be downloaded here), so audits have real logprobs to compare. Its next-token
 * distribution over a small vocabulary is a hash of (weights seed, context so far): two seeds are
 * two different models; `quantisation` adds a fixed perturbation to the logits, as a heavier
 * quantisation of the same weights would; `truncate` keeps only the last message as context.
 */
export const VOCABULARY: readonly string[] = [
  " the",
  " a",
  " river",
  " mountain",
  " city",
  " runs",
  " flows",
  " north",
  " south",
  " east",
  " west",
  " old",
  " new",
  " long",
  " short",
  " and",
  " or",
  " but",
  " to",
  " from",
  " with",
  " water",
  " stone",
  " light",
  " dark",
  " is",
  " was",
  " will",
  " be",
  " near",
  " far",
  ".",
  " people",
  " bridge",
  " road",
  " sea",
  " rain",
  " wind",
  " green",
  " blue",
  " cold",
  " warm",
  " slow",
  " fast",
  " one",
  " two",
  " three",
  " many",
];

/**
 * Some words as a byte-level tokenizer would spell them with an emoji that it splits across two
 * tokens (the WebLLM double in webllm-held-back.ts streams them so); the toy tokenizer reads each
 * spelling as its word's one id, as a reference that encodes the whole text would.
 */
export const GLYPHS: ReadonlyMap<string, string> = new Map([
  [" rain", " \u{1F327}"],
  [" sea", " \u{1F30A}"],
]);
const GLYPH_IDS = new Map([...GLYPHS].map(([word, glyph]) => [glyph, VOCABULARY.indexOf(word)]));

export interface ToyModelSpec {
  /** The "weights": another seed is another model. */
  readonly seed: number;
  /** Amplitude of a fixed logit perturbation (0: the model as published). */
  readonly quantisation?: number;
  /** Reads only the last message (a provider that drops context to save work). */
  readonly truncate?: boolean;
}

const CACHES = new Map<string, Map<number, Float64Array>>();

export class ToyModel {
  /** The context hash the prompt starts from. */
  start(params: ChatParams): number {
    const messages = this.spec.truncate ? params.messages.slice(-1) : params.messages;
    let h = 0x811c9dc5;
    for (const m of messages) {
      const text = `${m.role}:${contentText(m.content ?? "")}\n`;
      for (let i = 0; i < text.length; i++) h = Math.imul(h ^ text.charCodeAt(i), 0x01000193);
    }
    return h >>> 0;
  }

  /** The context after one more token. */
  next(context: number, token: number): number {
    return mix(context ^ Math.imul(token + 1, 0x9e3779b1)) >>> 0;
  }

  /** Shared by every instance of the same model, so a reference scoring an honest answer reuses its work. */
  private readonly cache: Map<number, Float64Array>;

  constructor(readonly spec: ToyModelSpec) {
    const key = `${spec.seed}/${spec.quantisation ?? 0}`;
    this.cache = CACHES.get(key) ?? new Map();
    CACHES.set(key, this.cache);
  }

  /** Log-probabilities of every vocabulary entry after `context` (the same array for the same context). */
  logprobs(context: number): Float64Array {
    const hit = this.cache.get(context);
    if (hit) return hit;
    const n = VOCABULARY.length;
    const logits = new Float64Array(n);
    const q = this.spec.quantisation ?? 0;
    const a = base(this.spec.seed, context);
    const b = base(this.spec.seed + 7919, context);
    const c = base(this.spec.seed ^ 0x5bd1e995, context);
    let max = Number.NEGATIVE_INFINITY;
    for (let i = 0; i < n; i++) {
      let x = 4 * (unit(a, i) + unit(b, i));
      if (q) x += q * unit(c, i);
      logits[i] = x;
      if (x > max) max = x;
    }
    let sum = 0;
    for (let i = 0; i < n; i++) sum += Math.exp(logits[i]! - max);
    const lse = max + Math.log(sum);
    for (let i = 0; i < n; i++) logits[i] = logits[i]! - lse;
    if (this.cache.size >= 8192) this.cache.clear();
    this.cache.set(context, logits);
    return logits;
  }

  /** Teacher forcing: the log-probability of each given token after the prompt and the tokens before it. */
  score(params: ChatParams, tokens: readonly string[]): number[] {
    let context = this.start(params);
    return tokens.map((token) => {
      const id = GLYPH_IDS.get(token) ?? VOCABULARY.indexOf(token);
      if (id < 0) return UNKNOWN_TOKEN_LOGPROB;
      const lp = this.logprobs(context)[id]!;
      context = this.next(context, id);
      return lp;
    });
  }
}

/** What the model gives a token outside its vocabulary. */
export const UNKNOWN_TOKEN_LOGPROB = -30;

function mix(x: number): number {
  let h = x | 0;
  h = Math.imul(h ^ (h >>> 16), 0x85ebca6b);
  h = Math.imul(h ^ (h >>> 13), 0xc2b2ae35);
  return h ^ (h >>> 16);
}

function base(seed: number, context: number): number {
  return mix(seed ^ Math.imul(context, 0x27d4eb2d));
}

/** A uniform in [-1, 1) for vocabulary entry `i` of a (seed, context) base. */
function unit(base: number, i: number): number {
  return (mix(base ^ Math.imul(i + 1, 0x165667b1)) >>> 0) / 2 ** 31 - 1;
}

/** A seeded generator (mulberry32): the same seed gives the same draws. */
export function seededRandom(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

/** A standard normal draw (Box–Muller). */
export function gaussian(random: () => number): number {
  const u = Math.max(random(), Number.EPSILON);
  return Math.sqrt(-2 * Math.log(u)) * Math.cos(2 * Math.PI * random());
}
