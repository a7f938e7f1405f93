/**
 * Every CloudEvent Switchyard emits (DESIGN.md §5): its type, the area that
 * emits it (`source` = `switchyard/<area>`; on the bus `switchyard.<area>`),
 * when, and the schema of its `data`. The write path (TableStore.commit)
 * builds each change's event from here, and `npm run openapi` generates
 * docs/events.md from it, so the list cannot drift from the code.
 *
 * `data` is parsed with the schema before it is stored: the API's entity
 * schemas are zod objects that drop unknown keys, so a stored-only field (a
 * password hash, a key hash) can never ride along in an event.
 */
import * as z from 'zod';
import { ApiKeySchema, EventSchema, GroupSchema, MembershipSchema, ReceiverSchema, UserSchema } from '../api/schemas.js';

/** What a change did to its entity. */
export type ChangeKind = 'created' | 'updated' | 'deleted';

/** The data of a `*.deleted` event: the entity is gone, its id remains. */
export const DeletedSchema = z.object({ id: z.string() }).meta({ id: 'Deleted' });

/** The data of `group.member_removed`: the membership is gone, so when it was added is not known any more. */
export const MembershipRemovedSchema = z
  .object({ groupId: z.uuid(), receiverId: z.uuid(), removedAt: z.iso.datetime({ offset: true }) })
  .meta({ id: 'MembershipRemoved' });

export interface EventTypeSpec {
  area: string;
  when: string;
  data: z.ZodType;
}

export const EVENT_TYPES = {
  'receiver.created': { area: 'receivers', when: 'a receiver was registered (POST /receivers)', data: ReceiverSchema },
  'receiver.updated': { area: 'receivers', when: 'a receiver was changed (PATCH /receivers/{id})', data: ReceiverSchema },
  'receiver.deleted': { area: 'receivers', when: 'a receiver was deleted (DELETE /receivers/{id})', data: DeletedSchema },
  'group.created': { area: 'groups', when: 'a group was created (POST /groups)', data: GroupSchema },
  'group.updated': { area: 'groups', when: 'a group was changed (PATCH /groups/{id})', data: GroupSchema },
  'group.deleted': { area: 'groups', when: 'an empty group was deleted (DELETE /groups/{id})', data: DeletedSchema },
  'group.member_added': { area: 'groups', when: 'a receiver joined a group', data: MembershipSchema },
  'group.member_removed': { area: 'groups', when: 'a receiver left a group', data: MembershipRemovedSchema },
  'event.created': { area: 'events', when: 'a release event was ingested (POST /events)', data: EventSchema },
  'user.created': { area: 'users', when: 'a user was created (POST /users, or the bootstrap admin)', data: UserSchema },
  'user.updated': { area: 'users', when: 'a user was changed: roles, password, disabled (PATCH /users/{id})', data: UserSchema },
  'user.deleted': { area: 'users', when: 'a user was deleted (DELETE /users/{id})', data: DeletedSchema },
  'apikey.created': { area: 'apikeys', when: 'an API key was issued (its metadata: never the key)', data: ApiKeySchema },
  'apikey.revoked': { area: 'apikeys', when: 'an API key was revoked (DELETE /api-keys/{id})', data: ApiKeySchema },
} as const satisfies Record<string, EventTypeSpec>;

export type SwitchyardEventType = keyof typeof EVENT_TYPES;

/** The event type of each change a store makes, by entity and change. */
const TYPE_OF_CHANGE: Record<string, Partial<Record<ChangeKind, SwitchyardEventType>>> = {
  Receiver: { created: 'receiver.created', updated: 'receiver.updated', deleted: 'receiver.deleted' },
  Group: { created: 'group.created', updated: 'group.updated', deleted: 'group.deleted' },
  Membership: { created: 'group.member_added', deleted: 'group.member_removed' },
  Event: { created: 'event.created' },
  User: { created: 'user.created', updated: 'user.updated', deleted: 'user.deleted' },
  ApiKey: { created: 'apikey.created', deleted: 'apikey.revoked' },
};

/** The event type of a change; a change no event type covers is a programming error, and is not written. */
export function eventTypeOf(entity: string, change: ChangeKind): SwitchyardEventType {
  const type = TYPE_OF_CHANGE[entity]?.[change];
  if (!type) throw new Error(`No event type for ${entity} ${change}: add it to shared/events/catalog.ts before writing such a change`);
  return type;
}
