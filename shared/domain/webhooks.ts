/**
 * Signed webhooks, the pure part (DESIGN.md §5, issue 9): subscription rules
 * and their service over a store port, the delivery state machine, auto-disable
 * counters, the per-endpoint circuit breaker and concurrency limit, and the
 * attempt record. No I/O: signing, the SSRF guard, DynamoDB and SQS live
 * elsewhere and reach this module through ports.
 */
import { NotFoundError, RuleViolationError, ValidationError, type FieldError } from './errors.js';
import type { Page, PageRequest, Revisioned } from './model.js';
import type { Clock, IdGenerator } from './ports.js';
import { writableRevision } from './revisions.js';
import { derivedUuid } from './derived-id.js';

// ---- event type patterns ------------------------------------------------------

/** The event type a test ping carries; delivered to the pinged subscription whatever its eventTypes say. */
export const WEBHOOK_TEST_EVENT_TYPE = 'webhook.test';
export const MAX_EVENT_TYPE_PATTERNS = 50;
export const MAX_DESCRIPTION_LENGTH = 2000;
export const MAX_URL_LENGTH = 2048;

/** The prefix of a type, `deployment` of `deployment.rolled_back`; what `deployment.*` selects. */
function prefixOf(type: string): string {
  const dot = type.indexOf('.');
  return dot < 0 ? type : type.slice(0, dot);
}

/** Whether one pattern (`*`, `<prefix>.*` or an exact type) selects `type`. */
export function matchesEventType(pattern: string, type: string): boolean {
  if (pattern === '*') return true;
  if (pattern.endsWith('.*')) return type.startsWith(pattern.slice(0, -1)) && type.length > pattern.length - 1;
  return pattern === type;
}

/** Whether a subscription gets events of `type`: it is enabled and one of its patterns selects the type. */
export function subscriptionWants(subscription: Pick<WebhookSubscription, 'enabled' | 'eventTypes'>, type: string): boolean {
  return subscription.enabled && subscription.eventTypes.some((pattern) => matchesEventType(pattern, type));
}

/**
 * Checks an eventTypes list against the known types and returns it without
 * duplicates (order kept). Every pattern must select something that exists, so
 * a typo is a 400 rather than a subscription that silently never fires.
 */
export function validateEventTypes(patterns: readonly string[], knownTypes: readonly string[], path = 'body.eventTypes'): string[] {
  const errors: FieldError[] = [];
  if (patterns.length === 0) errors.push({ path, message: 'name at least one event type, `<area>.*` or `*`' });
  if (patterns.length > MAX_EVENT_TYPE_PATTERNS) errors.push({ path, message: `at most ${MAX_EVENT_TYPE_PATTERNS} entries` });
  const known = new Set(knownTypes);
  const prefixes = new Set(knownTypes.map(prefixOf));
  patterns.forEach((pattern, index) => {
    const at = `${path}.${index}`;
    if (pattern === '*') return;
    if (pattern.endsWith('.*')) {
      const prefix = pattern.slice(0, -2);
      if (!prefixes.has(prefix))
        errors.push({ path: at, message: `no event type starts with ${prefix}. (known: ${[...prefixes].sort().join(', ')})` });
      return;
    }
    if (pattern.includes('*')) errors.push({ path: at, message: 'a wildcard is only allowed as `*` or a trailing `.*`' });
    else if (!known.has(pattern)) errors.push({ path: at, message: `unknown event type ${pattern}` });
  });
  if (errors.length > 0) throw new ValidationError('eventTypes names event types that do not exist', errors);
  return [...new Set(patterns)];
}

// ---- subscriptions --------------------------------------------------------------

/** Why a subscription stopped receiving deliveries. */
export type DisableReason =
  /** An administrator disabled it. */
  | 'manual'
  /** The endpoint answered 410 Gone. */
  | 'endpoint-gone'
  /** Every attempt failed for AutoDisableConfig.failingForSeconds. */
  | 'failing-too-long'
  /** AutoDisableConfig.consecutiveFailedDeliveries deliveries in a row ended FAILED. */
  | 'too-many-failed-deliveries';

/** A signing secret. Stored so the dispatcher can sign (encrypting it at rest is the store's business); never in an API answer after create/rotate. */
export interface WebhookSecret {
  /** `whsec_<base64>`. */
  value: string;
  createdAt: string;
  /** Set when a rotation replaced it: it keeps signing beside the new one until then. */
  expiresAt?: string;
}

export interface WebhookSubscription extends Revisioned {
  url: string;
  eventTypes: string[];
  description: string;
  enabled: boolean;
  disabledReason?: DisableReason;
  disabledAt?: string;
  /** Newest first. */
  secrets: WebhookSecret[];
}

/** A subscription as the API shows it: no secrets. */
export type PublicSubscription = Omit<WebhookSubscription, 'secrets'>;

export function publicSubscription(subscription: WebhookSubscription): PublicSubscription {
  const { secrets: _secrets, ...rest } = subscription;
  return rest;
}

/** The secrets that sign a delivery sent at `now` (one `v1,` signature each), newest first. */
export function activeSecrets(subscription: Pick<WebhookSubscription, 'secrets'>, now: string): string[] {
  const at = Date.parse(now);
  return subscription.secrets.filter((s) => s.expiresAt === undefined || Date.parse(s.expiresAt) > at).map((s) => s.value);
}

/** A rotation during an overlap drops the oldest secret: never more than two sign (docs/webhooks.md). */
export const MAX_LIVE_SECRETS = 2;
export const DEFAULT_ROTATION_OVERLAP_SECONDS = 24 * 3600;
export const MAX_ROTATION_OVERLAP_SECONDS = 7 * 24 * 3600;

/** The secrets after a rotation: `fresh` first, the current ones expiring after the overlap (earlier expiries kept), expired ones dropped. */
export function rotateSecrets(secrets: readonly WebhookSecret[], fresh: string, now: string, overlapSeconds: number): WebhookSecret[] {
  const at = Date.parse(now);
  const overlapEnd = new Date(at + overlapSeconds * 1000).toISOString();
  const kept = secrets
    .filter((s) => s.expiresAt === undefined || Date.parse(s.expiresAt) > at)
    .map((s) => ({ ...s, expiresAt: s.expiresAt !== undefined && s.expiresAt < overlapEnd ? s.expiresAt : overlapEnd }))
    .filter((s) => Date.parse(s.expiresAt) > at);
  return [{ value: fresh, createdAt: now }, ...kept].slice(0, MAX_LIVE_SECRETS);
}

/** Subscription changes, as the event types the store emits for them (the lead adds them to shared/events/types.ts). */
export type SubscriptionChange =
  | 'subscription.created'
  | 'subscription.updated'
  | 'subscription.enabled'
  | 'subscription.disabled'
  | 'subscription.secret_rotated'
  | 'subscription.deleted';

/**
 * What a subscription's deliveries have been doing, for auto-disable. A
 * separate item from the subscription: dispatchers update it concurrently
 * (atomic ADD / if_not_exists), and that must not bump the subscription's revision.
 */
export interface SubscriptionHealth {
  subscriptionId: string;
  /** Deliveries that ended FAILED since the last one that ended DELIVERED. */
  consecutiveFailedDeliveries: number;
  /** The first failed attempt since the last successful one; absent while the last attempt succeeded. */
  failingSince?: string;
  lastSuccessAt?: string;
}

export function freshHealth(subscriptionId: string): SubscriptionHealth {
  return { subscriptionId, consecutiveFailedDeliveries: 0 };
}

export interface SubscriptionQuery extends PageRequest {
  enabled?: boolean;
}

/** What the subscription service needs from persistence. Each write emits the event it names, in the same transaction (DESIGN.md §5). */
export interface SubscriptionStore {
  /** Writes the subscription and its fresh health record; AlreadyExistsError if the id is taken. */
  createSubscription(subscription: WebhookSubscription, health: SubscriptionHealth, change: 'subscription.created'): Promise<void>;
  getSubscription(id: string): Promise<WebhookSubscription | undefined>;
  /**
   * Writes `subscription` if the stored one is still at `expectedRevision`
   * (else VersionConflictError), emitting `change`; when `health` is given it
   * replaces the health record in the same transaction (enable starts afresh).
   */
  replaceSubscription(
    subscription: WebhookSubscription,
    expectedRevision: number,
    change: Exclude<SubscriptionChange, 'subscription.created' | 'subscription.deleted'>,
    health?: SubscriptionHealth,
  ): Promise<void>;
  /** Deletes subscription and health at `expectedRevision`; its pending deliveries are abandoned at dispatch. */
  deleteSubscription(id: string, expectedRevision: number, change: 'subscription.deleted'): Promise<void>;
  listSubscriptions(query: SubscriptionQuery): Promise<Page<WebhookSubscription>>;
  /** Stores a new delivery (a test ping); the caller then queues it on `webhook-delivery`. */
  createDelivery(delivery: WebhookDelivery): Promise<void>;
}

/** `whsec_<base64 of 24–64 random bytes>` (the signing module provides it). */
export interface WebhookSecretGenerator {
  generate(): string;
}

/** The SSRF guard at creation and on URL change: throws a RuleViolationError (422) naming the rule that refused. */
export interface WebhookUrlChecker {
  check(url: string): Promise<void>;
}

export interface CreateSubscriptionInput {
  url: string;
  eventTypes: string[];
  description?: string;
  enabled?: boolean;
}

export interface UpdateSubscriptionInput {
  revision?: number;
  url?: string;
  eventTypes?: string[];
  description?: string;
}

export interface SubscriptionServiceConfig {
  /** Every event type Switchyard emits (EVENT_TYPE_FIELDS keys), for eventTypes validation. */
  knownEventTypes: readonly string[];
  defaultRotationOverlapSeconds?: number;
}

/** Writes that need no body (enable, disable, rotate, test) may name a revision; without one they apply to the revision just read. */
function revisionFor(current: WebhookSubscription, revision: number | undefined, ifMatch: string | undefined): number {
  return revision === undefined && ifMatch === undefined
    ? current.revision
    : writableRevision('WebhookSubscription', current, revision, ifMatch);
}

function checkDescription(description: string | undefined): void {
  if (description !== undefined && description.length > MAX_DESCRIPTION_LENGTH) {
    throw new ValidationError('description is too long', [
      { path: 'body.description', message: `at most ${MAX_DESCRIPTION_LENGTH} characters` },
    ]);
  }
}

function checkUrlShape(url: string): void {
  let parsed: URL | undefined;
  try {
    parsed = url.length <= MAX_URL_LENGTH ? new URL(url) : undefined;
  } catch {
    parsed = undefined;
  }
  if (!parsed || (parsed.protocol !== 'https:' && parsed.protocol !== 'http:') || parsed.username || parsed.password) {
    throw new ValidationError('url must be an absolute http(s) URL without credentials', [
      { path: 'body.url', message: `an http(s) URL of at most ${MAX_URL_LENGTH} characters, no user:password@` },
    ]);
  }
}

export class SubscriptionService {
  private readonly overlapSeconds: number;

  constructor(
    private readonly store: SubscriptionStore,
    private readonly clock: Clock,
    private readonly ids: IdGenerator,
    private readonly secrets: WebhookSecretGenerator,
    private readonly urls: WebhookUrlChecker,
    private readonly config: SubscriptionServiceConfig,
  ) {
    this.overlapSeconds = config.defaultRotationOverlapSeconds ?? DEFAULT_ROTATION_OVERLAP_SECONDS;
  }

  /** Returns the secret once, beside the subscription. */
  async create(input: CreateSubscriptionInput): Promise<PublicSubscription & { secret: string }> {
    const eventTypes = validateEventTypes(input.eventTypes, this.config.knownEventTypes);
    checkDescription(input.description);
    checkUrlShape(input.url);
    await this.urls.check(input.url);
    const now = this.clock.now();
    const secret = this.secrets.generate();
    const enabled = input.enabled ?? true;
    const subscription: WebhookSubscription = {
      id: this.ids.next(),
      url: input.url,
      eventTypes,
      description: input.description ?? '',
      enabled,
      ...(enabled ? {} : { disabledReason: 'manual' as const, disabledAt: now }),
      secrets: [{ value: secret, createdAt: now }],
      revision: 1,
      createdAt: now,
      updatedAt: now,
    };
    await this.store.createSubscription(subscription, freshHealth(subscription.id), 'subscription.created');
    return { ...publicSubscription(subscription), secret };
  }

  async get(id: string): Promise<PublicSubscription> {
    return publicSubscription(await this.load(id));
  }

  async list(query: SubscriptionQuery): Promise<Page<PublicSubscription>> {
    const page = await this.store.listSubscriptions(query);
    return { ...page, items: page.items.map(publicSubscription) };
  }

  async update(id: string, input: UpdateSubscriptionInput, ifMatch?: string): Promise<PublicSubscription> {
    const current = await this.load(id);
    const expected = writableRevision('WebhookSubscription', current, input.revision, ifMatch);
    const eventTypes = input.eventTypes === undefined ? undefined : validateEventTypes(input.eventTypes, this.config.knownEventTypes);
    checkDescription(input.description);
    if (input.url !== undefined && input.url !== current.url) {
      checkUrlShape(input.url);
      await this.urls.check(input.url);
    }
    const next: WebhookSubscription = {
      ...current,
      ...(input.url !== undefined && { url: input.url }),
      ...(eventTypes !== undefined && { eventTypes }),
      ...(input.description !== undefined && { description: input.description }),
      revision: current.revision + 1,
      updatedAt: this.clock.now(),
    };
    await this.store.replaceSubscription(next, expected, 'subscription.updated');
    return publicSubscription(next);
  }

  /** Enabling starts the failure counters afresh, so an old failure streak cannot disable it again at once. Idempotent. */
  async enable(id: string, revision?: number, ifMatch?: string): Promise<PublicSubscription> {
    const current = await this.load(id);
    const expected = revisionFor(current, revision, ifMatch);
    if (current.enabled) return publicSubscription(current);
    const { disabledReason: _reason, disabledAt: _at, ...rest } = current;
    const next: WebhookSubscription = { ...rest, enabled: true, revision: current.revision + 1, updatedAt: this.clock.now() };
    await this.store.replaceSubscription(next, expected, 'subscription.enabled', freshHealth(id));
    return publicSubscription(next);
  }

  /** Idempotent: disabling a disabled subscription changes nothing and emits nothing. */
  async disable(id: string, revision?: number, ifMatch?: string): Promise<PublicSubscription> {
    const current = await this.load(id);
    const expected = revisionFor(current, revision, ifMatch);
    if (!current.enabled) return publicSubscription(current);
    const next = disabledSubscription(current, 'manual', this.clock.now());
    await this.store.replaceSubscription(next, expected, 'subscription.disabled');
    return publicSubscription(next);
  }

  /**
   * The dispatcher's auto-disable (410, or a failure streak). Returns the
   * disabled subscription, or undefined if it was already disabled or gone, so
   * `subscription.disabled` is emitted once. A lost race surfaces as
   * VersionConflictError; the caller reads again and retries.
   */
  async autoDisable(id: string, reason: Exclude<DisableReason, 'manual'>): Promise<PublicSubscription | undefined> {
    return autoDisableSubscription(this.store, id, reason, this.clock.now());
  }

  async delete(id: string, revision: number | undefined, ifMatch?: string): Promise<void> {
    const current = await this.load(id);
    const expected = writableRevision('WebhookSubscription', current, revision, ifMatch);
    await this.store.deleteSubscription(id, expected, 'subscription.deleted');
  }

  /** A new secret, returned once; the old ones keep signing for the overlap. */
  async rotateSecret(
    id: string,
    options: { overlapSeconds?: number; revision?: number } = {},
    ifMatch?: string,
  ): Promise<PublicSubscription & { secret: string; previousSecretsExpireAt: string }> {
    const overlap = options.overlapSeconds ?? this.overlapSeconds;
    if (!Number.isInteger(overlap) || overlap < 0 || overlap > MAX_ROTATION_OVERLAP_SECONDS) {
      throw new ValidationError('overlapSeconds is out of range', [
        { path: 'body.overlapSeconds', message: `an integer from 0 to ${MAX_ROTATION_OVERLAP_SECONDS}` },
      ]);
    }
    const current = await this.load(id);
    const expected = revisionFor(current, options.revision, ifMatch);
    const now = this.clock.now();
    const secret = this.secrets.generate();
    const next: WebhookSubscription = {
      ...current,
      secrets: rotateSecrets(current.secrets, secret, now, overlap),
      revision: current.revision + 1,
      updatedAt: now,
    };
    await this.store.replaceSubscription(next, expected, 'subscription.secret_rotated');
    return {
      ...publicSubscription(next),
      secret,
      previousSecretsExpireAt: new Date(Date.parse(now) + overlap * 1000).toISOString(),
    };
  }

  /** Stores a `webhook.test` delivery (even for a disabled subscription: checking the receiver before enabling is the point); the caller queues it. */
  async test(id: string): Promise<WebhookDelivery> {
    const subscription = await this.load(id);
    const now = this.clock.now();
    const eventId = this.ids.next();
    const body = JSON.stringify({
      specversion: '1.0',
      id: eventId,
      source: 'switchyard/webhooks',
      type: WEBHOOK_TEST_EVENT_TYPE,
      time: now,
      subject: subscription.id,
      datacontenttype: 'application/json',
      data: { subscriptionId: subscription.id, message: 'Switchyard test delivery' },
    });
    const delivery = newDelivery({
      id: this.ids.next(),
      subscriptionId: subscription.id,
      event: { id: eventId, type: WEBHOOK_TEST_EVENT_TYPE, body },
      kind: 'test',
      now,
    });
    await this.store.createDelivery(delivery);
    return delivery;
  }

  private async load(id: string): Promise<WebhookSubscription> {
    const subscription = await this.store.getSubscription(id);
    if (!subscription) throw new NotFoundError('WebhookSubscription', id);
    return subscription;
  }
}

/**
 * Auto-disable (410, or a failure streak), shared by SubscriptionService and
 * the dispatcher: the disabled subscription, or undefined if it was already
 * disabled or is gone, so `subscription.disabled` is emitted once (the
 * store's replaceSubscription emits it). A lost race surfaces as
 * VersionConflictError; the caller reads again and retries.
 */
export async function autoDisableSubscription(
  store: Pick<SubscriptionStore, 'getSubscription' | 'replaceSubscription'>,
  id: string,
  reason: Exclude<DisableReason, 'manual'>,
  now: string,
): Promise<PublicSubscription | undefined> {
  const current = await store.getSubscription(id);
  if (!current || !current.enabled) return undefined;
  const next = disabledSubscription(current, reason, now);
  await store.replaceSubscription(next, current.revision, 'subscription.disabled');
  return publicSubscription(next);
}

export function disabledSubscription(current: WebhookSubscription, reason: DisableReason, now: string): WebhookSubscription {
  return { ...current, enabled: false, disabledReason: reason, disabledAt: now, revision: current.revision + 1, updatedAt: now };
}

// ---- deliveries -----------------------------------------------------------------

export type DeliveryStatus = 'PENDING' | 'SENDING' | 'DELIVERED' | 'RETRYING' | 'FAILED';

export type FailureReason =
  /** Every attempt of the run failed with a retryable outcome. */
  | 'attempts-exhausted'
  /** A 3xx or 4xx other than 410/429: sending the same signed bytes again gets the same answer. */
  | 'not-retryable'
  /** 410 Gone: the subscription is disabled too. */
  | 'endpoint-gone'
  /** The subscription was disabled or deleted before this delivery was sent. */
  | 'subscription-disabled'
  | 'subscription-deleted';

export interface WebhookDelivery {
  /** Also the `webhook-id` header: the same on every attempt. */
  id: string;
  subscriptionId: string;
  eventId: string;
  eventType: string;
  /** The CloudEvent JSON exactly as signed and sent; every attempt sends the same bytes. */
  body: string;
  kind: 'event' | 'test';
  status: DeliveryStatus;
  /** Attempts begun in the current run; a manual retry starts a new run at 0. */
  attemptsInRun: number;
  /** Attempts begun over all runs; numbers the attempt records. */
  totalAttempts: number;
  /** 1, plus one per manual retry. */
  run: number;
  /** PENDING/RETRYING: not to be sent before this. */
  nextAttemptAt?: string;
  /** SENDING: when the current attempt began. */
  sendingSince?: string;
  lastStatusCode?: number;
  lastError?: string;
  deliveredAt?: string;
  failedAt?: string;
  failureReason?: FailureReason;
  revision: number;
  createdAt: string;
  updatedAt: string;
}

/** A delivery as the API shows it: the body is the event, which has its own API. */
export type PublicDelivery = Omit<WebhookDelivery, 'body'>;

export function publicDelivery(delivery: WebhookDelivery): PublicDelivery {
  const { body: _body, ...rest } = delivery;
  return rest;
}

export function newDelivery(input: {
  id: string;
  subscriptionId: string;
  event: { id: string; type: string; body: string };
  kind?: 'event' | 'test';
  now: string;
}): WebhookDelivery {
  return {
    id: input.id,
    subscriptionId: input.subscriptionId,
    eventId: input.event.id,
    eventType: input.event.type,
    body: input.event.body,
    kind: input.kind ?? 'event',
    status: 'PENDING',
    attemptsInRun: 0,
    totalAttempts: 0,
    run: 1,
    nextAttemptAt: input.now,
    revision: 1,
    createdAt: input.now,
    updatedAt: input.now,
  };
}

/** SQS DelaySeconds' ceiling: one message delay covers any single wait. */
export const MAX_DELAY_SECONDS = 900;
export const DEFAULT_RETRY_SECONDS: readonly number[] = [30, 60, 120, 300, 900];

export interface DeliveryConfig {
  /** Waits before the 2nd, 3rd, … attempt; attempts in a run = length + 1. */
  retrySeconds: readonly number[];
  /** Longest Retry-After honoured; a longer one waits this long. */
  retryAfterCapSeconds: number;
  /** A SENDING delivery older than this was lost (the dispatcher died mid-attempt; the send timeout is 10 s) and may be taken again. */
  sendingStaleAfterSeconds: number;
}

/** Checks and completes a delivery config; retrySeconds are whole seconds 0–900, at most 20 of them. */
export function deliveryConfig(partial: Partial<DeliveryConfig> = {}): DeliveryConfig {
  const retrySeconds = partial.retrySeconds ?? DEFAULT_RETRY_SECONDS;
  if (retrySeconds.length > 20 || retrySeconds.some((s) => !Number.isInteger(s) || s < 0 || s > MAX_DELAY_SECONDS)) {
    throw new Error(
      `webhookRetrySeconds must be at most 20 whole numbers of seconds from 0 to ${MAX_DELAY_SECONDS}; got ${retrySeconds.join(',')}`,
    );
  }
  const retryAfterCapSeconds = partial.retryAfterCapSeconds ?? MAX_DELAY_SECONDS;
  // Past SQS's ceiling a wait would need re-queueing hops; the cap exists to bound absurd Retry-After values.
  if (!Number.isInteger(retryAfterCapSeconds) || retryAfterCapSeconds < 0 || retryAfterCapSeconds > MAX_DELAY_SECONDS) {
    throw new Error(`retryAfterCapSeconds must be a whole number from 0 to ${MAX_DELAY_SECONDS}; got ${retryAfterCapSeconds}`);
  }
  const sendingStaleAfterSeconds = partial.sendingStaleAfterSeconds ?? 60;
  if (!(sendingStaleAfterSeconds > 0)) throw new Error(`sendingStaleAfterSeconds must be positive; got ${sendingStaleAfterSeconds}`);
  return { retrySeconds: [...retrySeconds], retryAfterCapSeconds, sendingStaleAfterSeconds };
}

/** `-c switchyard:webhookRetrySeconds=30,60,120` → [30, 60, 120]; empty text means no retries. */
export function parseRetrySeconds(text: string): number[] {
  const trimmed = text.trim();
  const seconds = trimmed === '' ? [] : trimmed.split(',').map((part) => (/^\s*\d+\s*$/.test(part) ? Number(part) : NaN));
  return [...deliveryConfig({ retrySeconds: seconds }).retrySeconds];
}

export function maxAttempts(config: DeliveryConfig): number {
  return config.retrySeconds.length + 1;
}

/** What one POST came to. `latencyMs` is from the start of the request to the answer or the error. */
export type AttemptOutcome =
  | {
      kind: 'response';
      statusCode: number;
      latencyMs: number;
      /** The Retry-After header, if any. */
      retryAfter?: string;
      body?: string | Uint8Array;
    }
  | { kind: 'network-error'; error: string; latencyMs: number }
  | { kind: 'timeout'; latencyMs: number };

export const MAX_RESPONSE_BODY_BYTES = 1024;
const MAX_ERROR_LENGTH = 500;

/** One attempt as the deliveries API shows it. */
export interface DeliveryAttempt {
  deliveryId: string;
  /** 1-based over all runs. */
  number: number;
  run: number;
  /** When the attempt began. */
  at: string;
  statusCode?: number;
  latencyMs: number;
  error?: string;
  /** The response body's first 1 KiB, cut on a character boundary. */
  responseBody?: string;
  responseBodyTruncated?: boolean;
}

/** How the dispatcher treats an outcome. */
export type OutcomeClass = 'success' | 'retryable' | 'permanent' | 'gone';

/**
 * DESIGN.md §5 retries network errors, timeouts, 5xx and 429, and nothing
 * else: any other 4xx means the receiver refused this request (bad signature,
 * auth, validation) and the identical signed bytes would be refused again;
 * 3xx means the URL moved, and redirects are never followed (SSRF). 410 is
 * permanent and also disables the subscription.
 */
export function classifyOutcome(outcome: AttemptOutcome): OutcomeClass {
  if (outcome.kind !== 'response') return 'retryable';
  const code = outcome.statusCode;
  if (code >= 200 && code < 300) return 'success';
  if (code === 410) return 'gone';
  if (code === 429 || code >= 500) return 'retryable';
  return 'permanent';
}

/** The decision nextStep took, for the dispatcher to act on. */
export type DeliveryDecision =
  | { kind: 'delivered' }
  /** Queue the delivery again with DelaySeconds = delaySeconds. */
  | { kind: 'retry'; delaySeconds: number; at: string }
  | { kind: 'failed'; reason: FailureReason };

export interface DeliveryStep {
  delivery: WebhookDelivery;
  attempt: DeliveryAttempt;
  decision: DeliveryDecision;
  /** Set when the subscription must be disabled now (410). */
  disableSubscription?: 'endpoint-gone';
}

const plusSeconds = (instant: string, seconds: number) => new Date(Date.parse(instant) + seconds * 1000).toISOString();

/**
 * The state after a SENDING delivery's attempt ended with `outcome`: DELIVERED,
 * RETRYING after the configured wait (or Retry-After's, whichever is longer,
 * on 429/503), or FAILED. The attempt began at `sendingSince`.
 */
export function nextStep(delivery: WebhookDelivery, outcome: AttemptOutcome, config: DeliveryConfig, now: string): DeliveryStep {
  if (delivery.status !== 'SENDING') throw new Error(`Delivery ${delivery.id} is ${delivery.status}, not SENDING: begin an attempt first`);
  const attempt = attemptRecord(delivery, outcome);
  const base = {
    ...delivery,
    revision: delivery.revision + 1,
    updatedAt: now,
    lastStatusCode: attempt.statusCode,
    lastError: attempt.error,
  };
  delete base.sendingSince;
  if (attempt.statusCode === undefined) delete base.lastStatusCode;
  if (attempt.error === undefined) delete base.lastError;
  const fail = (reason: FailureReason): DeliveryStep => ({
    delivery: { ...base, status: 'FAILED', failedAt: now, failureReason: reason },
    attempt,
    decision: { kind: 'failed', reason },
    ...(reason === 'endpoint-gone' && { disableSubscription: 'endpoint-gone' as const }),
  });
  switch (classifyOutcome(outcome)) {
    case 'success':
      return { delivery: { ...base, status: 'DELIVERED', deliveredAt: now }, attempt, decision: { kind: 'delivered' } };
    case 'gone':
      return fail('endpoint-gone');
    case 'permanent':
      return fail('not-retryable');
    case 'retryable': {
      if (delivery.attemptsInRun >= maxAttempts(config)) return fail('attempts-exhausted');
      const scheduled = config.retrySeconds[delivery.attemptsInRun - 1] ?? 0;
      const asked =
        outcome.kind === 'response' && (outcome.statusCode === 429 || outcome.statusCode === 503)
          ? parseRetryAfter(outcome.retryAfter, now)
          : undefined;
      const delaySeconds = Math.max(scheduled, Math.min(asked ?? 0, config.retryAfterCapSeconds));
      const at = plusSeconds(now, delaySeconds);
      return { delivery: { ...base, status: 'RETRYING', nextAttemptAt: at }, attempt, decision: { kind: 'retry', delaySeconds, at } };
    }
  }
}

function attemptRecord(delivery: WebhookDelivery, outcome: AttemptOutcome): DeliveryAttempt {
  const attempt: DeliveryAttempt = {
    deliveryId: delivery.id,
    number: delivery.totalAttempts,
    run: delivery.run,
    at: delivery.sendingSince ?? delivery.updatedAt,
    latencyMs: Math.max(0, Math.round(outcome.latencyMs)),
  };
  if (outcome.kind === 'response') {
    attempt.statusCode = outcome.statusCode;
    if (outcome.body !== undefined) {
      const { text, truncated } = truncateUtf8(outcome.body, MAX_RESPONSE_BODY_BYTES);
      attempt.responseBody = text;
      if (truncated) attempt.responseBodyTruncated = true;
    }
  } else if (outcome.kind === 'timeout') {
    attempt.error = 'timeout';
  } else {
    attempt.error = outcome.error.slice(0, MAX_ERROR_LENGTH) || 'network error';
  }
  return attempt;
}

/** What the dispatcher does with a delivery message before gating and sending it. */
export type DispatchReadiness =
  | { kind: 'ready' }
  /** Not due yet (a wait longer than one SQS delay, or a deferral): queue it again for then. */
  | { kind: 'wait'; until: string }
  /** Nothing to do: already DELIVERED/FAILED, or an attempt is in flight (a duplicate message). */
  | { kind: 'drop'; reason: 'finished' | 'in-flight' }
  /** The subscription is disabled or gone: store this FAILED delivery, send nothing. */
  | { kind: 'abandon'; delivery: WebhookDelivery };

export function dispatchReadiness(
  delivery: WebhookDelivery,
  subscription: Pick<WebhookSubscription, 'enabled'> | undefined,
  config: DeliveryConfig,
  now: string,
): DispatchReadiness {
  if (delivery.status === 'DELIVERED' || delivery.status === 'FAILED') return { kind: 'drop', reason: 'finished' };
  if (
    delivery.status === 'SENDING' &&
    Date.parse(delivery.sendingSince ?? delivery.updatedAt) + config.sendingStaleAfterSeconds * 1000 > Date.parse(now)
  ) {
    return { kind: 'drop', reason: 'in-flight' };
  }
  // A test ping goes to a disabled subscription too; only deletion stops it.
  if (!subscription || (!subscription.enabled && delivery.kind === 'event')) {
    const reason: FailureReason = subscription ? 'subscription-disabled' : 'subscription-deleted';
    const abandoned: WebhookDelivery = {
      ...delivery,
      status: 'FAILED',
      failedAt: now,
      failureReason: reason,
      revision: delivery.revision + 1,
      updatedAt: now,
    };
    delete abandoned.nextAttemptAt;
    delete abandoned.sendingSince;
    return { kind: 'abandon', delivery: abandoned };
  }
  if (delivery.nextAttemptAt !== undefined && Date.parse(delivery.nextAttemptAt) > Date.parse(now))
    return { kind: 'wait', until: delivery.nextAttemptAt };
  return { kind: 'ready' };
}

/**
 * Takes a ready delivery for an attempt: SENDING, one more attempt counted.
 * Counting at the start means an attempt whose dispatcher died (a stale
 * SENDING taken again) still counts, so a delivery that crashes the
 * dispatcher cannot loop for ever; if it was the last one the delivery fails.
 */
export function beginAttempt(delivery: WebhookDelivery, config: DeliveryConfig, now: string): WebhookDelivery {
  if (delivery.status === 'DELIVERED' || delivery.status === 'FAILED') throw new Error(`Delivery ${delivery.id} is ${delivery.status}`);
  if (delivery.attemptsInRun >= maxAttempts(config)) {
    const failed: WebhookDelivery = {
      ...delivery,
      status: 'FAILED',
      failedAt: now,
      failureReason: 'attempts-exhausted',
      lastError: 'attempt lost',
      revision: delivery.revision + 1,
      updatedAt: now,
    };
    delete failed.sendingSince;
    delete failed.nextAttemptAt;
    return failed;
  }
  const sending: WebhookDelivery = {
    ...delivery,
    status: 'SENDING',
    attemptsInRun: delivery.attemptsInRun + 1,
    totalAttempts: delivery.totalAttempts + 1,
    sendingSince: now,
    revision: delivery.revision + 1,
    updatedAt: now,
  };
  delete sending.nextAttemptAt;
  return sending;
}

/** Puts off a ready delivery (circuit open, endpoint busy) without spending an attempt. */
export function deferDelivery(delivery: WebhookDelivery, until: string, now: string): WebhookDelivery {
  if (delivery.status !== 'PENDING' && delivery.status !== 'RETRYING')
    throw new Error(`Delivery ${delivery.id} is ${delivery.status}; only a waiting delivery is deferred`);
  return { ...delivery, nextAttemptAt: until, revision: delivery.revision + 1, updatedAt: now };
}

/** `POST …/deliveries/{id}/retry`: a FAILED delivery starts a new run of attempts at once (422 otherwise, or when its subscription is disabled). */
export function retryManually(
  delivery: WebhookDelivery,
  subscription: Pick<WebhookSubscription, 'enabled'> | undefined,
  now: string,
): WebhookDelivery {
  if (delivery.status !== 'FAILED') {
    throw new RuleViolationError(`Only a FAILED delivery can be retried; this one is ${delivery.status}`, 'DELIVERY_NOT_FAILED');
  }
  if (!subscription) throw new RuleViolationError('The subscription of this delivery was deleted', 'SUBSCRIPTION_DELETED');
  if (!subscription.enabled && delivery.kind === 'event') {
    throw new RuleViolationError('The subscription is disabled: enable it before retrying its deliveries', 'SUBSCRIPTION_DISABLED');
  }
  const restarted: WebhookDelivery = {
    ...delivery,
    status: 'PENDING',
    attemptsInRun: 0,
    run: delivery.run + 1,
    nextAttemptAt: now,
    revision: delivery.revision + 1,
    updatedAt: now,
  };
  delete restarted.failedAt;
  delete restarted.failureReason;
  return restarted;
}

// ---- Retry-After -----------------------------------------------------------------

const MONTHS = ['Jan', 'Feb', 'Mar', 'Apr', 'May', 'Jun', 'Jul', 'Aug', 'Sep', 'Oct', 'Nov', 'Dec'];
const IMF_FIXDATE = /^(?:Mon|Tue|Wed|Thu|Fri|Sat|Sun), (\d{2}) ([A-Z][a-z]{2}) (\d{4}) (\d{2}):(\d{2}):(\d{2}) GMT$/;
const RFC850_DATE =
  /^(?:Monday|Tuesday|Wednesday|Thursday|Friday|Saturday|Sunday), (\d{2})-([A-Z][a-z]{2})-(\d{2}) (\d{2}):(\d{2}):(\d{2}) GMT$/;
const ASCTIME_DATE = /^(?:Mon|Tue|Wed|Thu|Fri|Sat|Sun) ([A-Z][a-z]{2}) ([ \d]\d) (\d{2}):(\d{2}):(\d{2}) (\d{4})$/;

/** The three HTTP-date forms a recipient must accept (RFC 9110 §5.6.7), as epoch milliseconds. */
export function parseHttpDate(value: string, now: string): number | undefined {
  let day: number, month: number, year: number, h: number, m: number, s: number;
  // IMF-fixdate and RFC 850 share one group layout (day, month, year, h, m, s); asctime orders them differently.
  const fixOrRfc850 = IMF_FIXDATE.exec(value) ?? RFC850_DATE.exec(value);
  const asctime = fixOrRfc850 ? null : ASCTIME_DATE.exec(value);
  if (fixOrRfc850) {
    [day, month, year, h, m, s] = [
      Number(fixOrRfc850[1]),
      MONTHS.indexOf(fixOrRfc850[2]!),
      Number(fixOrRfc850[3]),
      Number(fixOrRfc850[4]),
      Number(fixOrRfc850[5]),
      Number(fixOrRfc850[6]),
    ];
    if (fixOrRfc850[3]!.length === 2) {
      // RFC 850's two-digit years: the most recent year with those digits that is not more than 50 years ahead (RFC 9110).
      const thisYear = new Date(now).getUTCFullYear();
      year += Math.floor(thisYear / 100) * 100;
      if (year > thisYear + 50) year -= 100;
    }
  } else if (asctime) {
    [month, day, h, m, s, year] = [
      MONTHS.indexOf(asctime[1]!),
      Number(asctime[2]!.trim()),
      Number(asctime[3]),
      Number(asctime[4]),
      Number(asctime[5]),
      Number(asctime[6]),
    ];
  } else {
    return undefined;
  }
  if (month < 0 || day < 1 || h > 23 || m > 59 || s > 60) return undefined;
  const ms = Date.UTC(year, month, day, h, m, Math.min(s, 59));
  // Date.UTC rolls 31 Feb over into March: such a date is malformed.
  return new Date(ms).getUTCDate() === day ? ms : undefined;
}

/** Retry-After as whole seconds from `now` (delay-seconds or an HTTP-date; a past date is 0); undefined when absent or malformed. */
export function parseRetryAfter(value: string | undefined, now: string): number | undefined {
  if (value === undefined) return undefined;
  const trimmed = value.trim();
  if (/^\d+$/.test(trimmed)) return Number(trimmed);
  const at = parseHttpDate(trimmed, now);
  return at === undefined ? undefined : Math.max(0, Math.ceil((at - Date.parse(now)) / 1000));
}

// ---- response bodies ---------------------------------------------------------------

function utf8Length(codePoint: number): number {
  if (codePoint < 0x80) return 1;
  if (codePoint < 0x800) return 2;
  if (codePoint < 0x10000) return 3; // lone surrogates too: they encode as U+FFFD
  return 4;
}

/**
 * The longest prefix of `input` whose UTF-8 encoding fits `maxBytes`, cut
 * between characters. Bytes are decoded first (invalid sequences become
 * U+FFFD, three bytes each), then the text is cut, so the result always fits.
 */
export function truncateUtf8(input: string | Uint8Array, maxBytes: number): { text: string; truncated: boolean } {
  let text: string;
  let cutBytes = false;
  if (typeof input === 'string') {
    text = input;
  } else {
    let end = Math.min(input.length, maxBytes);
    cutBytes = end < input.length;
    if (cutBytes) {
      // Back off over a character the cut split: continuation bytes are 10xxxxxx.
      let start = end;
      while (start > 0 && start > end - 4 && (input[start - 1]! & 0xc0) === 0x80) start--;
      const lead = start > 0 ? input[start - 1]! : 0;
      const need = lead >= 0xf0 ? 4 : lead >= 0xe0 ? 3 : lead >= 0xc0 ? 2 : 1;
      if (start > 0 && lead >= 0xc0 && end - (start - 1) < need) end = start - 1;
    }
    text = new TextDecoder('utf-8').decode(input.subarray(0, end));
  }
  let bytes = 0;
  let index = 0;
  for (const char of text) {
    const size = utf8Length(char.codePointAt(0)!);
    if (bytes + size > maxBytes) return { text: text.slice(0, index), truncated: true };
    bytes += size;
    index += char.length;
  }
  return { text, truncated: cutBytes };
}

// ---- auto-disable -------------------------------------------------------------------

export interface AutoDisableConfig {
  /** Disable when every attempt has failed for this long (24 h). */
  failingForSeconds: number;
  /** Disable after this many deliveries in a row ended FAILED (50). */
  consecutiveFailedDeliveries: number;
}

export const DEFAULT_AUTO_DISABLE: AutoDisableConfig = { failingForSeconds: 24 * 3600, consecutiveFailedDeliveries: 50 };

/**
 * The health record after one attempt, and whether the subscription must now
 * be disabled. Only attempts that reached the endpoint or failed trying count:
 * deferrals and abandoned deliveries do not. Any successful attempt clears the
 * streaks; for the store that is SET failingSince = if_not_exists(…) and
 * ADD consecutiveFailedDeliveries :1 on failure, REMOVE/SET 0 on success.
 */
export function healthAfter(
  health: SubscriptionHealth,
  step: Pick<DeliveryStep, 'decision' | 'disableSubscription'>,
  now: string,
  config: AutoDisableConfig = DEFAULT_AUTO_DISABLE,
): { health: SubscriptionHealth; disable?: Exclude<DisableReason, 'manual'> } {
  if (step.decision.kind === 'delivered') {
    return { health: { subscriptionId: health.subscriptionId, consecutiveFailedDeliveries: 0, lastSuccessAt: now } };
  }
  const failingSince = health.failingSince ?? now;
  const consecutiveFailedDeliveries = health.consecutiveFailedDeliveries + (step.decision.kind === 'failed' ? 1 : 0);
  const next: SubscriptionHealth = { ...health, failingSince, consecutiveFailedDeliveries };
  const disable = disableReasonOf(next, step, now, config);
  return disable ? { health: next, disable } : { health: next };
}

/**
 * Whether a subscription whose health is now `health` (after `step`) must be
 * disabled: 410 at once, else a failure streak too long in count or time.
 * The store applies the attempt to the health record atomically and asks this
 * of the result, so concurrent dispatchers never lose a count.
 */
export function disableReasonOf(
  health: SubscriptionHealth,
  step: Pick<DeliveryStep, 'decision' | 'disableSubscription'>,
  now: string,
  config: AutoDisableConfig = DEFAULT_AUTO_DISABLE,
): Exclude<DisableReason, 'manual'> | undefined {
  if (step.disableSubscription) return step.disableSubscription;
  if (step.decision.kind === 'delivered') return undefined;
  if (health.consecutiveFailedDeliveries >= config.consecutiveFailedDeliveries) return 'too-many-failed-deliveries';
  if (health.failingSince !== undefined && Date.parse(now) - Date.parse(health.failingSince) >= config.failingForSeconds * 1000)
    return 'failing-too-long';
  return undefined;
}

// ---- per-endpoint circuit breaker and concurrency --------------------------------------

/** The endpoint a breaker guards: scheme, host and port, so subscriptions to one receiver share it. */
export function endpointKey(url: string): string {
  return new URL(url).origin;
}

export type CircuitState = 'closed' | 'open' | 'half-open';

/** One endpoint's breaker, as stored (one item per endpoint key). */
export interface EndpointCircuit {
  endpoint: string;
  state: CircuitState;
  /** Closed: outcomes of the latest calls, oldest first, at most windowSize. */
  recentOutcomes: Array<'success' | 'failure'>;
  consecutiveFailures: number;
  /** Open: no call before this. */
  openUntil?: string;
  /** Half-open: when the single probe began. */
  probeStartedAt?: string;
}

/**
 * Seed 001 (US-016 / subtask 2.7.3, Resilience4j): closed → open on a failure
 * rate over a count-based window, open → half-open after a wait, half-open →
 * closed on a successful probe, back to open on a failed one.
 */
export interface CircuitConfig {
  /** Open when the window's failure rate exceeds this (seed 001 says "> 5%" for service traffic; see DEFAULT_CIRCUIT). */
  failureRateThreshold: number;
  windowSize: number;
  /** No rate decision before this many calls in the window. */
  minimumCalls: number;
  /** Open on this many failures in a row whatever the window says: a dead endpoint trips fast even at low volume. */
  consecutiveFailureThreshold: number;
  /** Cool-down: how long open lasts before a probe (Resilience4j's waitDurationInOpenState, 60 s). */
  openSeconds: number;
  /** A probe not reported within this is taken as lost, and another may go. */
  probeTimeoutSeconds: number;
  /** Per-endpoint in-flight limit, to spare slow receivers. */
  maxInFlight: number;
  /** How long a delivery turned away by the in-flight limit waits. */
  busyDeferSeconds: number;
}

/**
 * Defaults. The rate is Resilience4j's 50 %, not the seed's 5 %: deliveries
 * already retry on their own schedule, so the breaker is only for an endpoint
 * that is down now, and at 5 % a receiver failing one request in twenty would
 * spend most of its time open. Configure 0.05 to follow the seed literally.
 */
export const DEFAULT_CIRCUIT: CircuitConfig = {
  failureRateThreshold: 0.5,
  windowSize: 20,
  minimumCalls: 10,
  consecutiveFailureThreshold: 5,
  openSeconds: 60,
  probeTimeoutSeconds: 30,
  maxInFlight: 10,
  busyDeferSeconds: 5,
};

export function closedCircuit(endpoint: string): EndpointCircuit {
  return { endpoint, state: 'closed', recentOutcomes: [], consecutiveFailures: 0 };
}

/** What the breaker counts as the endpoint failing: the retryable outcomes. A 4xx (410 too) means the endpoint is up and answering. */
export function circuitOutcome(outcome: AttemptOutcome): 'success' | 'failure' {
  return classifyOutcome(outcome) === 'retryable' ? 'failure' : 'success';
}

export type GateDecision =
  { kind: 'send' } | { kind: 'defer'; until: string; reason: 'circuit-open' | 'probe-in-flight' | 'endpoint-busy' };

/**
 * Whether a delivery to this endpoint may go now: the in-flight limit first
 * (so no probe is started that cannot be sent), then the breaker. Returns the
 * circuit to store (open → half-open when this send is the probe). A deferral
 * spends no attempt: deferDelivery, then queue again for `until`.
 */
export function gateDispatch(
  circuit: EndpointCircuit,
  inFlight: number,
  config: CircuitConfig,
  now: string,
): { decision: GateDecision; circuit: EndpointCircuit } {
  const at = Date.parse(now);
  if (inFlight >= config.maxInFlight) {
    return { decision: { kind: 'defer', until: plusSeconds(now, config.busyDeferSeconds), reason: 'endpoint-busy' }, circuit };
  }
  if (circuit.state === 'closed') return { decision: { kind: 'send' }, circuit };
  if (circuit.state === 'open' && circuit.openUntil !== undefined && Date.parse(circuit.openUntil) > at) {
    return { decision: { kind: 'defer', until: circuit.openUntil, reason: 'circuit-open' }, circuit };
  }
  if (circuit.state === 'half-open' && circuit.probeStartedAt !== undefined) {
    const probeExpires = Date.parse(circuit.probeStartedAt) + config.probeTimeoutSeconds * 1000;
    if (probeExpires > at)
      return { decision: { kind: 'defer', until: new Date(probeExpires).toISOString(), reason: 'probe-in-flight' }, circuit };
  }
  // Cool-down over, or the last probe was lost: this send is the probe.
  const probing: EndpointCircuit = {
    endpoint: circuit.endpoint,
    state: 'half-open',
    recentOutcomes: [],
    consecutiveFailures: circuit.consecutiveFailures,
    probeStartedAt: now,
  };
  return { decision: { kind: 'send' }, circuit: probing };
}

/** The circuit after a call to its endpoint ended with `result`. */
export function recordCircuitResult(
  circuit: EndpointCircuit,
  result: 'success' | 'failure',
  config: CircuitConfig,
  now: string,
): EndpointCircuit {
  const open = (consecutiveFailures: number): EndpointCircuit => ({
    endpoint: circuit.endpoint,
    state: 'open',
    recentOutcomes: [],
    consecutiveFailures,
    openUntil: plusSeconds(now, config.openSeconds),
  });
  switch (circuit.state) {
    case 'half-open':
      return result === 'success' ? closedCircuit(circuit.endpoint) : open(circuit.consecutiveFailures + 1);
    case 'open':
      // A call that began before the circuit opened; a success shows the endpoint is back, so probe at once.
      return result === 'success' ? { ...circuit, openUntil: now } : circuit;
    case 'closed': {
      const recentOutcomes = [...circuit.recentOutcomes, result].slice(-config.windowSize);
      const consecutiveFailures = result === 'failure' ? circuit.consecutiveFailures + 1 : 0;
      const failures = recentOutcomes.filter((o) => o === 'failure').length;
      const rateTripped = recentOutcomes.length >= config.minimumCalls && failures / recentOutcomes.length > config.failureRateThreshold;
      if (result === 'failure' && (rateTripped || consecutiveFailures >= config.consecutiveFailureThreshold))
        return open(consecutiveFailures);
      return { ...circuit, recentOutcomes, consecutiveFailures };
    }
  }
}

// ---- the pipeline's ports ------------------------------------------------------------

/** The id of an event's delivery to a subscription: the same for every fan-out of that event, so a redelivered event finds the first delivery. */
const DELIVERY_NAMESPACE = Buffer.from('7b0f5e52c6d94a31b1e08a3c2d4f6e19', 'hex');
export function deliveryIdOf(subscriptionId: string, eventId: string): string {
  return derivedUuid(DELIVERY_NAMESPACE, [subscriptionId, eventId]);
}

export interface DeliveryQuery extends PageRequest {
  subscriptionId?: string;
  status?: DeliveryStatus;
  eventType?: string;
}

/** Deliveries and their attempts. No events and no audit of their own: they are the webhook pipeline's bookkeeping, not state changes subscribers are told of. */
export interface DeliveryStore {
  /**
   * Stores `delivery` unless its id exists (for an event: one per
   * subscriptionId#eventId, deliveryIdOf); answers the stored one and whether
   * this call created it.
   */
  createDeliveryOnce(delivery: WebhookDelivery): Promise<{ created: boolean; delivery: WebhookDelivery }>;
  getDelivery(id: string): Promise<WebhookDelivery | undefined>;
  /** Newest first; filters combine. */
  listDeliveries(query: DeliveryQuery): Promise<Page<WebhookDelivery>>;
  /** Every attempt of a delivery, oldest first. */
  listAttempts(deliveryId: string): Promise<DeliveryAttempt[]>;
  /**
   * Writes `next` if the stored delivery is still at `expectedRevision` (else
   * VersionConflictError: another dispatcher took it); with `attempt`, the
   * attempt record in the same transaction.
   */
  saveDelivery(next: WebhookDelivery, expectedRevision: number, attempt?: DeliveryAttempt): Promise<void>;
}

/** A subscription's failure streaks, updated atomically by concurrent dispatchers. */
export interface SubscriptionHealthStore {
  /** Applies one attempt's decision (delivered clears the streaks; failed adds one; retry starts failingSince) and answers the record after it. */
  recordAttempt(subscriptionId: string, decision: DeliveryDecision['kind'], now: string): Promise<SubscriptionHealth>;
}

/**
 * Per-endpoint circuit and in-flight leases, one record per endpointKey. Both
 * calls read, apply the pure functions above (gateDispatch,
 * recordCircuitResult) and write back conditionally, retrying a lost race.
 */
export interface EndpointStore {
  /** Whether `deliveryId` may be sent to `endpoint` now; on `send` it holds an in-flight lease until release (or `leaseSeconds`). */
  acquire(endpoint: string, deliveryId: string, config: CircuitConfig, now: string, leaseSeconds: number): Promise<GateDecision>;
  /** Ends the lease and counts the call's result in the circuit. */
  release(
    endpoint: string,
    deliveryId: string,
    result: 'success' | 'failure',
    config: CircuitConfig,
    now: string,
  ): Promise<EndpointCircuit>;
}

/** The `webhook-delivery` queue: a message names a delivery; the dispatcher reads the rest from the store. */
export interface DeliveryQueue {
  send(messages: ReadonlyArray<{ deliveryId: string; delaySeconds: number }>): Promise<void>;
}

/** The body of a `webhook-delivery` message. */
export interface DeliveryMessage {
  deliveryId: string;
}

// ---- the deliveries API ---------------------------------------------------------------

export type DeliveryDetail = PublicDelivery & { attempts: Array<Omit<DeliveryAttempt, 'deliveryId'>> };

/** Reads deliveries and starts them again; queueing is part of it, so a delivery is never stored without its message. */
export class DeliveryService {
  constructor(
    private readonly deliveries: DeliveryStore,
    private readonly subscriptions: Pick<SubscriptionStore, 'getSubscription'>,
    private readonly queue: DeliveryQueue,
    private readonly clock: Clock,
  ) {}

  async list(query: DeliveryQuery): Promise<Page<PublicDelivery>> {
    const page = await this.deliveries.listDeliveries(query);
    return { ...page, items: page.items.map(publicDelivery) };
  }

  async get(id: string): Promise<DeliveryDetail> {
    const delivery = await this.load(id);
    const attempts = await this.deliveries.listAttempts(id);
    return { ...publicDelivery(delivery), attempts: attempts.map(({ deliveryId: _id, ...attempt }) => attempt) };
  }

  /** A FAILED delivery, PENDING again with a fresh run of attempts, queued at once. */
  async retry(id: string): Promise<PublicDelivery> {
    const delivery = await this.load(id);
    const subscription = await this.subscriptions.getSubscription(delivery.subscriptionId);
    const restarted = retryManually(delivery, subscription, this.clock.now());
    await this.deliveries.saveDelivery(restarted, delivery.revision);
    await this.queue.send([{ deliveryId: restarted.id, delaySeconds: 0 }]);
    return publicDelivery(restarted);
  }

  /** Queues a delivery just stored (a test ping). */
  async enqueue(delivery: WebhookDelivery): Promise<PublicDelivery> {
    await this.queue.send([{ deliveryId: delivery.id, delaySeconds: 0 }]);
    return publicDelivery(delivery);
  }

  private async load(id: string): Promise<WebhookDelivery> {
    const delivery = await this.deliveries.getDelivery(id);
    if (!delivery) throw new NotFoundError('WebhookDelivery', id);
    return delivery;
  }
}
