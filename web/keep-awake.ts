/**
 * Keeps the screen (and so the GPU) awake while a provider serves, where the Screen Wake Lock API
 * exists, and reports what could stop serving: a hidden tab (throttled timers, possibly frozen) or
 * no wake lock (the device may sleep). The lock is re-taken when the tab is shown again, since the
 * browser releases it on hide.
 */
export interface AwakeState {
  readonly hidden: boolean;
  /** True while a wake lock is held. */
  readonly locked: boolean;
  /** False when the browser has no Wake Lock API at all. */
  readonly supported: boolean;
}

export class KeepAwake {
  private sentinel: WakeLockSentinel | undefined;
  private wanted = false;
  private readonly onVisibility = () => void this.sync();

  constructor(private readonly onState: (s: AwakeState) => void) {
    document.addEventListener("visibilitychange", this.onVisibility);
    this.report();
  }

  get supported(): boolean {
    return typeof navigator !== "undefined" && "wakeLock" in navigator;
  }

  async hold(): Promise<void> {
    this.wanted = true;
    await this.sync();
  }

  async release(): Promise<void> {
    this.wanted = false;
    await this.sentinel?.release().catch(() => undefined);
    this.sentinel = undefined;
    this.report();
  }

  dispose(): void {
    document.removeEventListener("visibilitychange", this.onVisibility);
    void this.release();
  }

  private async sync(): Promise<void> {
    if (this.wanted && this.supported && !document.hidden && !this.sentinel) {
      try {
        this.sentinel = await navigator.wakeLock.request("screen");
        this.sentinel.addEventListener("release", () => {
          this.sentinel = undefined;
          this.report();
        });
      } catch {
        this.sentinel = undefined; // refused (battery saver, permissions policy): reported below
      }
    }
    this.report();
  }

  private report(): void {
    this.onState({ hidden: document.hidden, locked: Boolean(this.sentinel), supported: this.supported });
  }
}
