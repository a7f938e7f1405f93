/**
 * The event types and what each one's `data` may carry, without zod: the
 * write path (TableStore.commit) needs only this, and functions that never
 * write (the authorizer) stay free of the schema library. The schemas that
 * describe each type's data for the docs live in ./catalog.ts, and a test
 * holds the two to the same fields.
 */

/**
 * What a change did to its entity; `enabled`, `disabled` and `secret_rotated`
 * are the subscription state changes that have their own event types,
 * `approved` a configuration version's approval, `unhealthy` and `healthy`
 * an edge's health as the edge-health job records it.
 */
export type ChangeKind =
  | 'created'
  | 'updated'
  | 'deleted'
  | 'enabled'
  | 'disabled'
  | 'secret_rotated'
  // ---- rollouts (issue 10): configurations ----
  | 'approved'
  // ---- edge health (the edge-health job) ----
  | 'unhealthy'
  | 'healthy'
  // ---- rollouts (issue 10): deployments (created is `created`) ----
  | 'started'
  | 'stage_applied'
  | 'waiting_approval'
  | 'stage_completed'
  | 'promoted'
  | 'paused'
  | 'resumed'
  | 'succeeded'
  | 'rolling_back'
  | 'rolled_back'
  | 'failed';

const RECEIVER = ['id', 'name', 'type', 'version', 'description', 'schema', 'revision', 'createdAt', 'updatedAt'] as const;
const GROUP = ['id', 'name', 'description', 'enabled', 'memberCount', 'revision', 'createdAt', 'updatedAt'] as const;
const MEMBERSHIP = ['groupId', 'receiverId', 'addedAt'] as const;
const MEMBERSHIP_REMOVED = ['groupId', 'receiverId', 'removedAt'] as const;
const EVENT = [
  'id',
  'receiverId',
  'name',
  'version',
  'release',
  'platformId',
  'package',
  'description',
  'payload',
  'success',
  'eventStart',
  'eventEnd',
  'createdAt',
] as const;
const USER = ['id', 'username', 'roles', 'disabled', 'revision', 'createdAt', 'updatedAt'] as const;
const API_KEY = ['id', 'name', 'role', 'prefix', 'createdAt', 'createdBy', 'revokedAt'] as const;
const SUBSCRIPTION = [
  'id',
  'url',
  'eventTypes',
  'description',
  'enabled',
  'disabledReason',
  'disabledAt',
  'revision',
  'createdAt',
  'updatedAt',
] as const;
// ---- rollouts (issue 10): configurations ----
const CONFIGURATION = ['id', 'name', 'description', 'latestVersion', 'schema', 'createdBy', 'revision', 'createdAt', 'updatedAt'] as const;
/** A version's approval: never its content (up to 256 KiB; read it at GET …/versions/{v}). */
const CONFIGURATION_APPROVAL = ['configurationId', 'version', 'author', 'createdAt', 'approvedBy', 'approvedAt'] as const;
/**
 * A deployment's summary and the transition's decision: never the stages'
 * edge lists nor `previous` (up to 500 edges each: the record is read at GET
 * /deployments/{id}), and never the approval task token (it must not leave
 * the record: whoever holds it can answer the execution's gate).
 */
const DEPLOYMENT = [
  'id',
  'configurationId',
  'version',
  'strategy',
  'status',
  'currentStage',
  'decision',
  'rollbackReason',
  'executionArn',
  'attempt',
  'createdBy',
  'createdAt',
  'updatedAt',
  'startedAt',
  'finishedAt',
  'revision',
] as const;
const DELETED = ['id'] as const;
// ---- edge locations (issue 10) ----
/** Never the edge key (it is not on the entity) nor the heartbeat figures. */
const EDGE = ['id', 'name', 'region', 'continent', 'tags', 'revision', 'createdAt', 'updatedAt'] as const;
const EDGE_HEALTH = ['id', 'name', 'region', 'health', 'lastHeartbeatAt'] as const;

/** Each event type: the area that emits it (`source` = `switchyard/<area>`) and the only fields its `data` carries. */
export const EVENT_TYPE_FIELDS = {
  'receiver.created': { area: 'receivers', fields: RECEIVER },
  'receiver.updated': { area: 'receivers', fields: RECEIVER },
  'receiver.deleted': { area: 'receivers', fields: DELETED },
  'group.created': { area: 'groups', fields: GROUP },
  'group.updated': { area: 'groups', fields: GROUP },
  'group.deleted': { area: 'groups', fields: DELETED },
  'group.member_added': { area: 'groups', fields: MEMBERSHIP },
  'group.member_removed': { area: 'groups', fields: MEMBERSHIP_REMOVED },
  'event.created': { area: 'events', fields: EVENT },
  'user.created': { area: 'users', fields: USER },
  'user.updated': { area: 'users', fields: USER },
  'user.deleted': { area: 'users', fields: DELETED },
  'apikey.created': { area: 'apikeys', fields: API_KEY },
  'apikey.revoked': { area: 'apikeys', fields: API_KEY },
  'subscription.created': { area: 'webhooks', fields: SUBSCRIPTION },
  'subscription.updated': { area: 'webhooks', fields: SUBSCRIPTION },
  'subscription.enabled': { area: 'webhooks', fields: SUBSCRIPTION },
  'subscription.disabled': { area: 'webhooks', fields: SUBSCRIPTION },
  'subscription.secret_rotated': { area: 'webhooks', fields: SUBSCRIPTION },
  'subscription.deleted': { area: 'webhooks', fields: DELETED },
  // ---- edge locations (issue 10) ----
  'edge.created': { area: 'edges', fields: EDGE },
  'edge.updated': { area: 'edges', fields: EDGE },
  'edge.deleted': { area: 'edges', fields: DELETED },
  // Health transitions, recorded by the scheduled edge-health job (functions/edge-health).
  'edge.unhealthy': { area: 'edges', fields: EDGE_HEALTH },
  'edge.healthy': { area: 'edges', fields: EDGE_HEALTH },
  // ---- rollouts (issue 10): configurations ----
  'configuration.created': { area: 'configurations', fields: CONFIGURATION },
  'configuration.version_created': { area: 'configurations', fields: CONFIGURATION },
  'configuration.approved': { area: 'configurations', fields: CONFIGURATION_APPROVAL },
  'configuration.deleted': { area: 'configurations', fields: DELETED },
  // ---- rollouts (issue 10): deployments ----
  'deployment.created': { area: 'deployments', fields: DEPLOYMENT },
  'deployment.started': { area: 'deployments', fields: DEPLOYMENT },
  'deployment.stage_applied': { area: 'deployments', fields: DEPLOYMENT },
  'deployment.waiting_approval': { area: 'deployments', fields: DEPLOYMENT },
  'deployment.approved': { area: 'deployments', fields: DEPLOYMENT },
  'deployment.stage_completed': { area: 'deployments', fields: DEPLOYMENT },
  'deployment.promoted': { area: 'deployments', fields: DEPLOYMENT },
  'deployment.paused': { area: 'deployments', fields: DEPLOYMENT },
  'deployment.resumed': { area: 'deployments', fields: DEPLOYMENT },
  'deployment.succeeded': { area: 'deployments', fields: DEPLOYMENT },
  'deployment.rolling_back': { area: 'deployments', fields: DEPLOYMENT },
  'deployment.rolled_back': { area: 'deployments', fields: DEPLOYMENT },
  'deployment.failed': { area: 'deployments', fields: DEPLOYMENT },
} as const satisfies Record<string, { area: string; fields: readonly string[] }>;

export type SwitchyardEventType = keyof typeof EVENT_TYPE_FIELDS;

/** The event type of each change a store makes, by entity and change. */
const TYPE_OF_CHANGE: Record<string, Partial<Record<ChangeKind, SwitchyardEventType>>> = {
  Receiver: { created: 'receiver.created', updated: 'receiver.updated', deleted: 'receiver.deleted' },
  Group: { created: 'group.created', updated: 'group.updated', deleted: 'group.deleted' },
  Membership: { created: 'group.member_added', deleted: 'group.member_removed' },
  Event: { created: 'event.created' },
  User: { created: 'user.created', updated: 'user.updated', deleted: 'user.deleted' },
  ApiKey: { created: 'apikey.created', deleted: 'apikey.revoked' },
  WebhookSubscription: {
    created: 'subscription.created',
    updated: 'subscription.updated',
    enabled: 'subscription.enabled',
    disabled: 'subscription.disabled',
    secret_rotated: 'subscription.secret_rotated',
    deleted: 'subscription.deleted',
  },
  // ---- edge locations (issue 10) ----
  EdgeLocation: {
    created: 'edge.created',
    updated: 'edge.updated',
    deleted: 'edge.deleted',
    unhealthy: 'edge.unhealthy',
    healthy: 'edge.healthy',
  },
  // ---- rollouts (issue 10): configurations ----
  /** A new version is an update of the configuration (PUT makes version n+1). */
  Configuration: { created: 'configuration.created', updated: 'configuration.version_created', deleted: 'configuration.deleted' },
  ConfigurationVersion: { approved: 'configuration.approved' },
  // ---- rollouts (issue 10): deployments ----
  /** Each kind is the suffix of its `deployment.*` type (shared/domain/deployments.ts DeploymentEventType). */
  Deployment: {
    created: 'deployment.created',
    started: 'deployment.started',
    stage_applied: 'deployment.stage_applied',
    waiting_approval: 'deployment.waiting_approval',
    approved: 'deployment.approved',
    stage_completed: 'deployment.stage_completed',
    promoted: 'deployment.promoted',
    paused: 'deployment.paused',
    resumed: 'deployment.resumed',
    succeeded: 'deployment.succeeded',
    rolling_back: 'deployment.rolling_back',
    rolled_back: 'deployment.rolled_back',
    failed: 'deployment.failed',
  },
};

/** The event type of a change; a change no event type covers is a programming error, and is not written. */
export function eventTypeOf(entity: string, change: ChangeKind): SwitchyardEventType {
  const type = TYPE_OF_CHANGE[entity]?.[change];
  if (!type) throw new Error(`No event type for ${entity} ${change}: add it to shared/events/types.ts before writing such a change`);
  return type;
}

/** The public part of an entity for an event of this type: its listed fields only (a password hash or key hash never rides along). */
export function eventData(type: SwitchyardEventType, entity: unknown): Record<string, unknown> {
  const source = (entity ?? {}) as Record<string, unknown>;
  const data: Record<string, unknown> = {};
  for (const field of EVENT_TYPE_FIELDS[type].fields) if (source[field] !== undefined) data[field] = source[field];
  return data;
}
