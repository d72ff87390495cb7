// The heavy half of the chat, loaded by ChatStore with one dynamic import right after the page
// mounts: the SDK and its connection stack (socket.io-client, simple-peer, @noble/*, @ton/core,
// valibot), storage of keys and receipts, the devnet escrow, the directory reader. Pages render
// their chat shell before it arrives. browser-globals must come first: @ton/core and simple-peer
// expect Node's globals.
import "../../peer/browser-globals";

export { connect } from "../sdk/silk-client";
export { ChatStorage } from "./chat-storage";
export { exportConversations, importConversations } from "./conversation-file";
export { fetchDirectory } from "./directory";
export { explainError } from "./error-text";
export { EscrowStore } from "./escrow-store.svelte";
export { registryReaderFor } from "./registry-check";
