/**
 * Single-table layout (DESIGN.md §3). Entity data lives under `data`; the
 * top level holds keys, the entity `type` and the optimistic-lock `version`.
 *
 * | item       | pk             | sk              | gsi1pk                 | gsi1sk                | gsi2pk    | gsi2sk             |
 * |------------|----------------|-----------------|------------------------|-----------------------|-----------|--------------------|
 * | receiver   | RECEIVER#id    | RECEIVER        |                        |                       | RECEIVERS | createdAt#id       |
 * | group      | GROUP#id       | GROUP           |                        |                       | GROUPS    | createdAt#id       |
 * | membership | GROUP#gid      | MEMBER#rid      | RECEIVER#rid#GROUPS    | addedAt#gid           |           |                    |
 * | event      | EVENT#id       | EVENT           | RECEIVER#rid#EVENTS    | eventStart#id         | EVENTS    | eventStart#id      |
 *
 * Every list is a Query on a partition above, newest first.
 */
export const GSI1 = 'gsi1';
export const GSI2 = 'gsi2';

export const TABLE_KEY = ['pk', 'sk'] as const;
export const GSI1_KEY = ['pk', 'sk', 'gsi1pk', 'gsi1sk'] as const;
export const GSI2_KEY = ['pk', 'sk', 'gsi2pk', 'gsi2sk'] as const;

export const keys = {
  receiver: (id: string) => ({ pk: `RECEIVER#${id}`, sk: 'RECEIVER' }),
  receiversPartition: 'RECEIVERS',
  group: (id: string) => ({ pk: `GROUP#${id}`, sk: 'GROUP' }),
  groupsPartition: 'GROUPS',
  membership: (groupId: string, receiverId: string) => ({ pk: `GROUP#${groupId}`, sk: `MEMBER#${receiverId}` }),
  memberPrefix: 'MEMBER#',
  groupsOfReceiver: (receiverId: string) => `RECEIVER#${receiverId}#GROUPS`,
  event: (id: string) => ({ pk: `EVENT#${id}`, sk: 'EVENT' }),
  eventsOfReceiver: (receiverId: string) => `RECEIVER#${receiverId}#EVENTS`,
  eventsPartition: 'EVENTS',
  health: { pk: 'HEALTH', sk: 'HEALTH' },
};

/** Sort key suffix that sorts after every `<instant>#<uuid>` with the same instant prefix. */
export const SORT_HIGH = '#~';
