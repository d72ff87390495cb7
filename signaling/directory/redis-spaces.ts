import { createHash } from "node:crypto";
import type { RedisClient } from "./redis-commands";

/**
 * Where a directory's keys live: the prefix alone on one Redis, or `<prefix>{<tag>}:` per model
 * tag in a cluster (every script then stays in one slot). In a cluster, `<prefix>tags` lists the
 * spaces in use and a session id starts with its space's tag.
 */
export class KeySpaces {
  private readonly tags = new Map<string, string>();
  /** In a cluster: the tags of the providers registered through this node (their heartbeats come here). */
  private readonly localTags = new Map<string, string[]>();

  constructor(
    readonly prefix: string,
    readonly sharded: boolean,
  ) {}

  /** The tag of a model's space: empty on one Redis (one space), 4 base64url characters in a cluster. */
  tagOf(model: string): string {
    if (!this.sharded) return "";
    let tag = this.tags.get(model);
    if (!tag) {
      tag = modelTag(model);
      this.tags.set(model, tag);
    }
    return tag;
  }

  space(tag: string): string {
    return tag ? `${this.prefix}{${tag}}:` : this.prefix;
  }

  spaceOfModel(model: string): string {
    return this.space(this.tagOf(model));
  }

  sessionSpace(sessionId: string): string | undefined {
    if (!this.sharded) return this.prefix;
    return sessionId.length > 4 ? this.space(sessionId.slice(0, 4)) : undefined;
  }

  /** Every space's tag: one (empty) on one Redis, those listed in `<prefix>tags` in a cluster. */
  async all(redis: RedisClient): Promise<string[]> {
    return this.sharded ? redis.sMembers(this.tagsKey()) : [""];
  }

  tagsKey(): string {
    return `${this.prefix}tags`;
  }

  /** A provider's spaces: known for those registered here; otherwise every space is asked. */
  async ofProvider(identityKey: string, redis: RedisClient): Promise<string[]> {
    if (!this.sharded) return [""];
    return this.localTags.get(identityKey) ?? this.all(redis);
  }

  /** The spaces a provider registered here had before (in a cluster; none on one Redis). */
  async before(identityKey: string, redis: RedisClient): Promise<string[]> {
    return this.sharded ? (this.localTags.get(identityKey) ?? (await this.all(redis))) : [];
  }

  /** Remembers the spaces of a provider registered through this node (cluster only). */
  remember(identityKey: string, tags: string[]): void {
    if (this.sharded) this.localTags.set(identityKey, tags);
  }

  forget(identityKey: string): void {
    this.localTags.delete(identityKey);
  }
}

/** A model's hash tag in a cluster: 4 base64url characters of its SHA-1 (models sharing one share a slot). */
export function modelTag(model: string): string {
  return createHash("sha1").update(model).digest("base64url").slice(0, 4);
}
