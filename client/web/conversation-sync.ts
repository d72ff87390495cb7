import type { Conversation } from "./conversation";
import { mergeConversation } from "./conversation-merge";

/** The chat state a tab shows (the ChatStore's own fields). */
export interface ConversationHost {
  conversations: Conversation[];
  activeId: string | undefined;
  readonly streaming: boolean;
}

/** One name per origin: the tabs of a browser that share its IndexedDB. */
const CHANNEL = "silk-conversations";

type Note = { readonly t: "saved" | "removed"; readonly id: string };

function noteOf(data: unknown): Note | undefined {
  const n = data as Partial<Note> | null;
  return (n?.t === "saved" || n?.t === "removed") && typeof n.id === "string" ? (n as Note) : undefined;
}

/**
 * Keeps what a tab shows in step with what the other tabs of its browser save: each save or
 * deletion is told on a BroadcastChannel (only its id: the conversation itself is read back from
 * IndexedDB, the one copy every tab writes through a merge), and what is heard is merged into the
 * tab's own copy, so a tab shows the other's new messages and never drops its own.
 */
export class ConversationSync {
  private readonly channel =
    typeof BroadcastChannel === "function" ? new BroadcastChannel(CHANNEL) : undefined;

  constructor(
    private readonly host: ConversationHost,
    read: (id: string) => Promise<Conversation | undefined>,
  ) {
    this.channel?.addEventListener("message", (e: MessageEvent<unknown>) => {
      const note = noteOf(e.data);
      if (note?.t === "removed") this.dropped(note.id);
      else if (note)
        void read(note.id).then(
          (c) => c && this.adopt(c),
          () => undefined,
        );
    });
  }

  /** `stored` (what IndexedDB now holds) merged into the tab's copy, or added to its list. */
  adopt(stored: Conversation): void {
    const host = this.host;
    const live = host.conversations.find((c) => c.id === stored.id);
    if (!live) {
      host.conversations = [...host.conversations, stored].sort((a, b) => b.updatedAt - a.updatedAt);
      return;
    }
    const before = live.updatedAt;
    const merged = mergeConversation(live, stored);
    // In place: the tab's own turn objects stay (an answer streaming into one stays on screen).
    const target = live as unknown as Record<string, unknown>;
    for (const k of Object.keys(target)) if (!(k in merged)) delete target[k];
    Object.assign(target, merged);
    if (live.updatedAt !== before)
      host.conversations = [...host.conversations].sort((a, b) => b.updatedAt - a.updatedAt);
  }

  /** Another tab deleted it: it goes here too, unless an answer is streaming into it here (that answer saves it again). */
  private dropped(id: string): void {
    const host = this.host;
    if (host.streaming && host.activeId === id) return;
    host.conversations = host.conversations.filter((c) => c.id !== id);
    if (host.activeId === id) host.activeId = host.conversations[0]?.id;
  }

  saved(id: string): void {
    this.channel?.postMessage({ t: "saved", id } satisfies Note);
  }

  removed(id: string): void {
    this.channel?.postMessage({ t: "removed", id } satisfies Note);
  }

  dispose(): void {
    this.channel?.close();
  }
}
