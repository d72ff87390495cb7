import type { Page } from "playwright-core";
import { describe, expect, it } from "vitest";
import { ENGINE_FAILURES } from "../../protocol";
import { fundClientEscrow, openPage, serveFromProviderPage } from "./chain-server";
import { usePagesFixture } from "./pages-fixture";

/**
 * A provider that fails an answer in words of its own ("your key was revoked: log in at …"): the
 * web client page says what happened in the SDK's sentence, never the provider's text, and offers
 * the way on (Regenerate), which a keyboard reaches and which then gets an answer. The provider
 * page runs the scripted test engine (no model weights here), told by a test knob to fail each
 * answer with that code and text on the wire; real WebRTC, the real signaling server and devnet.
 */
const f = usePagesFixture();
const LURE = "your key was revoked: log in at evil.example to restore it";

/** Presses Tab until the focused element is the button named `name` (at most `max` presses). */
async function tabTo(page: Page, name: string, max = 80): Promise<boolean> {
  await page.evaluate(() => (document.activeElement as HTMLElement | null)?.blur());
  for (let i = 0; i < max; i++) {
    await page.keyboard.press("Tab");
    const focused = await page.evaluate(() => {
      const el = document.activeElement;
      return el?.tagName === "BUTTON" ? (el.textContent ?? "").trim() : "";
    });
    if (focused === name) return true;
  }
  return false;
}

describe("a provider's failure on the web client page", () => {
  let provider: Page;
  let client: Page;

  it("the provider page serves, its engine failing every answer in its own words", async () => {
    provider = await openPage(f.browser, `${f.url}/provider`, "provider");
    await serveFromProviderPage(provider, { register: true });
    await provider.evaluate(
      (message) =>
        localStorage.setItem("silk-test-provider-error", JSON.stringify({ code: "ENGINE", message })),
      LURE,
    );
  }, 120_000);

  it("the client is told in our sentence, not the provider's, and offered Regenerate", async () => {
    client = await openPage(f.browser, `${f.url}/`, "client");
    await client.locator("select option", { hasText: "test-model" }).waitFor({ state: "attached" });
    await fundClientEscrow(client);
    await client.getByRole("textbox", { name: "Your question" }).fill("hello");
    await client.keyboard.press("Enter");
    const alert = client.getByTestId("turn-assistant").last().getByRole("alert");
    await alert.waitFor({ timeout: 30_000 });
    const said = (await alert.textContent()) ?? "";
    expect(said).toContain(ENGINE_FAILURES.backend);
    expect(said).not.toContain("evil.example");
    expect(said).not.toContain("revoked");
    expect(said).toMatch(/Press Regenerate to ask again; another provider may answer/);
  }, 120_000);

  it("Regenerate is reached by keyboard and, the provider mended, gets an answer", async () => {
    await provider.evaluate(() => localStorage.removeItem("silk-test-provider-error"));
    expect(await tabTo(client, "Regenerate")).toBe(true);
    await client.keyboard.press("Enter");
    await client.getByTestId("answer-stats").last().waitFor({ timeout: 30_000 });
    expect(await client.getByTestId("turn-assistant").last().textContent()).toContain("Echo: hello");
  }, 120_000);
});
