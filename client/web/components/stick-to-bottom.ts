/** How close to the bottom (px) still counts as reading the newest text. */
const NEAR = 48;
/** How long after a wheel, touch, key or press on the log a scroll up is taken as the reader's. */
const GESTURE_MS = 1000;

/**
 * Svelte action for a scrolling log: while the reader is at the bottom, new content scrolls into
 * view; once they scroll up it stops following, and `onAway(true)` lets the page offer a way back.
 * Scrolling back to the bottom resumes following.
 *
 * Layout lowers `scrollTop` too: the log growing taller (the estimate under the question box
 * emptied) or its content shrinking clamps it, and the scroll event comes a frame later, maybe
 * after new text. Such a move is not the reader leaving: after a gesture (wheel up, touch, a key,
 * a press on the scrollbar) any move up is; without one, only a move up larger than the layout
 * change since the last look explains, and more than a screen when content changed meanwhile.
 */
export function stickToBottom(node: HTMLElement, p: { growth: string; onAway: (away: boolean) => void }) {
  let params = p;
  let stuck = true;
  let last = node.scrollTop;
  let lastHeight = node.scrollHeight;
  let lastClient = node.clientHeight;
  let mutated = false;
  let gestureAt = Number.NEGATIVE_INFINITY;
  const atBottom = () => node.scrollHeight - node.scrollTop - node.clientHeight <= NEAR;
  const look = () => {
    last = node.scrollTop;
    lastHeight = node.scrollHeight;
    lastClient = node.clientHeight;
    mutated = false;
  };
  const set = (now: boolean) => {
    if (now === stuck) return;
    stuck = now;
    params.onAway(!now);
  };
  const byLayout = (drop: number) => {
    const explained =
      Math.max(0, node.clientHeight - lastClient) + Math.max(0, lastHeight - node.scrollHeight) + 2;
    return drop <= explained || (mutated && drop <= node.clientHeight);
  };
  const onScroll = () => {
    const drop = last - node.scrollTop;
    if (atBottom()) set(true);
    else if (drop > 2 && (performance.now() - gestureAt < GESTURE_MS || !byLayout(drop))) set(false);
    else if (stuck) later();
    look();
  };
  const follow = () => {
    // A log with nothing in it but its first-run note (`.empty`) is read from the top.
    if (stuck && !atBottom() && !node.querySelector(":scope>.empty")) node.scrollTop = node.scrollHeight;
    look();
  };
  const gesture = () => {
    gestureAt = performance.now();
  };
  const onWheel = (e: WheelEvent) => {
    gesture();
    if (e.deltaY < 0 && node.scrollTop > 0) set(false);
  };
  // A press on the log itself (not its content) is on its scrollbar.
  const onPress = (e: PointerEvent) => {
    if (e.target === node) gesture();
  };
  const gestures = [
    ["wheel", onWheel],
    ["touchstart", gesture],
    ["keydown", gesture],
    ["pointerdown", onPress],
  ] as const;
  node.addEventListener("scroll", onScroll, { passive: true });
  for (const [name, on] of gestures) node.addEventListener(name, on as EventListener, { passive: true });
  // Anything added inside (a streamed piece, the stats line, an error) is followed, once per frame.
  let queued = false;
  function later() {
    if (queued) return;
    queued = true;
    requestAnimationFrame(() => {
      queued = false;
      follow();
    });
  }
  const watcher = new MutationObserver(() => {
    mutated = true;
    later();
  });
  watcher.observe(node, { childList: true, subtree: true, characterData: true });
  // The log itself shrinking (a note appearing under it) hides the newest line unless followed too.
  const resized = new ResizeObserver(later);
  resized.observe(node);
  queueMicrotask(follow);
  return {
    update(next: { growth: string; onAway: (away: boolean) => void }) {
      const changed = next.growth.split(":")[0] !== params.growth.split(":")[0];
      params = next;
      // Another conversation opened: start at its newest turn.
      if (changed) set(true);
      later();
    },
    destroy() {
      watcher.disconnect();
      resized.disconnect();
      node.removeEventListener("scroll", onScroll);
      for (const [name, on] of gestures) node.removeEventListener(name, on as EventListener);
    },
  };
}
