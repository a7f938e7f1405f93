/**
 * Every CloudEvent Switchyard emits (DESIGN.md §5): its type, the area that
 * emits it (`source` = `switchyard/<area>`; on the bus `switchyard.<area>`),
 * when, and the schema of its `data`. The write path (TableStore.commit)
 * builds each change's event from here, and `npm run openapi` generates
 * docs/events.md from it, so the list cannot drift from the code.
 *
 * The write path keeps to the zod-free field lists of ./types.ts (so the
 * authorizer's bundle stays without zod); tests/unit/events holds each
 * list to its schema here.
 */
import * as z from 'zod';
import { EVENT_TYPE_FIELDS, type SwitchyardEventType } from './types.js';
import {
  ApiKeySchema,
  ConfigurationSchema,
  ConfigurationVersionSchema,
  EventSchema,
  GroupSchema,
  MembershipSchema,
  ReceiverSchema,
  UserSchema,
  WebhookSubscriptionSchema,
  EdgeEventSchema,
  EdgeHealthEventSchema,
  DeploymentEventSchema,
} from '../api/schemas.js';

/** The data of a `*.deleted` event: the entity is gone, its id remains. */
export const DeletedSchema = z.object({ id: z.string() }).meta({ id: 'Deleted' });

/** The data of `group.member_removed`: the membership is gone, so when it was added is not known any more. */
export const MembershipRemovedSchema = z
  .object({ groupId: z.uuid(), receiverId: z.uuid(), removedAt: z.iso.datetime({ offset: true }) })
  .meta({ id: 'MembershipRemoved' });

/** The data of `configuration.approved`: the version without its content and schema (read them at GET …/versions/{v}). */
export const ConfigurationApprovalSchema = ConfigurationVersionSchema.omit({ content: true, schema: true })
  .required({ approvedBy: true, approvedAt: true })
  .meta({ id: 'ConfigurationApproval' });

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
  'subscription.created': {
    area: 'webhooks',
    when: 'a webhook subscription was created (never its secret)',
    data: WebhookSubscriptionSchema,
  },
  'subscription.updated': {
    area: 'webhooks',
    when: "a subscription's url, eventTypes or description changed (PATCH /webhooks/subscriptions/{id})",
    data: WebhookSubscriptionSchema,
  },
  'subscription.enabled': { area: 'webhooks', when: 'a disabled subscription was enabled again', data: WebhookSubscriptionSchema },
  'subscription.disabled': {
    area: 'webhooks',
    when: 'a subscription was disabled: by an administrator, on 410 Gone, or automatically after its deliveries kept failing (`disabledReason`)',
    data: WebhookSubscriptionSchema,
  },
  'subscription.secret_rotated': {
    area: 'webhooks',
    when: "a subscription's signing secret was rotated (never the secret)",
    data: WebhookSubscriptionSchema,
  },
  'subscription.deleted': { area: 'webhooks', when: 'a subscription was deleted', data: DeletedSchema },
  // ---- edge locations (issue 10) ----
  'edge.created': { area: 'edges', when: 'an edge location was registered (POST /edge-locations; never its key)', data: EdgeEventSchema },
  'edge.updated': { area: 'edges', when: 'an edge location was changed (PATCH /edge-locations/{id})', data: EdgeEventSchema },
  'edge.deleted': { area: 'edges', when: 'an edge location was deleted; its key stopped working', data: DeletedSchema },
  'edge.unhealthy': {
    area: 'edges',
    when: 'an edge that reported missed three heartbeat intervals (emitted by the scheduled edge-health job, not by a request)',
    data: EdgeHealthEventSchema,
  },
  'edge.healthy': {
    area: 'edges',
    when: 'an unhealthy edge reported again (emitted by the scheduled edge-health job; an edge’s first report emits nothing)',
    data: EdgeHealthEventSchema,
  },
  // ---- rollouts (issue 10): configurations ----
  'configuration.created': {
    area: 'configurations',
    when: 'a configuration was created with its version 1 (POST /configurations)',
    data: ConfigurationSchema,
  },
  'configuration.version_created': {
    area: 'configurations',
    when: 'a configuration got version n+1 (PUT /configurations/{id}); `latestVersion` is the new one',
    data: ConfigurationSchema,
  },
  'configuration.approved': {
    area: 'configurations',
    when: 'a configuration version was approved by an operator other than its author (it may now be deployed)',
    data: ConfigurationApprovalSchema,
  },
  'configuration.deleted': {
    area: 'configurations',
    when: 'a configuration with no approved version was deleted, with its versions',
    data: DeletedSchema,
  },
  // ---- rollouts (issue 10): deployments ----
  'deployment.created': {
    area: 'deployments',
    when: 'a deployment was accepted (POST /deployments): PENDING, its edges held against other deployments',
    data: DeploymentEventSchema,
  },
  'deployment.started': { area: 'deployments', when: 'the rollout execution began: IN_PROGRESS', data: DeploymentEventSchema },
  'deployment.stage_applied': {
    area: 'deployments',
    when: "a stage's version and weight were set on its edges; its bake began",
    data: DeploymentEventSchema,
  },
  'deployment.waiting_approval': {
    area: 'deployments',
    when: "the rollout reached a stage's approval gate: WAITING_APPROVAL",
    data: DeploymentEventSchema,
  },
  'deployment.approved': {
    area: 'deployments',
    when: "an operator approved a stage's approval gate; `decision` says who",
    data: DeploymentEventSchema,
  },
  'deployment.stage_completed': {
    area: 'deployments',
    when: 'a stage passed its evaluation (`decision` holds the verdict and its metrics); the next stage follows',
    data: DeploymentEventSchema,
  },
  'deployment.promoted': {
    area: 'deployments',
    when: 'an operator promoted the deployment: the gate approved or the rest of the bake skipped (`decision`)',
    data: DeploymentEventSchema,
  },
  'deployment.paused': {
    area: 'deployments',
    when: 'an operator paused the deployment: no further stage is applied until resume',
    data: DeploymentEventSchema,
  },
  'deployment.resumed': { area: 'deployments', when: 'an operator resumed a paused deployment', data: DeploymentEventSchema },
  'deployment.succeeded': {
    area: 'deployments',
    when: 'the last stage passed: SUCCEEDED; the edges are free for other deployments',
    data: DeploymentEventSchema,
  },
  'deployment.rolling_back': {
    area: 'deployments',
    when: 'a stage failed its evaluation or an operator asked for a rollback (`decision`, `rollbackReason`): ROLLING_BACK',
    data: DeploymentEventSchema,
  },
  'deployment.rolled_back': {
    area: 'deployments',
    when: 'every touched edge was restored to its previous version and weight: ROLLED_BACK; the edges are free',
    data: DeploymentEventSchema,
  },
  'deployment.failed': {
    area: 'deployments',
    when: 'the rollback itself failed (`rollbackReason`): FAILED, for an operator to look at; the edges are free',
    data: DeploymentEventSchema,
  },
} as const satisfies Record<SwitchyardEventType, EventTypeSpec>;

/** Areas agree with the write path's table (./types.ts); a test holds their fields to the same list. */
for (const [type, spec] of Object.entries(EVENT_TYPES)) {
  if (EVENT_TYPE_FIELDS[type as SwitchyardEventType].area !== spec.area)
    throw new Error(`${type}: area differs from shared/events/types.ts`);
}

export type { SwitchyardEventType };
