// The provider page: its shell (status, checklist, model picker) first; ProviderStore.init loads the
// heavy half (storage, chain, @ton/core and its Node globals) right after it mounts.
import "../../web/base.css";
import { mount } from "svelte";
import { engineSource, referenceEngineSource } from "../../web/engines/engine-source";
import { applySavedTheme } from "../../web/theme";
import App from "./components/App.svelte";
import { ProviderStore } from "./provider-store.svelte";

applySavedTheme();
const store = new ProviderStore(engineSource, location.origin, referenceEngineSource);
mount(App, { target: document.getElementById("app")!, props: { store } });
try {
  await store.init();
} catch (err) {
  store.error = err instanceof Error ? err.message : "the page could not start";
}
document.body.dataset.ready = "true";
