/**
 * Single-table layout (DESIGN.md §3). Entity data lives under `data`; the
 * top level holds keys, the entity `type` and the optimistic-lock `version`.
 *
 * | item         | pk              | sk             | gsi1pk                      | gsi1sk        | gsi2pk        | gsi2sk        |
 * |--------------|-----------------|----------------|-----------------------------|---------------|---------------|---------------|
 * | receiver     | RECEIVER#id     | RECEIVER       |                             |               | RECEIVERS     | createdAt#id  |
 * | group        | GROUP#id        | GROUP          |                             |               | GROUPS        | createdAt#id  |
 * | membership   | GROUP#gid       | MEMBER#rid     | RECEIVER#rid#GROUPS         | addedAt#gid   |               |               |
 * | event        | EVENT#id        | EVENT          | RECEIVER#rid#EVENTS         | eventStart#id | EVENTS#n      | eventStart#id |
 * | user         | USER#id         | USER           |                             |               | USERS         | createdAt#id  |
 * | username     | USERNAME#name   | USERNAME       | (uniqueness guard)          |               |               |               |
 * | api key      | APIKEY#id       | APIKEY         |                             |               | APIKEYS       | createdAt#id  |
 * | key lookup   | APIKEYHASH#h    | APIKEYHASH     | (live keys only)            |               |               |               |
 * | session      | REFRESH#family  | REFRESH        | (TTL expiresAt)             |               |               |               |
 * | revoked jti  | REVOKED#jti     | REVOKED        | (TTL expiresAt)             |               |               |               |
 * | audit        | AUDIT#id        | AUDIT          | ACTOR#id#AUDIT              | at#id         | AUDIT#n       | at#id         |
 * | rate count   | RATE#bucket#t   | RATE           | (TTL expiresAt)             |               |               |               |
 * | outbox       | OUTBOX#eventId  | OUTBOX         | OUTBOX#PENDING#n            | time#eventId  |               |               |
 * | subscription | SUBSCRIPTION#id | SUBSCRIPTION   | (secrets sealed)            |               | SUBSCRIPTIONS | createdAt#id  |
 * | sub. health  | SUBSCRIPTION#id | HEALTH         | (counters, top level)       |               |               |               |
 * | delivery     | DELIVERY#id     | DELIVERY       | SUBSCRIPTION#sid#DELIVERIES | createdAt#id  | DELIVERIES#n  | createdAt#id  |
 * | attempt      | DELIVERY#id     | ATTEMPT#000001 | (TTL expiresAt)             |               |               |               |
 * | endpoint     | ENDPOINT#origin | ENDPOINT       | (circuit and leases)        |               |               |               |
 * | edge         | EDGE#id         | EDGE           | (last heartbeat, top level) |               | EDGES         | createdAt#id  |
 * | edge key     | EDGEKEYHASH#h   | EDGEKEYHASH    | (live edges only)           |               |               |               |
 * | heartbeat    | EDGE#id         | HB#at#uuid     | (TTL expiresAt)             |               |               |               |
 * | assignment   | EDGE#id         | ASSIGNMENT     | (written by rollouts)       |               |               |               |
 * | config.      | CONFIG#id       | CONFIG         | (approvedVersions counter)  |               | CONFIGS       | createdAt#id  |
 * | config. ver. | CONFIG#id       | VERSION#000001 | (immutable; approval once)  |               |               |               |
 * | deployment   | DEPLOYMENT#id   | DEPLOYMENT     | (≤ 500 edges: one item)     |               | DEPLOYMENTS   | createdAt#id  |
 * | active dep.  | DEPLOYMENTS#ACTIVE | id          | (edgeIds; while active)     |               |               |               |
 * | deploy. lock | DEPLOYMENTS#LOCK | LOCK          | (version: creates counter)  |               |               |               |
 *
 * Every list is a Query on a partition above, newest first. `EVENTS#n` and
 * `AUDIT#n` are write shards (n = shardOf(id) < LIST_SHARDS): every change
 * appends to them, and one partition would cap that at ~1 000 writes/s; their
 * lists are an ordered merge of all shards (./sharded-page.ts). `DELIVERIES#n`
 * shards the webhook deliveries the same way: every event fans out to them.
 * Deliveries and their attempts expire by TTL (`expiresAt`) 30 days after
 * the delivery was created.
 *
 * Heartbeats are an edge's bookkeeping, not changes: written directly (no
 * audit, no event), expiring by TTL 7 days after they were received; the
 * newest one is also kept on the edge item (top level, beside `data`) so an
 * edge's health is one read.
 *
 * One deployment per edge (DESIGN.md §6): each active deployment has a
 * marker in `DEPLOYMENTS#ACTIVE` (base table, so it is read with
 * ConsistentRead, which a GSI cannot give) holding its edges, deleted in the
 * same write that makes the deployment final. A create reads the lock's
 * `version`, then every marker, and commits its deployment, its marker and
 * the lock's version + 1 conditional on the version read: two creates that
 * read the same markers cannot both commit (./deployment-store.ts).
 *
 * An outbox item (one CloudEvent per change, DESIGN.md §5) is in the sparse
 * pending index (gsi1, sharded like the lists) until the relay has put it on
 * the bus; then it leaves the index and expires by TTL.
 */
import { shardOf } from './sharded-page.js';

/** Write shards of the events and audit lists. Changing it moves where list entries live: existing items stay in their old shards. */
export const LIST_SHARDS = 8;

const shardsOf = (base: string, shards: number) => Array.from({ length: shards }, (_, n) => `${base}#${n}`);

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
  eventsShard: (eventId: string, shards: number) => `EVENTS#${shardOf(eventId, shards)}`,
  eventsShards: (shards: number) => shardsOf('EVENTS', shards),
  health: { pk: 'HEALTH', sk: 'HEALTH' },
  user: (id: string) => ({ pk: `USER#${id}`, sk: 'USER' }),
  usersPartition: 'USERS',
  username: (username: string) => ({ pk: `USERNAME#${username.toLowerCase()}`, sk: 'USERNAME' }),
  apiKey: (id: string) => ({ pk: `APIKEY#${id}`, sk: 'APIKEY' }),
  apiKeysPartition: 'APIKEYS',
  apiKeyHash: (hash: string) => ({ pk: `APIKEYHASH#${hash}`, sk: 'APIKEYHASH' }),
  refreshFamily: (familyId: string) => ({ pk: `REFRESH#${familyId}`, sk: 'REFRESH' }),
  revokedJti: (jti: string) => ({ pk: `REVOKED#${jti}`, sk: 'REVOKED' }),
  audit: (id: string) => ({ pk: `AUDIT#${id}`, sk: 'AUDIT' }),
  auditShard: (auditId: string, shards: number) => `AUDIT#${shardOf(auditId, shards)}`,
  auditShards: (shards: number) => shardsOf('AUDIT', shards),
  auditOfActor: (actorId: string) => `ACTOR#${actorId}#AUDIT`,
  rate: (bucket: string, windowStart: number) => ({ pk: `RATE#${bucket}#${windowStart}`, sk: 'RATE' }),
  outbox: (eventId: string) => ({ pk: `OUTBOX#${eventId}`, sk: 'OUTBOX' }),
  outboxPendingShard: (eventId: string, shards: number) => `OUTBOX#PENDING#${shardOf(eventId, shards)}`,
  outboxPendingShards: (shards: number) => shardsOf('OUTBOX#PENDING', shards),
  subscription: (id: string) => ({ pk: `SUBSCRIPTION#${id}`, sk: 'SUBSCRIPTION' }),
  subscriptionsPartition: 'SUBSCRIPTIONS',
  subscriptionHealth: (id: string) => ({ pk: `SUBSCRIPTION#${id}`, sk: 'HEALTH' }),
  delivery: (id: string) => ({ pk: `DELIVERY#${id}`, sk: 'DELIVERY' }),
  deliveriesOfSubscription: (subscriptionId: string) => `SUBSCRIPTION#${subscriptionId}#DELIVERIES`,
  deliveriesShard: (deliveryId: string, shards: number) => `DELIVERIES#${shardOf(deliveryId, shards)}`,
  deliveriesShards: (shards: number) => shardsOf('DELIVERIES', shards),
  /** Zero-padded so the attempts of a delivery sort by number. */
  deliveryAttempt: (deliveryId: string, number: number) => ({
    pk: `DELIVERY#${deliveryId}`,
    sk: `ATTEMPT#${String(number).padStart(6, '0')}`,
  }),
  attemptPrefix: 'ATTEMPT#',
  /** One per endpointKey (an origin): its circuit breaker and in-flight leases. */
  endpoint: (endpointKey: string) => ({ pk: `ENDPOINT#${endpointKey}`, sk: 'ENDPOINT' }),
  // ---- edge locations (issue 10) ----
  edge: (id: string) => ({ pk: `EDGE#${id}`, sk: 'EDGE' }),
  edgesPartition: 'EDGES',
  edgeKeyHash: (hash: string) => ({ pk: `EDGEKEYHASH#${hash}`, sk: 'EDGEKEYHASH' }),
  /** Sorts by the time the heartbeat was received, then a uuid (two in one millisecond both stay). */
  heartbeat: (edgeId: string, at: string, id: string) => ({ pk: `EDGE#${edgeId}`, sk: `HB#${at}#${id}` }),
  heartbeatPrefix: 'HB#',
  edgeAssignment: (edgeId: string) => ({ pk: `EDGE#${edgeId}`, sk: 'ASSIGNMENT' }),
  // ---- rollouts (issue 10): configurations ----
  configuration: (id: string) => ({ pk: `CONFIG#${id}`, sk: 'CONFIG' }),
  configurationsPartition: 'CONFIGS',
  /** Zero-padded so a configuration's versions sort by number. */
  configurationVersion: (configurationId: string, version: number) => ({
    pk: `CONFIG#${configurationId}`,
    sk: `VERSION#${String(version).padStart(6, '0')}`,
  }),
  configurationVersionPrefix: 'VERSION#',
  // ---- rollouts (issue 10): deployments ----
  deployment: (id: string) => ({ pk: `DEPLOYMENT#${id}`, sk: 'DEPLOYMENT' }),
  deploymentsPartition: 'DEPLOYMENTS',
  /** Base-table partition (read consistently) of the markers of the deployments that hold edges. */
  activeDeploymentsPartition: 'DEPLOYMENTS#ACTIVE',
  activeDeployment: (id: string) => ({ pk: 'DEPLOYMENTS#ACTIVE', sk: id }),
  /** Its `version` counts the deployments created; every create is conditional on the one it read. */
  deploymentsLock: { pk: 'DEPLOYMENTS#LOCK', sk: 'LOCK' },
  /** Powertools idempotency records share the table under this partition. */
  idempotencyPartition: 'IDEMPOTENCY',
};

/** Sort key suffix that sorts after every `<instant>#<uuid>` with the same instant prefix. */
export const SORT_HIGH = '#~';

/** The sort-key bounds (for BETWEEN, both inclusive) of an edge's heartbeats received from `from` to `to`, each inclusive; absent: open. */
export function heartbeatRange(from?: string, to?: string): { low: string; high: string } {
  return {
    low: `${keys.heartbeatPrefix}${from ?? ''}`,
    high: to === undefined ? `${keys.heartbeatPrefix}~` : `${keys.heartbeatPrefix}${to}${SORT_HIGH}`,
  };
}
