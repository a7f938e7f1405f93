/**
 * The webhook dispatcher's logic (DESIGN.md §5): one `webhook-delivery`
 * message, one delivery taken through the pure state machine of
 * shared/domain/webhooks.ts:
 *
 *   read → dispatchReadiness → (drop | abandon | wait | ready)
 *   ready → endpoint gate (circuit breaker, in-flight limit) → defer, or
 *   beginAttempt (SENDING, one attempt counted, saved at the read revision:
 *   a duplicate message loses the race and is dropped) → signed POST through
 *   the SSRF guard → nextStep → save with the attempt record → release the
 *   endpoint lease with the breaker's result → subscription health and
 *   auto-disable → queue again for a retry.
 *
 * Waits go back on the queue with DelaySeconds (at most 900; a longer wait
 * is re-queued when it comes round). Secrets only ever reach
 * signatureHeaders: never a result, a log line or an error.
 */
import type { Logger } from '@aws-lambda-powertools/logger';
import { VersionConflictError } from '../domain/errors.js';
import type { AuditContext } from '../domain/ports.js';
import {
  activeSecrets,
  autoDisableSubscription,
  beginAttempt,
  circuitOutcome,
  DEFAULT_AUTO_DISABLE,
  DEFAULT_CIRCUIT,
  deferDelivery,
  deliveryConfig,
  disableReasonOf,
  dispatchReadiness,
  endpointKey,
  MAX_DELAY_SECONDS,
  nextStep,
  parseRetrySeconds,
  type AttemptOutcome,
  type AutoDisableConfig,
  type CircuitConfig,
  type DeliveryConfig,
  type DeliveryDecision,
  type DeliveryQueue,
  type DeliveryStatus,
  type DeliveryStep,
  type DeliveryStore,
  type DisableReason,
  type EndpointStore,
  type SubscriptionHealthStore,
  type SubscriptionStore,
  type WebhookDelivery,
} from '../domain/webhooks.js';
import { withAudit } from '../store/audit-scope.js';
import { webhookUrlPolicyFromEnv } from './adapters.js';
import { signatureHeaders } from './signing.js';
import { guardedPost, WebhookDeliveryError, type WebhookUrlPolicy } from './ssrf.js';

export const WEBHOOK_USER_AGENT = 'Switchyard-Webhooks/1';
export const WEBHOOK_CONTENT_TYPE = 'application/cloudevents+json; charset=utf-8';

export interface WebhookDispatchConfig {
  delivery: DeliveryConfig;
  circuit: CircuitConfig;
  autoDisable: AutoDisableConfig;
  policy: WebhookUrlPolicy;
  /** Per-attempt timeout (default WEBHOOK_TIMEOUT_MS, 10 s); tests shorten it. */
  timeoutMs?: number;
}

/** Diagnostics only; never given a secret. */
export type DispatchLogger = Pick<Logger, 'warn'>;

export interface DispatchDeps {
  subscriptions: Pick<SubscriptionStore, 'getSubscription' | 'replaceSubscription'>;
  deliveries: Pick<DeliveryStore, 'getDelivery' | 'saveDelivery'>;
  health: SubscriptionHealthStore;
  endpoints: EndpointStore;
  queue: DeliveryQueue;
  /** Read at every step, never cached (the local runtime scales the clock). */
  now: () => string;
  logger?: DispatchLogger;
  /** Names the invocation in the audit record of an auto-disable (the Lambda request id). */
  requestId?: string;
}

/** What one message came to, for metrics, logs and tests. Holds no secret. */
export interface DispatchResult {
  deliveryId: string;
  subscriptionId?: string;
  /**
   * dropped: nothing to do (missing, finished, in flight, or another dispatcher took it);
   * abandoned: its subscription is disabled or gone, stored FAILED unsent;
   * waiting: not due yet, queued again; deferred: the endpoint's gate said not now (no attempt spent);
   * delivered / retrying / failed: an attempt was made (or, for failed, the last one was lost).
   */
  action: 'dropped' | 'abandoned' | 'waiting' | 'deferred' | 'delivered' | 'retrying' | 'failed';
  /** dropped: missing | finished | in-flight | taken; deferred: circuit-open | probe-in-flight | endpoint-busy; abandoned/failed: the failure reason. */
  reason?: string;
  /** The delivery's status after this message. */
  status?: DeliveryStatus;
  kind?: WebhookDelivery['kind'];
  /** The attempt's number (1-based over all runs), status code, latency and error. */
  attempt?: number;
  statusCode?: number;
  latencyMs?: number;
  error?: string;
  /** The delay of the message queued again (waiting, deferred, retrying). */
  delaySeconds?: number;
  /** Set when this attempt disabled the subscription. */
  disabledSubscription?: Exclude<DisableReason, 'manual'>;
}

const DEFAULT_RETRY = '30,60,120,300,900';

function positiveInteger(env: NodeJS.ProcessEnv, name: string): number | undefined {
  const raw = env[name];
  if (raw === undefined || raw.trim() === '') return undefined;
  const value = Number(raw);
  if (!Number.isInteger(value) || value < 1) throw new Error(`${name} must be a whole number of 1 or more; got ${raw}`);
  return value;
}

/**
 * The dispatcher's configuration from its environment: WEBHOOK_RETRY_SECONDS
 * (comma-separated, default 30,60,120,300,900), WEBHOOK_AUTO_DISABLE_FAILED_DELIVERIES
 * (50), WEBHOOK_AUTO_DISABLE_FAILING_SECONDS (86400), WEBHOOK_CIRCUIT_FAILURE_RATE
 * (0–1, 0.5), WEBHOOK_MAX_IN_FLIGHT (10) and WEBHOOK_URL_POLICY (`local`, else deployed).
 */
export function webhookDispatchConfigFromEnv(env: NodeJS.ProcessEnv = process.env): WebhookDispatchConfig {
  const retrySeconds = parseRetrySeconds(env.WEBHOOK_RETRY_SECONDS ?? DEFAULT_RETRY);
  const failedDeliveries = positiveInteger(env, 'WEBHOOK_AUTO_DISABLE_FAILED_DELIVERIES');
  const failingSeconds = positiveInteger(env, 'WEBHOOK_AUTO_DISABLE_FAILING_SECONDS');
  const maxInFlight = positiveInteger(env, 'WEBHOOK_MAX_IN_FLIGHT');
  const rateText = env.WEBHOOK_CIRCUIT_FAILURE_RATE;
  let failureRateThreshold = DEFAULT_CIRCUIT.failureRateThreshold;
  if (rateText !== undefined && rateText.trim() !== '') {
    failureRateThreshold = Number(rateText);
    if (!(failureRateThreshold >= 0 && failureRateThreshold <= 1))
      throw new Error(`WEBHOOK_CIRCUIT_FAILURE_RATE must be a number from 0 to 1; got ${rateText}`);
  }
  return {
    delivery: deliveryConfig({ retrySeconds }),
    circuit: { ...DEFAULT_CIRCUIT, failureRateThreshold, ...(maxInFlight !== undefined && { maxInFlight }) },
    autoDisable: {
      consecutiveFailedDeliveries: failedDeliveries ?? DEFAULT_AUTO_DISABLE.consecutiveFailedDeliveries,
      failingForSeconds: failingSeconds ?? DEFAULT_AUTO_DISABLE.failingForSeconds,
    },
    policy: webhookUrlPolicyFromEnv(env),
  };
}

/** Whole seconds from `now` to `until`, as one SQS delay (0–900; a longer wait comes round again). */
export function delayUntil(until: string, now: string): number {
  return Math.min(MAX_DELAY_SECONDS, Math.max(0, Math.ceil((Date.parse(until) - Date.parse(now)) / 1000)));
}

const TRACEPARENT = /^[0-9a-f]{2}-[0-9a-f]{32}-[0-9a-f]{16}-[0-9a-f]{2}$/;

/** The CloudEvent's `traceparent` extension, if it carries a well-formed one. */
function traceparentOf(body: string): string | undefined {
  try {
    const value = (JSON.parse(body) as { traceparent?: unknown } | null)?.traceparent;
    return typeof value === 'string' && TRACEPARENT.test(value) ? value : undefined;
  } catch {
    return undefined;
  }
}

/** Every header of one attempt: the Standard Webhooks three (signed at `at`), the media type, and trace context. */
export function deliveryHeaders(
  delivery: Pick<WebhookDelivery, 'id' | 'subscriptionId' | 'body'>,
  secrets: readonly string[],
  at: Date,
): Record<string, string> {
  const traceparent = traceparentOf(delivery.body);
  return {
    ...signatureHeaders({ id: delivery.id, timestamp: at, body: delivery.body, secrets }),
    'content-type': WEBHOOK_CONTENT_TYPE,
    'user-agent': WEBHOOK_USER_AGENT,
    ...(traceparent ? { traceparent } : {}),
    // W3C Baggage: ids only, so a receiver's tracing can tie its span to the delivery.
    baggage: `switchyard.delivery=${encodeURIComponent(delivery.id)},switchyard.subscription=${encodeURIComponent(delivery.subscriptionId)}`,
  };
}

/** One POST's result as the state machine's AttemptOutcome. */
async function attempt(url: string, body: string, headers: Record<string, string>, config: WebhookDispatchConfig): Promise<AttemptOutcome> {
  try {
    const response = await guardedPost(url, body, headers, config.policy, {
      ...(config.timeoutMs !== undefined ? { timeoutMs: config.timeoutMs } : {}),
    });
    const retryAfter = response.headers['retry-after'];
    return {
      kind: 'response',
      statusCode: response.status,
      latencyMs: response.latencyMs,
      ...(retryAfter !== undefined ? { retryAfter } : {}),
      body: response.bodyFirstKiB,
    };
  } catch (error) {
    if (!(error instanceof WebhookDeliveryError)) throw error;
    if (error.kind === 'timeout') return { kind: 'timeout', latencyMs: error.latencyMs };
    return { kind: 'network-error', error: `${error.kind}: ${error.message}`, latencyMs: error.latencyMs };
  }
}

const messageOf = (error: unknown) => (error instanceof Error ? `${error.name}: ${error.message}` : String(error));

/** The audit context of a change the dispatcher makes (auto-disable): the pipeline itself, not a caller. */
function dispatcherAudit(subscriptionId: string, requestId: string): AuditContext {
  return {
    actor: { id: 'webhook-dispatcher', kind: 'system', name: 'webhook-dispatcher' },
    action: 'autoDisableSubscription',
    method: 'SQS',
    path: `/api/v1/webhooks/subscriptions/${subscriptionId}`,
    requestId,
    sourceIp: 'webhook-dispatcher',
  };
}

const AUTO_DISABLE_TRIES = 3;

/**
 * Counts an attempt's decision in the subscription's health and disables the
 * subscription when it must be (410, or a failure streak). Failures here are
 * logged, not thrown: the message is done (a redelivery would not attempt
 * again), and the next attempt re-evaluates the same streak.
 */
async function recordHealth(
  delivery: WebhookDelivery,
  step: Pick<DeliveryStep, 'decision' | 'disableSubscription'>,
  deps: DispatchDeps,
  config: WebhookDispatchConfig,
): Promise<Exclude<DisableReason, 'manual'> | undefined> {
  // A test ping checks the receiver; its outcome says nothing about the subscription's event traffic.
  if (delivery.kind === 'test') return undefined;
  try {
    const now = deps.now();
    const health = await deps.health.recordAttempt(delivery.subscriptionId, step.decision.kind, now);
    const reason = disableReasonOf(health, step, now, config.autoDisable);
    if (!reason) return undefined;
    const audit = dispatcherAudit(delivery.subscriptionId, deps.requestId ?? delivery.id);
    for (let tries = 1; ; tries++) {
      try {
        const disabled = await withAudit(audit, () =>
          autoDisableSubscription(deps.subscriptions, delivery.subscriptionId, reason, deps.now()),
        );
        return disabled ? reason : undefined;
      } catch (error) {
        if (!(error instanceof VersionConflictError) || tries >= AUTO_DISABLE_TRIES) throw error;
      }
    }
  } catch (error) {
    deps.logger?.warn('webhook subscription health not updated', {
      deliveryId: delivery.id,
      subscriptionId: delivery.subscriptionId,
      error: messageOf(error),
    });
    return undefined;
  }
}

/** Saves `next` at `expectedRevision`; false when another dispatcher changed the delivery first. */
async function saved(deps: DispatchDeps, next: WebhookDelivery, expectedRevision: number, step?: DeliveryStep): Promise<boolean> {
  try {
    await deps.deliveries.saveDelivery(next, expectedRevision, step?.attempt);
    return true;
  } catch (error) {
    if (error instanceof VersionConflictError) return false;
    throw error;
  }
}

const resultOfDecision = (decision: DeliveryDecision): Pick<DispatchResult, 'action' | 'reason'> =>
  decision.kind === 'delivered'
    ? { action: 'delivered' }
    : decision.kind === 'retry'
      ? { action: 'retrying' }
      : { action: 'failed', reason: decision.reason };

/** Handles one `webhook-delivery` message. Throws only on an unexpected failure (a store or queue error): SQS then redelivers it. */
export async function dispatchDelivery(deliveryId: string, deps: DispatchDeps, config: WebhookDispatchConfig): Promise<DispatchResult> {
  const delivery = await deps.deliveries.getDelivery(deliveryId);
  if (!delivery) return { deliveryId, action: 'dropped', reason: 'missing' };
  const base = { deliveryId, subscriptionId: delivery.subscriptionId, kind: delivery.kind };
  const subscription = await deps.subscriptions.getSubscription(delivery.subscriptionId);
  let now = deps.now();
  const readiness = dispatchReadiness(delivery, subscription, config.delivery, now);
  switch (readiness.kind) {
    case 'drop':
      return { ...base, action: 'dropped', reason: readiness.reason, status: delivery.status };
    case 'abandon': {
      if (!(await saved(deps, readiness.delivery, delivery.revision))) return { ...base, action: 'dropped', reason: 'taken' };
      return { ...base, action: 'abandoned', reason: readiness.delivery.failureReason, status: 'FAILED' };
    }
    case 'wait': {
      const delaySeconds = delayUntil(readiness.until, now);
      await deps.queue.send([{ deliveryId, delaySeconds }]);
      return { ...base, action: 'waiting', status: delivery.status, delaySeconds };
    }
    case 'ready':
      break;
  }
  // dispatchReadiness answers ready only with a subscription.
  if (!subscription) throw new Error(`delivery ${deliveryId}: ready without a subscription`);

  const sending = beginAttempt(delivery, config.delivery, now);
  if (sending.status === 'FAILED') {
    // The last attempt of the run was lost (its dispatcher died mid-send): the delivery fails without another POST.
    if (!(await saved(deps, sending, delivery.revision))) return { ...base, action: 'dropped', reason: 'taken' };
    const step = { decision: { kind: 'failed', reason: 'attempts-exhausted' } as const };
    const disabled = await recordHealth(delivery, step, deps, config);
    return {
      ...base,
      action: 'failed',
      reason: 'attempts-exhausted',
      status: 'FAILED',
      error: 'attempt lost',
      ...(disabled && { disabledSubscription: disabled }),
    };
  }

  const endpoint = endpointKey(subscription.url);
  const gate = await deps.endpoints.acquire(endpoint, deliveryId, config.circuit, now, config.delivery.sendingStaleAfterSeconds);
  if (gate.kind === 'defer') {
    // No attempt spent. A stale SENDING delivery (its dispatcher died) cannot be deferred; it stays taken-over-able and comes round again.
    if (delivery.status !== 'SENDING' && !(await saved(deps, deferDelivery(delivery, gate.until, now), delivery.revision))) {
      return { ...base, action: 'dropped', reason: 'taken' };
    }
    const delaySeconds = delayUntil(gate.until, now);
    await deps.queue.send([{ deliveryId, delaySeconds }]);
    return { ...base, action: 'deferred', reason: gate.reason, status: delivery.status, delaySeconds };
  }

  const release = async (result: 'success' | 'failure') => {
    try {
      await deps.endpoints.release(endpoint, deliveryId, result, config.circuit, deps.now());
    } catch (error) {
      // The lease expires by itself (leaseSeconds); the breaker misses one result.
      deps.logger?.warn('webhook endpoint lease not released', { deliveryId, endpoint, error: messageOf(error) });
    }
  };

  let taken: boolean;
  try {
    taken = await saved(deps, sending, delivery.revision);
  } catch (error) {
    await release('success');
    throw error;
  }
  if (!taken) {
    // A duplicate message: another dispatcher began this attempt. No call was made; the port has no neutral
    // release, and a phantom success only ever errs toward sending (the delivery's own retries still apply).
    await release('success');
    return { ...base, action: 'dropped', reason: 'taken' };
  }

  let outcome: AttemptOutcome;
  try {
    now = deps.now();
    const headers = deliveryHeaders(delivery, activeSecrets(subscription, now), new Date(now));
    outcome = await attempt(subscription.url, delivery.body, headers, config);
  } catch (error) {
    // Not a delivery failure (signing refused, a bug): SQS redelivers; the SENDING delivery goes stale and is taken again.
    await release('success');
    throw new Error(`delivery ${deliveryId}: attempt not made: ${messageOf(error)}`, { cause: error });
  }

  now = deps.now();
  const step = nextStep(sending, outcome, config.delivery, now);
  const stored = await saved(deps, step.delivery, sending.revision, step).catch(async (error: unknown) => {
    await release(circuitOutcome(outcome));
    throw error;
  });
  await release(circuitOutcome(outcome));
  const attemptFields = {
    attempt: step.attempt.number,
    latencyMs: step.attempt.latencyMs,
    ...(step.attempt.statusCode !== undefined && { statusCode: step.attempt.statusCode }),
    ...(step.attempt.error !== undefined && { error: step.attempt.error }),
  };
  // Our attempt outlived sendingStaleAfterSeconds and another dispatcher took the delivery over: its result counts, not ours.
  if (!stored) return { ...base, action: 'dropped', reason: 'taken', ...attemptFields };

  // Health first: it never throws, and a failed send below has SQS redeliver this message, which then only re-queues the wait.
  const disabled = await recordHealth(delivery, step, deps, config);
  let delaySeconds: number | undefined;
  if (step.decision.kind === 'retry') {
    delaySeconds = step.decision.delaySeconds;
    await deps.queue.send([{ deliveryId, delaySeconds }]);
  }
  return {
    ...base,
    ...resultOfDecision(step.decision),
    status: step.delivery.status,
    ...attemptFields,
    ...(delaySeconds !== undefined && { delaySeconds }),
    ...(disabled && { disabledSubscription: disabled }),
  };
}
