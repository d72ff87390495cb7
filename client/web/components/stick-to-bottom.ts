/** How close to the bottom (px) still counts as reading the newest text. */
const NEAR = 48;

/**
 * Svelte action for a scrolling log: while the reader is at the bottom, new content scrolls into
 * view; once they scroll up it stops following, and `onAway(true)` lets the
 * page offer a way back. Scrolling back to the bottom resumes following.
 */
export function stickToBottom(node: HTMLElement, p: { growth: string; onAway: (away: boolean) => void }) {
  let params = p;
  let stuck = true;
  // Only a scroll *up* means the reader left: growing content and our own scrolls only move down.
  let last = node.scrollTop;
  const atBottom = () => node.scrollHeight - node.scrollTop - node.clientHeight <= NEAR;
  const set = (now: boolean) => {
    if (now === stuck) return;
    stuck = now;
    params.onAway(!now);
  };
  const onScroll = () => {
    const top = node.scrollTop;
    if (atBottom()) set(true);
    else if (top < last - 2) set(false);
    last = top;
  };
  const follow = () => {
    if (stuck && !atBottom()) node.scrollTop = node.scrollHeight;
    last = node.scrollTop;
  };
  node.addEventListener("scroll", onScroll, { passive: true });
  // Anything added inside (a streamed piece, the stats line, an error) is followed, once per frame.
  let queued = false;
  const later = () => {
    if (queued) return;
    queued = true;
    requestAnimationFrame(() => {
      queued = false;
      follow();
    });
  };
  const watcher = new MutationObserver(later);
  watcher.observe(node, { childList: true, subtree: true, characterData: true });
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
      node.removeEventListener("scroll", onScroll);
    },
  };
}
