import type { Page } from "playwright-core";

/** The web client's question box. */
export const question = (page: Page) => page.getByRole("textbox", { name: "Your question" });

/** Asks `q` in the open chat and waits for its answer, the chat's `answers`th, to end. */
export async function ask(page: Page, q: string, answers: number): Promise<void> {
  await question(page).fill(q);
  await page.keyboard.press("Enter");
  await page
    .getByTestId("answer-stats")
    .nth(answers - 1)
    .waitFor({ timeout: 30_000 });
}
