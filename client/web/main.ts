// The web client. browser-globals must come first: @ton/core and simple-peer expect Node's globals.
import "../../peer/browser-globals";
import "../../web/base.css";
import { mount } from "svelte";
import { applySavedTheme } from "../../web/theme";
import { DRAFT_KEY } from "./chat-settings";
import { ChatStore } from "./chat-store.svelte";
import App from "./components/App.svelte";
import { startProblem } from "./start-problem";

applySavedTheme();
const store = new ChatStore({ signalingUrl: location.origin });
store.draft = sessionStorage.getItem(DRAFT_KEY) ?? "";
mount(App, { target: document.getElementById("app")!, props: { store } });
try {
  await store.init();
} catch (err) {
  store.directoryProblem = startProblem(err);
}
document.body.dataset.ready = "true";
