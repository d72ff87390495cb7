/**
 * A failure of work no click awaits (a signaling server answering a background call unreadably,
 * a refused heartbeat or re-registration, a store that fails to keep something), said once where
 * the user looks: `BackgroundNotice.svelte` shows `current`. The same failure told again (a retry
 * failing every few seconds) changes nothing on the page, so a screen reader hears it once; one the
 * user dismissed stays quiet until `clear` or `ended` says its condition ended. `ended` also says
 * so, once, in `over` (a polite status: the failure's alert is not for good news).
 */
export interface Notice {
  /** What failed, for telling a repeat from a new failure (an error code, say). */
  readonly key: string;
  /** Plain words: what happened, what it means for the user, what happens next. */
  readonly text: string;
  /** The technical words (the error's own message, naming the server), for the operator. */
  readonly detail: string;
}

export class BackgroundNotice {
  #current = $state.raw<Notice | undefined>();
  /** Keys dismissed while their condition lasts. */
  #quiet = new Set<string>();
  /** When the last failure was told (ms), shown or not. */
  #toldAt = 0;
  #over = $state.raw("");

  get current(): Notice | undefined {
    return this.#current;
  }

  /** A failure is shown, or dismissed and not yet over. */
  get active(): boolean {
    return this.#current !== undefined || this.#quiet.size > 0;
  }

  /** Words that the failure shown or dismissed is over, until the next failure shown (or `clear`). */
  get over(): string {
    return this.#over;
  }

  get toldAt(): number {
    return this.#toldAt;
  }

  tell(notice: Notice, now = Date.now()): void {
    this.#toldAt = now;
    if (this.#quiet.has(notice.key)) return;
    this.#over = "";
    const shown = this.#current;
    if (shown && shown.key === notice.key && shown.text === notice.text && shown.detail === notice.detail)
      return;
    this.#current = notice;
  }

  /** The user closed it: the same failure is not shown again until its condition ends (`clear`). */
  dismiss(): void {
    if (this.#current) this.#quiet.add(this.#current.key);
    this.#current = undefined;
  }

  /** The condition ended (or the work stopped): nothing shown, the next failure shown again. */
  clear(): void {
    this.#quiet.clear();
    this.#current = undefined;
    this.#over = "";
  }

  /** The condition ended by itself: as `clear`, and `words` said once, if a failure was told at all. */
  ended(words: string): void {
    if (!this.active) return;
    this.clear();
    this.#over = words;
  }
}
