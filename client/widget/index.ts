// The Silk chat widget: `<script type="module" src="https://your-silk-server/widget/silk-chat.js"></script>`
// then `<silk-chat></silk-chat>` anywhere; or `import "silk/client/widget"` from an app.
//
// The first download is the element and its chat shell (Svelte, the components, the store's
// state). The connection stack (SDK, socket.io-client, simple-peer, @noble/*, @ton/core, valibot)
// and Markdown rendering are lazy chunks fetched right after mount, while the shell says
// "Connecting to Silk…"; the wallet is another, fetched when the wallet panel first opens. Chunks
// are imported relative to this module, so they come from wherever the script tag points.
import { mount, unmount } from "svelte";
import type { NetworkName } from "../../protocol/receipt";
import baseCss from "../../web/base.css?inline";
import { ChatStore, loadChatCore } from "../web/chat-store.svelte";
import { loadMarkdown } from "../web/lazy-markdown.svelte";
import { startProblem } from "../web/start-problem";
import { followTelegram, type TelegramWebApp, telegram } from "./telegram";
import WidgetApp from "./WidgetApp.svelte";

/** The page's base styles, moved from the document to the widget's shadow root. */
const SHADOW_CSS = `${baseCss
  // A theme attribute on <silk-chat> works as data-theme on a page's <html>.
  .replace(/:root:not\((\[[^\]]+\])\)/g, ":host(:not($1))")
  .replace(/:root(\[[^\]]+\])/g, ":host($1)")
  .replace(/:root\b/g, ":host")
  .replace(/\bhtml,\s*body\b/g, ".silk-root")
  .replace(/\bbody\b/g, ".silk-root")}
:host { display: block; height: var(--tg-stable-height, 32rem); contain: content; }
.silk-root { height: 100%; background: var(--silk-bg); color: var(--silk-fg); }
a { color: var(--silk-link, var(--silk-accent)); }`;

/**
 * `<silk-chat signaling="https://silk.example" twa-return-url="https://t.me/bot/app">`: the chat in
 * a shadow root. `network="testnet"` (with `ton-endpoint="https://…"` to read the chain through
 * your own node) makes the embedding page, not the signaling server, choose the chain: a server
 * naming another network is refused, and on testnet and mainnet only a public endpoint of the
 * server's is read (`chosenChain`); without it, the chain this browser first used with the server
 * is held to (`pinnedChain`). so the host page's styles and the widget's do not mix. Inside Telegram it follows
 * the theme, the stable viewport height and the safe areas, and uses the Main and Back buttons.
 */
export class SilkChatElement extends HTMLElement {
  private app: ReturnType<typeof mount> | undefined;
  private store: ChatStore | undefined;
  private stopFollowing: (() => void) | undefined;

  connectedCallback(): void {
    if (this.app) return;
    const root = this.shadowRoot ?? this.attachShadow({ mode: "open" });
    const style = document.createElement("style");
    style.textContent = SHADOW_CSS;
    const target = document.createElement("div");
    target.className = "silk-root";
    root.replaceChildren(style, target);

    const tg = telegram();
    const returnUrl = this.getAttribute("twa-return-url");
    const network = this.getAttribute("network");
    const tonEndpoint = this.getAttribute("ton-endpoint") ?? undefined;
    const store = new ChatStore({
      signalingUrl: this.getAttribute("signaling") ?? location.origin,
      // The embedding page's choice, held to as `gateway init` holds to --network: a value that is
      // no network is refused by name there (NetworkMismatchError), never ignored.
      // A ton-endpoint alone is for the devnet, as --ton-endpoint alone is.
      ...((network !== null || tonEndpoint !== undefined) && {
        chain: { network: (network ?? "devnet") as NetworkName, tonEndpoint },
      }),
      onAnswer: (outcome) => haptic(tg, outcome),
      ...(returnUrl &&
        /^[a-z]+:\/\//i.test(returnUrl) && { twaReturnUrl: returnUrl as `${string}://${string}` }),
    });
    this.store = store;
    if (tg) {
      tg.ready();
      tg.expand();
      this.stopFollowing = followTelegram(tg, this);
    }
    this.app = mount(WidgetApp, {
      target,
      props: { store, tg, onWalletOpen: () => void store.prepareWallet() },
    });
    // The shell is on screen: fetch the rest now (init awaits it, opens IndexedDB and reports a failure).
    for (const load of [loadChatCore, loadMarkdown]) load().catch(() => undefined);
    void store
      .init()
      .catch((err: unknown) => {
        store.directoryProblem = startProblem(err);
      })
      .finally(() => {
        this.dataset.ready = "true";
      });
  }

  disconnectedCallback(): void {
    this.stopFollowing?.();
    this.store?.dispose();
    if (this.app) void unmount(this.app);
    this.app = undefined;
  }
}

function haptic(tg: TelegramWebApp | undefined, outcome: "done" | "error" | "stopped"): void {
  if (outcome === "done") tg?.HapticFeedback?.notificationOccurred("success");
  if (outcome === "error") tg?.HapticFeedback?.notificationOccurred("error");
}

if (!customElements.get("silk-chat")) customElements.define("silk-chat", SilkChatElement);
