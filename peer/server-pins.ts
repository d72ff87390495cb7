import { grantMacValid, type HelloOffer } from "../protocol";

/**
 * Whether a grant is the signaling server's own word (protocol/server-grant.ts), as far as the key
 * pinned for its URL can tell:
 * - `signed`: carries the MAC of a connection whose hello the pinned key signed: a key `given` to
 *   the client, or learned on an `earlier` connection (then whatever it says the server said), or
 *   learned on this very connection (`now`: nothing yet tells the server's key from a man in the
 *   middle's);
 * - `unsigned`: no key is pinned for the URL and the server keys nothing (an older server):
 *   nothing tells the server from the path to it;
 * - `tampered`: it fails the pinned key, so it was written or altered on the path to the server (a
 *   man in the middle) or replayed from another request: the server is not to blame.
 */
export type GrantSeal =
  | { readonly kind: "signed"; readonly key: string; readonly pin: Pin }
  | { readonly kind: "unsigned" }
  | { readonly kind: "tampered"; readonly why: string };

type Pin = "given" | "earlier" | "now";

/** What one connection's `server:hello` established. */
export type Hello =
  | { readonly kind: "keyed"; readonly key: string; readonly pin: Pin; readonly macKey: Uint8Array }
  | { readonly kind: "none" }
  | { readonly kind: "tampered"; readonly why: string };

/**
 * Server keys: the one given for every URL (one operator's nodes share one key), or given per URL,
 * else learned from each URL's first signed hello (trust on first use, for the client's life: a
 * man in the middle already there at that first hello is not detected).
 */
export type ServerKeys = string | Readonly<Record<string, string>>;

export class ServerPins {
  private readonly learned = new Map<string, string>();

  constructor(private readonly given: ServerKeys | undefined) {}

  /** The key pinned for `url` now, and how. */
  pinned(url: string): { key: string; pin: "given" | "earlier" } | undefined {
    const given = typeof this.given === "string" ? this.given : this.given?.[url];
    if (given) return { key: given.toLowerCase(), pin: "given" };
    const learned = this.learned.get(url);
    return learned ? { key: learned, pin: "earlier" } : undefined;
  }

  /**
   * What the server at `url` answered `offer` (undefined: it did not, `why`): a key for the
   * connection's grants, none (an older server, nothing pinned), or a path that lies.
   */
  greeted(
    url: string,
    offer: HelloOffer,
    answer: Readonly<Record<string, unknown>> | undefined,
    why = "",
  ): Hello {
    const pinned = this.pinned(url);
    const carried = typeof answer?.key === "string" ? answer.key : undefined;
    if (pinned) {
      const macKey = answer && offer.accept(answer, pinned.key);
      if (macKey) return { kind: "keyed", ...pinned, macKey };
      return {
        kind: "tampered",
        why: !answer
          ? `came on a connection whose server:hello went unanswered (${why}), though the server key ${pinned.key} is pinned for it`
          : carried !== pinned.key
            ? `came on a connection whose server:hello was answered by key ${String(carried).slice(0, 64)}, not by the server key ${pinned.key} pinned for it`
            : `came on a connection whose server:hello answer does not match the signature of the server key ${pinned.key} pinned for it`,
      };
    }
    if (!answer || !carried) return { kind: "none" };
    const macKey = offer.accept(answer, carried);
    if (!macKey)
      return {
        kind: "tampered",
        why: "came on a connection whose server:hello answer does not match its own signature",
      };
    this.learned.set(url, carried);
    return { kind: "keyed", key: carried, pin: "now", macKey };
  }

  /**
   * The seal of `raw` (a grant as it came off the wire from `url`) on a connection with `hello`
   * (undefined: the connection said none), for `nonce`.
   */
  seal(url: string, hello: Hello | undefined, raw: unknown, nonce: string): GrantSeal {
    if (!hello)
      return this.pinned(url)
        ? { kind: "tampered", why: "came on a connection that said no server:hello" }
        : { kind: "unsigned" };
    if (hello.kind !== "keyed") return hello.kind === "none" ? { kind: "unsigned" } : hello;
    if (grantMacValid(raw, nonce, hello.macKey)) return { kind: "signed", key: hello.key, pin: hello.pin };
    const server = (raw as { server?: unknown } | undefined)?.server;
    return {
      kind: "tampered",
      why: !server
        ? `carries no MAC, though its connection is keyed by the server key ${hello.key}`
        : `does not match its MAC under the server key ${hello.key} (altered after the server made it, or replayed from another request)`,
    };
  }
}
