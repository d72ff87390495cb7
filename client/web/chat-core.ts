// The heavy half of the chat, loaded by ChatStore with one dynamic import right after the page
// mounts: the answer runner with the SDK and its connection stack (socket.io-client, simple-peer,
// @noble/*, @ton/core, valibot), IndexedDB and the storage of keys and receipts, the escrow, the
// directory reader. Pages render their chat shell before it arrives. browser-globals must come
// first: @ton/core and simple-peer expect Node's globals.
import "../../peer/browser-globals";

export { BackgroundNotice } from "../../web/background-notice.svelte";
export { openSilkDb } from "../../web/page-db";

export { AnswerRunner } from "./chat-answer";
export { ChatStorage } from "./chat-storage";
export { exportConversations } from "./conversation-file";
export { fetchDirectory } from "./directory";
export { EscrowStore } from "./escrow-store.svelte";
export { LocalDevice } from "./local-device";
export { TrustStore } from "./trust-store.svelte";
