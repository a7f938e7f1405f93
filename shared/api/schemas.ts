/**
 * The API's zod schemas: the handlers parse with them and docs/openapi.json is
 * generated from them (`npm run openapi`). Request objects are strict: an
 * unknown field is a 400, not silently dropped.
 */
import * as z from 'zod';

const text = (max: number) => z.string().trim().min(1).max(max);
const instant = z.iso.datetime({ offset: true }).meta({ description: 'ISO 8601 date-time', example: '2026-11-23T10:00:00Z' });

export const IdParams = z.strictObject({ id: z.uuid() });
export const GroupMemberParams = z.strictObject({ id: z.uuid(), receiverId: z.uuid() });

export const PageQuery = z.strictObject({
  limit: z.coerce.number().int().min(1).max(100).default(20).meta({ description: 'Page size (1–100)' }),
  cursor: z.string().min(1).max(2048).optional().meta({ description: 'The nextCursor of the previous page' }),
});

export const RevisionQuery = z.strictObject({
  revision: z.coerce.number().int().min(1).optional().meta({ description: 'Revision being deleted (or send If-Match)' }),
});

const revision = z.number().int().min(1).meta({ description: 'Optimistic-lock revision; also the ETag' });

const jsonObject = z.record(z.string(), z.unknown());

export const ProblemSchema = z
  .object({
    type: z.string(),
    title: z.string(),
    status: z.number().int(),
    detail: z.string(),
    code: z.string(),
    errors: z.array(z.object({ path: z.string(), message: z.string() })).optional(),
    requestId: z.string(),
  })
  .meta({ id: 'Problem', description: 'RFC 9457 problem details' });

// ---- receivers --------------------------------------------------------------

export const CreateReceiverBody = z
  .strictObject({
    name: text(255),
    type: text(100).meta({ example: 'ci.pipeline' }),
    version: text(100).meta({ example: '1.0.0' }),
    description: z.string().max(2000).optional(),
    schema: jsonObject.meta({ description: 'JSON Schema (2020-12) every event payload must satisfy' }),
  })
  .meta({ id: 'CreateReceiver' });

export const UpdateReceiverBody = z
  .strictObject({
    revision: revision.optional(),
    name: text(255).optional(),
    type: text(100).optional(),
    version: text(100).optional(),
    description: z.string().max(2000).optional(),
    schema: jsonObject.optional(),
  })
  .refine((b) => Object.keys(b).some((k) => k !== 'revision'), { message: 'Change at least one field' })
  .meta({ id: 'UpdateReceiver' });

export const ReceiverQuery = PageQuery.extend({
  name: z.string().min(1).max(255).optional(),
  type: z.string().min(1).max(100).optional(),
});

export const ReceiverSchema = z
  .object({
    id: z.uuid(),
    name: z.string(),
    type: z.string(),
    version: z.string(),
    description: z.string(),
    schema: jsonObject,
    revision,
    createdAt: instant,
    updatedAt: instant,
  })
  .meta({ id: 'Receiver' });

// ---- groups -----------------------------------------------------------------

export const CreateGroupBody = z
  .strictObject({
    name: text(255),
    description: z.string().max(2000).optional(),
    enabled: z.boolean().optional(),
    receiverIds: z.array(z.uuid()).max(25).optional(),
  })
  .meta({ id: 'CreateGroup' });

export const UpdateGroupBody = z
  .strictObject({
    revision: revision.optional(),
    name: text(255).optional(),
    description: z.string().max(2000).optional(),
    enabled: z.boolean().optional(),
  })
  .refine((b) => Object.keys(b).some((k) => k !== 'revision'), { message: 'Change at least one field' })
  .meta({ id: 'UpdateGroup' });

export const GroupSchema = z
  .object({
    id: z.uuid(),
    name: z.string(),
    description: z.string(),
    enabled: z.boolean(),
    memberCount: z.number().int(),
    revision,
    createdAt: instant,
    updatedAt: instant,
  })
  .meta({ id: 'Group' });

export const MembershipSchema = z.object({ groupId: z.uuid(), receiverId: z.uuid(), addedAt: instant }).meta({ id: 'Membership' });

// ---- events -----------------------------------------------------------------

export const CreateEventBody = z
  .strictObject({
    receiverId: z.uuid(),
    name: text(255),
    version: text(100),
    release: text(100),
    platformId: text(255),
    package: text(255),
    description: z.string().max(2000).optional(),
    payload: jsonObject.optional().meta({ description: "Validated against the receiver's schema" }),
    success: z.boolean(),
    eventStart: instant,
    eventEnd: instant,
  })
  .meta({ id: 'CreateEvent' });

/**
 * A structured CloudEvent 1.0 (`Content-Type: application/cloudevents+json`). The
 * envelope is checked further by the CloudEvents SDK (shared/domain/cloudevents.ts).
 * Extension attributes are kept; `receiverid` names the receiver.
 */
export const CloudEventBody = z
  .looseObject({
    specversion: z.string().min(1).meta({ description: 'CloudEvents version: 1.0', example: '1.0' }),
    id: z.string().min(1).meta({ description: 'Unique per source; a redelivery (same source and id) answers the first event' }),
    source: z.string().min(1).meta({ description: 'URI-reference of the producer', example: 'https://ci.example/pipelines/api' }),
    type: z.string().min(1).meta({
      description:
        'Any type: data is the release event. `dev.cdevents.<subject>.<predicate>.<version>`: data is a CDEvents 0.5 event (see docs/api.md for the supported types)',
      example: 'com.example.release.finished',
    }),
    receiverid: z.uuid().optional().meta({ description: 'Extension attribute: the receiver the event is for' }),
    time: instant.optional().meta({ description: 'When it happened; the default of eventStart / eventEnd' }),
    subject: z.string().optional(),
    datacontenttype: z.string().optional().meta({ description: 'application/json if present' }),
    dataschema: z.string().optional(),
    data: jsonObject.meta({
      description:
        'The release event (the application/json body; receiverId may be the receiverid attribute instead, eventStart/eventEnd default to time), or a CDEvent (context, subject, customData)',
    }),
  })
  .meta({ id: 'CloudEvent', description: 'A structured-mode CloudEvent 1.0 whose data is a release event or a CDEvent 0.5' });

export type CloudEventBodyType = z.output<typeof CloudEventBody>;

/** The body is a structured CloudEvent (it came as application/cloudevents+json). */
export const isCloudEventBody = (body: z.output<typeof CreateEventBody> | CloudEventBodyType): body is CloudEventBodyType =>
  'specversion' in body;

const booleanText = z.enum(['true', 'false']).transform((v) => v === 'true');

export const EventQuery = PageQuery.extend({
  receiverId: z.uuid().optional(),
  name: z.string().min(1).max(255).optional(),
  success: booleanText.optional(),
  platformId: z.string().min(1).max(255).optional(),
  package: z.string().min(1).max(255).optional(),
  from: instant.optional().meta({ description: 'Earliest eventStart (inclusive)' }),
  to: instant.optional().meta({ description: 'Latest eventStart (inclusive)' }),
});

export const EventSchema = z
  .object({
    id: z.uuid(),
    receiverId: z.uuid(),
    name: z.string(),
    version: z.string(),
    release: z.string(),
    platformId: z.string(),
    package: z.string(),
    description: z.string(),
    payload: jsonObject,
    success: z.boolean(),
    eventStart: instant,
    eventEnd: instant,
    createdAt: instant,
  })
  .meta({ id: 'Event' });

// ---- pages and health ---------------------------------------------------------

export const pageOf = <T extends z.ZodType>(item: T, id: string) =>
  z.object({ items: z.array(item), nextCursor: z.string().optional() }).meta({ id });

export const HealthSchema = z
  .object({
    status: z.enum(['ok', 'degraded', 'unavailable']),
    service: z.string(),
    version: z.string(),
    checks: z
      .record(z.string(), z.object({ status: z.enum(['ok', 'unavailable']), responseTimeMs: z.number(), message: z.string().optional() }))
      .optional(),
  })
  .meta({ id: 'Health' });

// ---- auth, users, API keys, audit ----------------------------------------------

const role = z.enum(['viewer', 'developer', 'operator', 'admin']);
const username = z
  .string()
  .min(3)
  .max(64)
  .regex(/^[a-zA-Z0-9._-]+$/, 'letters, digits, dot, dash and underscore only');
const password = z.string().min(12, 'at least 12 characters').max(256);

export const LoginBody = z
  .strictObject({ username: z.string().min(1).max(64), password: z.string().min(1).max(256) })
  .meta({ id: 'Login' });
export const RefreshBody = z.strictObject({ refreshToken: z.string().min(1).max(512) }).meta({ id: 'Refresh' });
export const LogoutBody = z.strictObject({ refreshToken: z.string().min(1).max(512).optional() }).meta({ id: 'Logout' });

export const TokenPairSchema = z
  .object({
    accessToken: z.string(),
    refreshToken: z.string(),
    expiresIn: z.number().int().meta({ description: 'Seconds until the access token expires' }),
    tokenType: z.literal('Bearer'),
  })
  .meta({ id: 'TokenPair' });

export const JwksSchema = z
  .object({ keys: z.array(z.record(z.string(), z.unknown())) })
  .meta({ id: 'JWKS', description: 'RFC 7517 JSON Web Key Set of the token signing keys' });

export const CreateUserBody = z.strictObject({ username, password, roles: z.array(role).min(1).max(4) }).meta({ id: 'CreateUser' });
export const UpdateUserBody = z
  .strictObject({
    revision: revision.optional(),
    roles: z.array(role).min(1).max(4).optional(),
    password: password.optional(),
    disabled: z.boolean().optional(),
  })
  .refine((b) => Object.keys(b).some((k) => k !== 'revision'), { message: 'Change at least one field' })
  .meta({ id: 'UpdateUser' });
export const UserSchema = z
  .object({
    id: z.uuid(),
    username: z.string(),
    roles: z.array(role),
    disabled: z.boolean(),
    revision,
    createdAt: instant,
    updatedAt: instant,
  })
  .meta({ id: 'User' });

export const CreateApiKeyBody = z.strictObject({ name: text(100), role }).meta({ id: 'CreateApiKey' });
export const ApiKeySchema = z
  .object({
    id: z.uuid(),
    name: z.string(),
    role,
    prefix: z.string().meta({ description: 'First characters of the key, to tell keys apart' }),
    createdAt: instant,
    createdBy: z.string(),
    revokedAt: instant.optional(),
  })
  .meta({ id: 'ApiKey' });
export const CreatedApiKeySchema = ApiKeySchema.extend({
  key: z.string().meta({ description: 'The key itself: shown once, send it as X-API-Key' }),
}).meta({ id: 'CreatedApiKey' });

export const AuditQuery = PageQuery.extend({
  actorId: z.string().min(1).max(200).optional(),
  action: z.string().min(1).max(100).optional(),
  from: instant.optional(),
  to: instant.optional(),
});
export const AuditRecordSchema = z
  .object({
    id: z.uuid(),
    at: instant,
    actor: z.object({ id: z.string(), kind: z.string(), name: z.string() }),
    action: z.string().meta({ description: 'operationId of the write' }),
    method: z.string(),
    path: z.string(),
    status: z.number().int(),
    requestId: z.string(),
    sourceIp: z.string(),
    resourceId: z.string().optional(),
  })
  .meta({ id: 'AuditRecord' });

// ---- webhooks -------------------------------------------------------------------
// Shapes only; the rules (known event types, the SSRF guard, limits) are
// shared/domain/webhooks.ts's, so they hold for every caller.

const eventTypePattern = z
  .string()
  .min(1)
  .max(200)
  .meta({ description: 'An event type (`deployment.rolled_back`), every type of an area (`deployment.*`) or `*`' });
const webhookUrl = z
  .url({ protocol: /^https?$/ })
  .max(2048)
  .meta({ description: 'https in a deployed stack; checked by the SSRF guard' });

export const CreateWebhookSubscriptionBody = z
  .strictObject({
    url: webhookUrl,
    eventTypes: z.array(eventTypePattern).min(1).max(50),
    description: z.string().max(2000).optional(),
    enabled: z.boolean().optional(),
  })
  .meta({ id: 'CreateWebhookSubscription' });

export const UpdateWebhookSubscriptionBody = z
  .strictObject({
    revision: revision.optional(),
    url: webhookUrl.optional(),
    eventTypes: z.array(eventTypePattern).min(1).max(50).optional(),
    description: z.string().max(2000).optional(),
  })
  .refine((b) => Object.keys(b).some((k) => k !== 'revision'), { message: 'Change at least one field' })
  .meta({ id: 'UpdateWebhookSubscription' });

/** enable, disable and test take an optional revision; rotate-secret also the overlap. */
export const SubscriptionActionBody = z.strictObject({ revision: revision.optional() }).meta({ id: 'WebhookSubscriptionAction' });
export const RotateSecretBody = z
  .strictObject({
    revision: revision.optional(),
    overlapSeconds: z
      .number()
      .int()
      .min(0)
      .max(7 * 24 * 3600)
      .optional()
      .meta({ description: 'How long the previous secrets keep signing beside the new one (default 86400)' }),
  })
  .meta({ id: 'RotateWebhookSecret' });

export const WebhookSubscriptionQuery = PageQuery.extend({ enabled: booleanText.optional() });

const disableReason = z.enum(['manual', 'endpoint-gone', 'failing-too-long', 'too-many-failed-deliveries']);

export const WebhookSubscriptionSchema = z
  .object({
    id: z.uuid(),
    url: z.string(),
    eventTypes: z.array(z.string()),
    description: z.string(),
    enabled: z.boolean(),
    disabledReason: disableReason.optional(),
    disabledAt: instant.optional(),
    revision,
    createdAt: instant,
    updatedAt: instant,
  })
  .meta({ id: 'WebhookSubscription' });

export const CreatedWebhookSubscriptionSchema = WebhookSubscriptionSchema.extend({
  secret: z.string().meta({ description: '`whsec_…`: shown once; verify deliveries with it (Standard Webhooks)' }),
}).meta({ id: 'CreatedWebhookSubscription' });

export const RotatedWebhookSecretSchema = CreatedWebhookSubscriptionSchema.extend({
  previousSecretsExpireAt: instant.meta({ description: 'Until then deliveries carry a signature by the previous secret too' }),
}).meta({ id: 'RotatedWebhookSecret' });

const deliveryStatus = z.enum(['PENDING', 'SENDING', 'DELIVERED', 'RETRYING', 'FAILED']);

export const WebhookDeliveryQuery = PageQuery.extend({
  subscriptionId: z.uuid().optional(),
  status: deliveryStatus.optional(),
  eventType: z.string().min(1).max(200).optional(),
});

export const DeliveryAttemptSchema = z
  .object({
    number: z.number().int().min(1),
    run: z.number().int().min(1).meta({ description: '1, plus one per manual retry' }),
    at: instant,
    statusCode: z.number().int().optional(),
    latencyMs: z.number().int().min(0),
    error: z.string().optional(),
    responseBody: z.string().optional().meta({ description: "The response body's first 1 KiB" }),
    responseBodyTruncated: z.boolean().optional(),
  })
  .meta({ id: 'WebhookDeliveryAttempt' });

export const WebhookDeliverySchema = z
  .object({
    id: z.string().meta({ description: 'Also the webhook-id header' }),
    subscriptionId: z.uuid(),
    eventId: z.string().meta({ description: "The CloudEvent's id (the body's `id`)" }),
    eventType: z.string(),
    kind: z.enum(['event', 'test']),
    status: deliveryStatus,
    attemptsInRun: z.number().int().min(0),
    totalAttempts: z.number().int().min(0),
    run: z.number().int().min(1),
    nextAttemptAt: instant.optional(),
    lastStatusCode: z.number().int().optional(),
    lastError: z.string().optional(),
    deliveredAt: instant.optional(),
    failedAt: instant.optional(),
    failureReason: z
      .enum(['attempts-exhausted', 'not-retryable', 'endpoint-gone', 'subscription-disabled', 'subscription-deleted'])
      .optional(),
    revision,
    createdAt: instant,
    updatedAt: instant,
  })
  .meta({ id: 'WebhookDelivery' });

export const WebhookDeliveryDetailSchema = WebhookDeliverySchema.extend({
  attempts: z.array(DeliveryAttemptSchema),
}).meta({ id: 'WebhookDeliveryDetail' });

// ---- configurations, edge locations, deployments (DESIGN.md §6) -------------------
// Shapes only; the rules (safety rules, four eyes, plan checks, transitions)
// are shared/domain/{configurations,edges,rollout-plan,deployments}.ts's.

export const ConfigurationVersionParams = z.strictObject({ id: z.uuid(), version: z.coerce.number().int().min(1) });

export const CreateConfigurationBody = z
  .strictObject({
    name: text(255),
    description: z.string().max(2000).optional(),
    content: jsonObject.meta({ description: 'The configuration an edge applies; checked by the safety rules and the schema' }),
    schema: jsonObject.optional().meta({ description: 'JSON Schema (2020-12) every version of the content must satisfy' }),
  })
  .meta({ id: 'CreateConfiguration' });

export const UpdateConfigurationBody = z
  .strictObject({
    revision: revision.optional(),
    description: z.string().max(2000).optional(),
    content: jsonObject,
    schema: jsonObject.optional().meta({ description: "Replaces the schema from this version on; absent keeps the previous version's" }),
  })
  .meta({ id: 'UpdateConfiguration', description: 'Makes version n+1; versions never change' });

export const ConfigurationSchema = z
  .object({
    id: z.uuid(),
    name: z.string(),
    description: z.string(),
    latestVersion: z.number().int().min(1),
    schema: jsonObject.optional(),
    createdBy: z.string(),
    revision,
    createdAt: instant,
    updatedAt: instant,
  })
  .meta({ id: 'Configuration' });

export const ConfigurationVersionSchema = z
  .object({
    configurationId: z.uuid(),
    version: z.number().int().min(1),
    content: jsonObject,
    schema: jsonObject.optional(),
    author: z.string(),
    createdAt: instant,
    approvedBy: z.string().optional(),
    approvedAt: instant.optional(),
  })
  .meta({ id: 'ConfigurationVersion' });

export const ConfigurationValidationSchema = z
  .object({
    version: z.number().int().min(1),
    valid: z.boolean(),
    problems: z.array(z.object({ code: z.string(), path: z.string(), message: z.string() })),
  })
  .meta({ id: 'ConfigurationValidation' });

export const ConfigurationDiffQuery = z.strictObject({
  from: z.coerce.number().int().min(1),
  to: z.coerce.number().int().min(1),
});

export const ConfigurationDiffSchema = z
  .object({
    from: z.number().int(),
    to: z.number().int(),
    patch: z.array(
      z.object({
        op: z.enum(['add', 'remove', 'replace', 'move', 'copy', 'test']),
        path: z.string(),
        from: z.string().optional(),
        value: z.unknown().optional(),
      }),
    ),
  })
  .meta({ id: 'ConfigurationDiff', description: 'RFC 6902 JSON Patch from one version to the other' });

// ---- configurations API (issue 10, item 1): the shapes the routes add ----

export const ConfigurationVersionSummarySchema = ConfigurationVersionSchema.omit({ content: true, schema: true }).meta({
  id: 'ConfigurationVersionSummary',
  description: 'A version without its content and schema (read them at GET …/versions/{v})',
});

export const ConfigurationValidateQuery = z.strictObject({
  version: z.coerce.number().int().min(1).optional().meta({ description: 'The version to validate (default: the newest)' }),
});

const continent = z.enum(['AF', 'AN', 'AS', 'EU', 'NA', 'OC', 'SA']);
const tags = z.record(z.string().min(1).max(128), z.string().max(256));

export const CreateEdgeLocationBody = z
  .strictObject({
    name: text(255),
    region: text(63).meta({ example: 'eu-west-1' }),
    continent: continent.meta({ description: 'Two-letter continent code' }),
    tags: tags.optional(),
  })
  .meta({ id: 'CreateEdgeLocation' });

export const UpdateEdgeLocationBody = z
  .strictObject({
    revision: revision.optional(),
    name: text(255).optional(),
    region: text(63).optional(),
    continent: continent.optional(),
    tags: tags.optional(),
  })
  .refine((b) => Object.keys(b).some((k) => k !== 'revision'), { message: 'Change at least one field' })
  .meta({ id: 'UpdateEdgeLocation' });

export const HeartbeatRecordSchema = z
  .object({
    edgeId: z.uuid(),
    at: instant.meta({ description: 'When Switchyard received it (its own clock)' }),
    configurationId: z.string().optional().meta({ description: 'Absent while nothing is assigned to the edge' }),
    activeVersion: z.number().int().optional(),
    requests: z.number().int(),
    errorRate: z.number(),
    p95LatencyMs: z.number(),
    cacheHitRate: z.number(),
  })
  .meta({ id: 'HeartbeatRecord' });

export const EdgeLocationSchema = z
  .object({
    id: z.uuid(),
    name: z.string(),
    region: z.string(),
    continent,
    tags,
    lastHeartbeatAt: instant.optional(),
    health: z
      .enum(['healthy', 'unhealthy', 'unknown'])
      .meta({ description: 'From the age of the newest heartbeat: unhealthy after three missed 10 s intervals; unknown before the first' }),
    lastHeartbeat: HeartbeatRecordSchema.optional(),
    revision,
    createdAt: instant,
    updatedAt: instant,
  })
  .meta({ id: 'EdgeLocation' });

/** The data of `edge.created` / `edge.updated`: the edge as an administrator set it (no key, no heartbeat). */
export const EdgeEventSchema = z
  .object({ id: z.uuid(), name: z.string(), region: z.string(), continent, tags, revision, createdAt: instant, updatedAt: instant })
  .meta({ id: 'EdgeLocationEvent' });

/** The data of `edge.healthy` / `edge.unhealthy`. */
export const EdgeHealthEventSchema = z
  .object({
    id: z.uuid(),
    name: z.string(),
    region: z.string(),
    health: z.enum(['healthy', 'unhealthy', 'unknown']),
    lastHeartbeatAt: instant.optional(),
  })
  .meta({ id: 'EdgeHealthEvent' });

export const EdgeLocationQuery = PageQuery.extend({
  region: z.string().min(1).max(63).optional().meta({ description: 'Only edges in this region' }),
});

export const EdgeMetricsQuery = PageQuery.extend({
  from: instant.optional().meta({ description: 'Heartbeats received at or after (inclusive)' }),
  to: instant.optional().meta({ description: 'Heartbeats received at or before (inclusive)' }),
});

export const CreatedEdgeLocationSchema = EdgeLocationSchema.extend({
  edgeKey: z.string().meta({ description: 'Shown once: the edge reads its desired-config and posts heartbeats with it' }),
}).meta({ id: 'CreatedEdgeLocation' });

export const HeartbeatBody = z
  .strictObject({
    configurationId: z
      .string()
      .min(1)
      .max(200)
      .optional()
      .meta({ description: 'The configuration serving most of the traffic; with activeVersion, or both absent while nothing is assigned' }),
    activeVersion: z.number().int().min(1).optional().meta({ description: 'Its version; with configurationId' }),
    requests: z.number().int().min(0),
    errorRate: z.number().min(0).max(1).meta({ description: 'Fraction 0–1' }),
    p95LatencyMs: z.number().min(0),
    cacheHitRate: z.number().min(0).max(1).meta({ description: 'Fraction 0–1' }),
  })
  // Both or neither; the missing one is named.
  .superRefine((b, ctx) => {
    if (b.configurationId !== undefined && b.activeVersion === undefined)
      ctx.addIssue({ code: 'custom', path: ['activeVersion'], message: 'required with configurationId' });
    if (b.activeVersion !== undefined && b.configurationId === undefined)
      ctx.addIssue({ code: 'custom', path: ['configurationId'], message: 'required with activeVersion' });
  })
  .meta({ id: 'Heartbeat' });

export const DesiredConfigSchema = z
  .object({
    configurationId: z.uuid(),
    version: z.number().int().min(1),
    weight: z.number().min(0).max(100).meta({ description: 'Percent of the traffic on this version' }),
    content: jsonObject,
    etag: z.string().meta({ description: 'Also the ETag header; send it as If-None-Match for a 304' }),
  })
  .meta({ id: 'DesiredConfig' });

const strategy = z.enum(['direct', 'regional-canary', 'blue-green', 'rolling-regional', 'geographic-wave']);
const deploymentStatus = z.enum([
  'PENDING',
  'IN_PROGRESS',
  'WAITING_APPROVAL',
  'PAUSED',
  'SUCCEEDED',
  'ROLLING_BACK',
  'ROLLED_BACK',
  'FAILED',
]);
const thresholds = z.strictObject({
  maxErrorRate: z.number().min(0).max(1).optional(),
  maxP95LatencyMs: z.number().positive().optional(),
});

export const CreateDeploymentBody = z
  .strictObject({
    configurationId: z.uuid(),
    version: z.number().int().min(1),
    strategy,
    targets: z.strictObject({
      regions: z.array(text(63)).max(100).optional(),
      edgeIds: z.array(z.uuid()).max(500).optional(),
    }),
    steps: z
      .array(z.number().int())
      .max(10)
      .optional()
      .meta({ description: 'regional-canary: cumulative percentages, e.g. [10, 50, 100]' }),
    bakeSeconds: z.number().int().min(0).max(86_400),
    thresholds,
    requireApproval: z.boolean().optional(),
  })
  .meta({ id: 'CreateDeployment' });

/** `POST /configurations/{id}/versions/{version}/deploy`: the same, with the configuration and version in the path. */
export const DeployVersionBody = CreateDeploymentBody.omit({ configurationId: true, version: true }).meta({ id: 'DeployVersion' });

export const DeploymentActionBody = z
  .strictObject({ reason: z.string().max(2000).optional() })
  .meta({ id: 'DeploymentAction', description: 'promote, pause, resume, rollback' });

export const AcceptedDeploymentSchema = z
  .object({ id: z.uuid(), status: deploymentStatus, executionArn: z.string().optional() })
  .meta({ id: 'AcceptedDeployment' });

const metricFigures = z.object({
  metric: z.enum(['errorRate', 'p95LatencyMs']),
  stageCount: z.number().int(),
  baselineCount: z.number().int(),
  stageMean: z.number().optional(),
  baselineMean: z.number().optional(),
  stageMedian: z.number().optional(),
  baselineMedian: z.number().optional(),
  threshold: z.number().optional(),
  thresholdBreached: z.boolean(),
  u: z.number().optional(),
  z: z.number().optional(),
  pValue: z.number().optional(),
  significantlyWorse: z.boolean(),
  minEffect: z.number().optional(),
  skipped: z.enum(['too-few-stage-samples', 'too-few-baseline-samples']).optional(),
});

export const DeploymentStageSchema = z
  .object({
    index: z.number().int().min(0),
    name: z.string(),
    edgeIds: z.array(z.string()),
    weight: z.number(),
    bakeSeconds: z.number().int(),
    requiresApproval: z.boolean(),
    evaluate: z.boolean(),
    status: z.enum(['PENDING', 'WAITING_APPROVAL', 'BAKING', 'EVALUATING', 'PASSED', 'FAILED', 'ROLLED_BACK']),
    approvedBy: z.string().optional(),
    appliedAt: instant.optional(),
    assignedAt: instant.optional().describe('Every edge of the stage was given the version; promote passes the stage only after this'),
    bakeUntil: instant.optional(),
    bakeExtensions: z.number().int(),
    completedAt: instant.optional(),
    metrics: z.array(metricFigures).optional(),
  })
  .meta({ id: 'DeploymentStage' });

export const DecisionSchema = z
  .object({
    at: instant,
    stage: z.number().int(),
    verdict: z.enum(['PASS', 'FAIL', 'INSUFFICIENT_DATA', 'APPROVED', 'PROMOTED', 'ROLLBACK_REQUESTED']),
    reason: z.string(),
    metrics: z.array(metricFigures),
    by: z.string().optional(),
  })
  .meta({ id: 'DeploymentDecision' });

export const DeploymentSchema = z
  .object({
    id: z.uuid(),
    configurationId: z.uuid(),
    version: z.number().int(),
    strategy,
    targets: z.object({ regions: z.array(z.string()).optional(), edgeIds: z.array(z.string()).optional() }),
    steps: z.array(z.number()).optional(),
    bakeSeconds: z.number().int(),
    thresholds: z.object({ maxErrorRate: z.number().optional(), maxP95LatencyMs: z.number().optional() }),
    requireApproval: z.boolean(),
    status: deploymentStatus,
    currentStage: z.number().int(),
    edgeIds: z.array(z.string()),
    stages: z.array(DeploymentStageSchema),
    decisions: z.array(DecisionSchema),
    previous: z.record(
      z.string(),
      z.object({ configurationId: z.string().optional(), version: z.number().optional(), weight: z.number() }),
    ),
    pausedFrom: z.enum(['IN_PROGRESS', 'WAITING_APPROVAL']).optional().meta({ description: 'PAUSED: the status resume returns to' }),
    executionArn: z.string().optional().meta({ description: 'The rollout execution driving the deployment' }),
    attempt: z.number().int().optional().meta({ description: 'Which rollout execution: +1 each time the reconciler restarts a lost one' }),
    rollbackExecutionArn: z.string().optional(),
    rollbackAttempt: z.number().int().optional(),
    rollbackReason: z.string().optional(),
    createdBy: z.string(),
    createdAt: instant,
    updatedAt: instant,
    startedAt: instant.optional(),
    finishedAt: instant.optional(),
    revision,
  })
  .meta({ id: 'Deployment', description: 'The task token is internal and never shown' });

/**
 * The data of every `deployment.*` event: the deployment's summary and the
 * decision the transition logged, if any. Never the stages' edge lists nor
 * `previous` (read them at GET /deployments/{id}), never the task token.
 */
export const DeploymentEventSchema = DeploymentSchema.pick({
  id: true,
  configurationId: true,
  version: true,
  strategy: true,
  status: true,
  currentStage: true,
  rollbackReason: true,
  executionArn: true,
  createdBy: true,
  createdAt: true,
  updatedAt: true,
  startedAt: true,
  finishedAt: true,
  revision: true,
})
  .extend({
    decision: DecisionSchema.optional().meta({ description: 'The decision-log entry this transition added (a verdict, an approval…)' }),
    attempt: z
      .number()
      .int()
      .min(1)
      .optional()
      .meta({ description: 'The rollout execution attempt (+1 each time the reconciler restarts it)' }),
  })
  .meta({ id: 'DeploymentEvent' });

export const DeploymentQuery = PageQuery.extend({
  status: deploymentStatus.optional(),
  configurationId: z.uuid().optional(),
});
