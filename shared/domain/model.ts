/** Release-events entities (seed 004, XZepr) as the domain sees them. */

export interface Revisioned {
  id: string;
  /** Optimistic-lock counter; the stored item's `version` attribute. */
  revision: number;
  createdAt: string;
  updatedAt: string;
}

export type JsonObject = { [key: string]: unknown };

export interface Receiver extends Revisioned {
  name: string;
  /** Kind of receiver, e.g. `ci.pipeline`, `deployment`. */
  type: string;
  /** The receiver's own semantic version (XZepr's `version`), not the lock revision. */
  version: string;
  description: string;
  /** JSON Schema (draft 2020-12) every event payload for this receiver must satisfy. */
  schema: JsonObject;
}

export interface Group extends Revisioned {
  name: string;
  description: string;
  enabled: boolean;
  memberCount: number;
}

export interface Membership {
  groupId: string;
  receiverId: string;
  addedAt: string;
}

export interface ReleaseEvent {
  id: string;
  receiverId: string;
  name: string;
  version: string;
  release: string;
  platformId: string;
  package: string;
  description: string;
  payload: JsonObject;
  success: boolean;
  eventStart: string;
  eventEnd: string;
  createdAt: string;
}

export interface Page<T> {
  items: T[];
  /** Opaque; absent on the last page. */
  nextCursor?: string;
}

export interface PageRequest {
  limit: number;
  cursor?: string;
}
