import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { RuleViolationError } from '../../../shared/domain/errors.js';
import {
  beginAttempt,
  classifyOutcome,
  DEFAULT_AUTO_DISABLE,
  deferDelivery,
  deliveryConfig,
  dispatchReadiness,
  freshHealth,
  healthAfter,
  maxAttempts,
  newDelivery,
  nextStep,
  parseRetryAfter,
  parseRetrySeconds,
  publicDelivery,
  retryManually,
  truncateUtf8,
  type AttemptOutcome,
  type DeliveryConfig,
  type DeliveryStep,
  type SubscriptionHealth,
  type WebhookDelivery,
} from '../../../shared/domain/webhooks.js';

const T0 = '2026-11-23T10:00:00.000Z';
const at = (seconds: number) => new Date(Date.parse(T0) + seconds * 1000).toISOString();
const secondsBetween = (a: string, b: string) => (Date.parse(b) - Date.parse(a)) / 1000;

const enabled = { enabled: true };
const fresh = (kind: 'event' | 'test' = 'event') =>
  newDelivery({ id: 'd1', subscriptionId: 's1', event: { id: 'e1', type: 'deployment.rolled_back', body: '{"id":"e1"}' }, kind, now: T0 });

const response = (statusCode: number, extra: Partial<Extract<AttemptOutcome, { kind: 'response' }>> = {}): AttemptOutcome => ({
  kind: 'response',
  statusCode,
  latencyMs: 42,
  ...extra,
});
const networkError: AttemptOutcome = { kind: 'network-error', error: 'ECONNREFUSED', latencyMs: 3 };
const timeout: AttemptOutcome = { kind: 'timeout', latencyMs: 10_000 };

/**
 * Plays the dispatcher on a clock that jumps to each nextAttemptAt: ready →
 * begin → outcome → nextStep, until DELIVERED or FAILED. Returns the steps.
 */
function run(config: DeliveryConfig, outcomeOf: (attempt: number) => AttemptOutcome, start = fresh(), startAt = T0): DeliveryStep[] {
  const steps: DeliveryStep[] = [];
  let delivery: WebhookDelivery = start;
  let now = startAt;
  for (let guard = 0; guard < 100; guard++) {
    expect(dispatchReadiness(delivery, enabled, config, now)).toEqual({ kind: 'ready' });
    const sending = beginAttempt(delivery, config, now);
    expect(sending.status).toBe('SENDING');
    now = at(secondsBetween(T0, now) + 1); // the attempt takes a second
    const step = nextStep(sending, outcomeOf(sending.attemptsInRun), config, now);
    steps.push(step);
    delivery = step.delivery;
    if (delivery.status === 'DELIVERED' || delivery.status === 'FAILED') return steps;
    expect(delivery.status).toBe('RETRYING');
    if (delivery.nextAttemptAt !== now)
      expect(dispatchReadiness(delivery, enabled, config, now)).toEqual({ kind: 'wait', until: delivery.nextAttemptAt });
    now = delivery.nextAttemptAt!;
  }
  throw new Error('did not finish');
}

describe('delivery config', () => {
  it('defaults to 30, 60, 120, 300, 900 s: six attempts in all', () => {
    const config = deliveryConfig();
    expect(config.retrySeconds).toEqual([30, 60, 120, 300, 900]);
    expect(maxAttempts(config)).toBe(6);
  });

  it('refuses a Retry-After cap SQS cannot delay and a non-positive staleness', () => {
    expect(() => deliveryConfig({ retryAfterCapSeconds: 3600 })).toThrow(/retryAfterCapSeconds/);
    expect(() => deliveryConfig({ sendingStaleAfterSeconds: 0 })).toThrow(/sendingStaleAfterSeconds/);
    expect(deliveryConfig({ retryAfterCapSeconds: undefined }).retryAfterCapSeconds).toBe(900);
  });

  it('parses the CDK context value and refuses what SQS cannot delay', () => {
    expect(parseRetrySeconds('1, 2,4')).toEqual([1, 2, 4]);
    expect(parseRetrySeconds('')).toEqual([]);
    expect(() => parseRetrySeconds('30,abc')).toThrow(/webhookRetrySeconds/);
    expect(() => parseRetrySeconds('901')).toThrow(/900/);
    expect(() => parseRetrySeconds('-1')).toThrow();
    expect(() => parseRetrySeconds('1.5')).toThrow();
  });
});

describe('the retry sequence', () => {
  it('fails after six attempts spaced 30, 60, 120, 300, 900 s, recording each', () => {
    const steps = run(deliveryConfig(), () => response(500, { body: 'boom' }));
    expect(steps).toHaveLength(6);
    expect(steps.slice(0, 5).map((s) => (s.decision.kind === 'retry' ? s.decision.delaySeconds : -1))).toEqual([30, 60, 120, 300, 900]);
    expect(steps[5]!.decision).toEqual({ kind: 'failed', reason: 'attempts-exhausted' });
    expect(steps[5]!.delivery).toMatchObject({ status: 'FAILED', failureReason: 'attempts-exhausted', attemptsInRun: 6, totalAttempts: 6 });
    expect(steps.map((s) => s.attempt.number)).toEqual([1, 2, 3, 4, 5, 6]);
    // Each attempt begins one configured delay after the previous one ended.
    const starts = steps.map((s) => s.attempt.at);
    expect(starts.slice(1).map((start, i) => secondsBetween(starts[i]!, start) - 1)).toEqual([30, 60, 120, 300, 900]);
    expect(steps[0]!.attempt).toEqual({
      deliveryId: 'd1',
      number: 1,
      run: 1,
      at: T0,
      statusCode: 500,
      latencyMs: 42,
      responseBody: 'boom',
    });
  });

  it('property: attempts = schedule length + 1, each wait exactly as configured, for any schedule and retryable failure', () => {
    const schedule = fc.array(fc.integer({ min: 0, max: 900 }), { maxLength: 8 }).map((a) => a.sort((x, y) => x - y));
    const failure = fc.constantFrom<AttemptOutcome>(
      networkError,
      timeout,
      response(500),
      response(502),
      response(503),
      response(429),
      response(599),
    );
    fc.assert(
      fc.property(schedule, failure, (retrySeconds, outcome) => {
        const config = deliveryConfig({ retrySeconds });
        const steps = run(config, () => outcome);
        expect(steps).toHaveLength(retrySeconds.length + 1);
        const delays = steps.flatMap((s) => (s.decision.kind === 'retry' ? [s.decision.delaySeconds] : []));
        expect(delays).toEqual(retrySeconds);
        expect(delays.every((d, i) => i === 0 || d >= delays[i - 1]!)).toBe(true);
        expect(steps.at(-1)!.delivery.status).toBe('FAILED');
      }),
    );
  });

  it('property: a success at attempt k ends DELIVERED after k attempts', () => {
    fc.assert(
      fc.property(fc.integer({ min: 1, max: 6 }), fc.integer({ min: 200, max: 299 }), (k, ok) => {
        const steps = run(deliveryConfig(), (n) => (n === k ? response(ok) : networkError));
        expect(steps).toHaveLength(k);
        expect(steps.at(-1)!.delivery).toMatchObject({ status: 'DELIVERED', deliveredAt: expect.any(String) });
        expect(steps.at(-1)!.delivery.lastError).toBeUndefined();
      }),
    );
  });

  it('classifies outcomes: network error, timeout, 5xx and 429 retry; 410 is gone; every other 3xx/4xx fails at once', () => {
    const table: Array<[AttemptOutcome, string]> = [
      [response(200), 'success'],
      [response(204), 'success'],
      [response(299), 'success'],
      [networkError, 'retryable'],
      [timeout, 'retryable'],
      [response(500), 'retryable'],
      [response(503), 'retryable'],
      [response(429), 'retryable'],
      [response(410), 'gone'],
      [response(301), 'permanent'],
      [response(307), 'permanent'],
      [response(400), 'permanent'],
      [response(401), 'permanent'],
      [response(403), 'permanent'],
      [response(404), 'permanent'],
      [response(408), 'permanent'],
      [response(413), 'permanent'],
      [response(422), 'permanent'],
      [response(100), 'permanent'],
    ];
    for (const [outcome, expected] of table) expect(classifyOutcome(outcome), JSON.stringify(outcome)).toBe(expected);
  });

  it('fails a 4xx at the first attempt and records the error of a network failure', () => {
    const steps = run(deliveryConfig(), () => response(401, { body: 'bad signature' }));
    expect(steps).toHaveLength(1);
    expect(steps[0]!.decision).toEqual({ kind: 'failed', reason: 'not-retryable' });
    expect(steps[0]!.disableSubscription).toBeUndefined();

    const [first] = run(deliveryConfig({ retrySeconds: [] }), () => networkError);
    expect(first!.attempt).toMatchObject({ error: 'ECONNREFUSED', latencyMs: 3 });
    expect(first!.attempt.statusCode).toBeUndefined();
    expect(first!.delivery).toMatchObject({ lastError: 'ECONNREFUSED' });
    const [timedOut] = run(deliveryConfig({ retrySeconds: [] }), () => timeout);
    expect(timedOut!.attempt.error).toBe('timeout');
  });

  it('410 fails the delivery and disables the subscription at once', () => {
    const steps = run(deliveryConfig(), () => response(410));
    expect(steps).toHaveLength(1);
    expect(steps[0]!.decision).toEqual({ kind: 'failed', reason: 'endpoint-gone' });
    expect(steps[0]!.disableSubscription).toBe('endpoint-gone');
    expect(healthAfter(freshHealth('s1'), steps[0]!, at(1)).disable).toBe('endpoint-gone');
  });

  it('shows a delivery without its body', () => {
    expect(publicDelivery(fresh())).not.toHaveProperty('body');
    expect(publicDelivery(fresh())).toMatchObject({ id: 'd1', eventId: 'e1', status: 'PENDING' });
  });

  it('refuses to record an outcome for a delivery that is not SENDING', () => {
    expect(() => nextStep(fresh(), response(200), deliveryConfig(), T0)).toThrow(/not SENDING/);
  });
});

describe('Retry-After', () => {
  const config = deliveryConfig();
  const firstDelay = (outcome: AttemptOutcome, cfg = config) => {
    const step = nextStep(beginAttempt(fresh(), cfg, T0), outcome, cfg, T0);
    return step.decision.kind === 'retry' ? step.decision.delaySeconds : undefined;
  };

  it('parses delay-seconds and the three HTTP-date forms', () => {
    expect(parseRetryAfter('120', T0)).toBe(120);
    expect(parseRetryAfter(' 0 ', T0)).toBe(0);
    expect(parseRetryAfter('Mon, 23 Nov 2026 10:05:00 GMT', T0)).toBe(300);
    expect(parseRetryAfter('Monday, 23-Nov-26 10:05:00 GMT', T0)).toBe(300);
    expect(parseRetryAfter('Mon Nov 23 10:05:00 2026', T0)).toBe(300);
    expect(parseRetryAfter('Mon Nov  2 10:00:00 2026', T0)).toBe(0); // asctime pads the day with a space; in the past → 0
    expect(parseRetryAfter('Mon, 23 Nov 2026 10:00:00.5 GMT', T0)).toBeUndefined();
    expect(parseRetryAfter('Sun, 23 Nov 2026 09:00:00 GMT', T0)).toBe(0); // past
    expect(parseRetryAfter('Mon, 23 Nov 2026 10:00:01 GMT', '2026-11-23T10:00:00.500Z')).toBe(1); // rounds up
  });

  it('ignores what is not a Retry-After value', () => {
    for (const bad of [
      undefined,
      '',
      'soon',
      '-5',
      '1.5',
      '2026-11-23T10:05:00Z',
      'Mon, 31 Feb 2026 10:00:00 GMT',
      'Mon, 23 Foo 2026 10:00:00 GMT',
    ])
      expect(parseRetryAfter(bad, T0), String(bad)).toBeUndefined();
  });

  it('on 429 and 503 waits at least Retry-After, capped at 900 s, never less than the schedule', () => {
    expect(firstDelay(response(429, { retryAfter: '120' }))).toBe(120);
    expect(firstDelay(response(503, { retryAfter: 'Mon, 23 Nov 2026 10:10:00 GMT' }))).toBe(600);
    expect(firstDelay(response(429, { retryAfter: '5' }))).toBe(30); // the schedule is longer
    expect(firstDelay(response(429, { retryAfter: '86400' }))).toBe(900); // capped
    expect(firstDelay(response(429, { retryAfter: 'nonsense' }))).toBe(30);
    expect(firstDelay(response(500, { retryAfter: '600' }))).toBe(30); // only 429/503 ask to wait
    expect(firstDelay(response(429, { retryAfter: '600' }), deliveryConfig({ retryAfterCapSeconds: 300 }))).toBe(300);
  });

  it('property: the wait is the longer of the schedule and Retry-After (capped), in seconds or as a date', () => {
    fc.assert(
      fc.property(fc.integer({ min: 0, max: 100_000 }), fc.boolean(), fc.constantFrom(429, 503), (seconds, asDate, status) => {
        const retryAfter = asDate ? new Date(Date.parse(T0) + seconds * 1000).toUTCString() : String(seconds);
        expect(firstDelay(response(status, { retryAfter }))).toBe(Math.max(30, Math.min(seconds, 900)));
      }),
    );
  });

  it('property: an IMF-fixdate reads back as the whole seconds until it, and a past one as 0', () => {
    fc.assert(
      fc.property(fc.integer({ min: -10 * 86400, max: 400 * 86400 }), (offset) => {
        const date = new Date(Date.parse(T0) + offset * 1000).toUTCString();
        expect(parseRetryAfter(date, T0)).toBe(Math.max(0, offset));
      }),
    );
  });

  it('does not extend the run: the last attempt fails even when Retry-After asks for more', () => {
    const steps = run(deliveryConfig({ retrySeconds: [1] }), () => response(429, { retryAfter: '60' }));
    expect(steps.map((s) => s.decision.kind)).toEqual(['retry', 'failed']);
    expect(steps[0]!.decision).toMatchObject({ delaySeconds: 60 });
  });
});

describe('dispatch readiness, deferral and lost attempts', () => {
  const config = deliveryConfig();

  it('drops finished deliveries and duplicate messages for an attempt in flight', () => {
    const sending = beginAttempt(fresh(), config, T0);
    expect(dispatchReadiness(sending, enabled, config, at(10))).toEqual({ kind: 'drop', reason: 'in-flight' });
    const delivered = nextStep(sending, response(200), config, at(1)).delivery;
    expect(dispatchReadiness(delivered, enabled, config, at(2))).toEqual({ kind: 'drop', reason: 'finished' });
    expect(() => beginAttempt(delivered, config, at(2))).toThrow();
  });

  it('takes a stale SENDING again, counting the lost attempt, and fails it when that was the last', () => {
    const sending = beginAttempt(fresh(), config, T0);
    expect(dispatchReadiness(sending, enabled, config, at(60))).toEqual({ kind: 'ready' });
    expect(beginAttempt(sending, config, at(60))).toMatchObject({ status: 'SENDING', attemptsInRun: 2, sendingSince: at(60) });

    const lastLost = { ...sending, attemptsInRun: 6, totalAttempts: 6 };
    expect(beginAttempt(lastLost, config, at(60))).toMatchObject({
      status: 'FAILED',
      failureReason: 'attempts-exhausted',
      lastError: 'attempt lost',
    });
  });

  it('abandons an event delivery whose subscription is disabled or deleted, but still sends a test ping to a disabled one', () => {
    const disabled = dispatchReadiness(fresh(), { enabled: false }, config, T0);
    expect(disabled).toMatchObject({
      kind: 'abandon',
      delivery: { status: 'FAILED', failureReason: 'subscription-disabled', attemptsInRun: 0 },
    });
    expect(dispatchReadiness(fresh(), undefined, config, T0)).toMatchObject({ delivery: { failureReason: 'subscription-deleted' } });
    expect(dispatchReadiness(fresh('test'), { enabled: false }, config, T0)).toEqual({ kind: 'ready' });
  });

  it('defers without spending an attempt', () => {
    const deferred = deferDelivery(fresh(), at(60), T0);
    expect(deferred).toMatchObject({ status: 'PENDING', attemptsInRun: 0, nextAttemptAt: at(60), revision: 2 });
    expect(dispatchReadiness(deferred, enabled, config, at(30))).toEqual({ kind: 'wait', until: at(60) });
    expect(() => deferDelivery(beginAttempt(fresh(), config, T0), at(60), T0)).toThrow();
  });
});

describe('manual retry', () => {
  const config = deliveryConfig();

  it('restarts a FAILED delivery with a full run of attempts, and the retry can succeed', () => {
    const failedRun = run(config, () => response(503));
    const failed = failedRun.at(-1)!.delivery;
    expect(failed.status).toBe('FAILED');
    const restarted = retryManually(failed, enabled, at(5000));
    expect(restarted).toMatchObject({ status: 'PENDING', attemptsInRun: 0, totalAttempts: 6, run: 2, nextAttemptAt: at(5000) });
    expect(restarted.failureReason).toBeUndefined();

    const again = run(config, (n) => (n < 3 ? networkError : response(200)), restarted, at(5000));
    expect(again.map((s) => s.attempt.number)).toEqual([7, 8, 9]);
    expect(again.every((s) => s.attempt.run === 2)).toBe(true);
    expect(again.at(-1)!.delivery.status).toBe('DELIVERED');

    // A second manual retry after another full failure gets six more.
    const failedAgain = run(config, () => timeout, retryManually(failed, enabled, at(5000)), at(5000));
    expect(failedAgain).toHaveLength(6);
  });

  it('refuses anything but a FAILED delivery of a live, enabled subscription', () => {
    const config2 = deliveryConfig();
    const refused = (fn: () => unknown, code: string) => {
      try {
        fn();
      } catch (err) {
        expect(err).toBeInstanceOf(RuleViolationError);
        expect((err as RuleViolationError).code).toBe(code);
        return;
      }
      throw new Error('not refused');
    };
    refused(() => retryManually(fresh(), enabled, T0), 'DELIVERY_NOT_FAILED');
    const failed = run(config2, () => response(400)).at(-1)!.delivery;
    refused(() => retryManually(failed, { enabled: false }, T0), 'SUBSCRIPTION_DISABLED');
    refused(() => retryManually(failed, undefined, T0), 'SUBSCRIPTION_DELETED');
  });
});

describe('auto-disable counters', () => {
  const failedStep = { decision: { kind: 'failed' as const, reason: 'attempts-exhausted' as const } };
  const retryStep = { decision: { kind: 'retry' as const, delaySeconds: 30, at: T0 } };
  const deliveredStep = { decision: { kind: 'delivered' as const } };

  it('disables after 50 consecutive FAILED deliveries, not 49; a delivered one resets the count', () => {
    let health: SubscriptionHealth = freshHealth('s1');
    for (let i = 1; i <= 49; i++) {
      const result = healthAfter(health, failedStep, T0);
      expect(result.disable, `after ${i}`).toBeUndefined();
      health = result.health;
    }
    expect(health.consecutiveFailedDeliveries).toBe(49);
    const reset = healthAfter(health, deliveredStep, at(1));
    expect(reset.health).toEqual({ subscriptionId: 's1', consecutiveFailedDeliveries: 0, lastSuccessAt: at(1) });
    expect(healthAfter(health, failedStep, T0)).toMatchObject({
      disable: 'too-many-failed-deliveries',
      health: { consecutiveFailedDeliveries: 50 },
    });
  });

  it('disables when every attempt has failed for 24 h, and a success in between restarts the clock', () => {
    const day = DEFAULT_AUTO_DISABLE.failingForSeconds;
    const first = healthAfter(freshHealth('s1'), retryStep, T0);
    expect(first.health.failingSince).toBe(T0);
    expect(first.health.consecutiveFailedDeliveries).toBe(0); // retries are attempts, not finished deliveries
    expect(healthAfter(first.health, retryStep, at(day - 1)).disable).toBeUndefined();
    expect(healthAfter(first.health, retryStep, at(day)).disable).toBe('failing-too-long');

    const recovered = healthAfter(first.health, deliveredStep, at(day - 10)).health;
    const failingAgain = healthAfter(recovered, retryStep, at(day - 5)).health;
    expect(failingAgain.failingSince).toBe(at(day - 5));
    expect(healthAfter(failingAgain, retryStep, at(day + 5)).disable).toBeUndefined();
  });

  it('property: the consecutive count is the failures since the last delivery', () => {
    fc.assert(
      fc.property(fc.array(fc.constantFrom('failed', 'delivered', 'retry')), (kinds) => {
        let health = freshHealth('s1');
        for (const kind of kinds)
          health = healthAfter(health, kind === 'failed' ? failedStep : kind === 'delivered' ? deliveredStep : retryStep, T0, {
            failingForSeconds: 1e9,
            consecutiveFailedDeliveries: 1e9,
          }).health;
        const lastDelivered = kinds.lastIndexOf('delivered');
        expect(health.consecutiveFailedDeliveries).toBe(kinds.slice(lastDelivered + 1).filter((k) => k === 'failed').length);
      }),
    );
  });
});

describe('response body truncation', () => {
  const encoder = new TextEncoder();
  const utf8 = (s: string) => encoder.encode(s).length;

  it('keeps a short body and cuts a long one at 1 KiB between characters', () => {
    expect(truncateUtf8('ok', 1024)).toEqual({ text: 'ok', truncated: false });
    const euros = '€'.repeat(400); // 3 bytes each: 1200 bytes
    const cut = truncateUtf8(euros, 1024);
    expect(cut).toEqual({ text: '€'.repeat(341), truncated: true });
    expect(truncateUtf8(encoder.encode(euros), 1024)).toEqual(cut);
    expect(truncateUtf8('😀'.repeat(300), 1024).text).toBe('😀'.repeat(256));
    expect(truncateUtf8(`${'a'.repeat(1023)}😀`, 1024)).toEqual({ text: 'a'.repeat(1023), truncated: true });
  });

  it('turns invalid bytes into U+FFFD and still fits', () => {
    const binary = new Uint8Array(2000).fill(0xff);
    const { text, truncated } = truncateUtf8(binary, 1024);
    expect(truncated).toBe(true);
    expect(utf8(text)).toBeLessThanOrEqual(1024);
    expect(text).toMatch(/^\uFFFD+$/);
  });

  it('records the first 1 KiB of the response on the attempt', () => {
    const config = deliveryConfig();
    const step = nextStep(beginAttempt(fresh(), config, T0), response(500, { body: 'x'.repeat(5000) }), config, at(1));
    expect(step.attempt.responseBody).toHaveLength(1024);
    expect(step.attempt.responseBodyTruncated).toBe(true);
  });

  it('property: the result fits, is a prefix of the text, and is cut only when it had to be', () => {
    fc.assert(
      fc.property(fc.string({ unit: 'binary', maxLength: 400 }), fc.integer({ min: 0, max: 1100 }), (text, max) => {
        const { text: cut, truncated } = truncateUtf8(text, max);
        expect(utf8(cut)).toBeLessThanOrEqual(max);
        expect(text.startsWith(cut)).toBe(true);
        expect(truncated).toBe(utf8(text) > max);
        // Maximal: the next character would not have fitted.
        if (truncated) expect(utf8(cut + String.fromCodePoint(text.codePointAt(cut.length)!))).toBeGreaterThan(max);
      }),
    );
  });

  it('property: bytes of valid UTF-8 decode to the same prefix the text would give', () => {
    fc.assert(
      fc.property(fc.string({ unit: 'grapheme', maxLength: 500 }), fc.integer({ min: 0, max: 1100 }), (text, max) => {
        expect(truncateUtf8(encoder.encode(text), max)).toEqual(truncateUtf8(text, max));
      }),
    );
  });
});
