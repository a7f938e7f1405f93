import { PutEventsCommand, PutRuleCommand, PutTargetsCommand, type Target } from '@aws-sdk/client-eventbridge';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { ACCOUNT, expectEventBridgeEvent, functionArn, queueArn, REGION, startHarness, type Harness } from './support.js';

let h: Harness;
beforeEach(async () => {
  // 100×: a second of back-off passes in 10 ms. (At 1 000× a wait is under a millisecond of Date.now's resolution, and two attempts could read the same time.)
  h = await startHarness({ timeScale: 100 });
});
afterEach(async () => {
  await h.stop();
});

const RULE_ARN = `arn:aws:events:${REGION}:${ACCOUNT}:rule/orders`;
const TARGET = functionArn('flaky');
const DLQ = queueArn('orders-dlq');

async function putOrderTo(target: Omit<Target, 'Id' | 'Arn'>) {
  await h.client.send(new PutRuleCommand({ Name: 'orders', EventPattern: JSON.stringify({ source: ['shop.orders'] }) }));
  await h.client.send(new PutTargetsCommand({ Rule: 'orders', Targets: [{ Id: 'flaky', Arn: TARGET, ...target }] }));
  const put = await h.client.send(
    new PutEventsCommand({ Entries: [{ Source: 'shop.orders', DetailType: 'order.created', Detail: '{"orderId":"o-9"}' }] }),
  );
  await h.events.drain();
  return put.Entries?.[0]?.EventId;
}

const attempts = () => h.deliveries.filter((d) => d.arn === TARGET);
const deadLetters = () => h.deliveries.filter((d) => d.arn === DLQ);

describe('retries and dead-letter queues', () => {
  it('retries a failing target with growing delays, then sends the event to the DLQ with the attributes EventBridge sets', async () => {
    h.failing.set(TARGET, 'ServiceException');
    const eventId = await putOrderTo({ RetryPolicy: { MaximumRetryAttempts: 4 }, DeadLetterConfig: { Arn: DLQ }, InputPath: '$.detail' });

    expect(attempts()).toHaveLength(5);
    const gaps = attempts()
      .slice(1)
      .map((d, i) => d.at - attempts()[i]!.at);
    // Exponential with jitter: each wait is at least half of 1 s, 2 s, 4 s, 8 s (timers only ever run late; the clock reads whole real milliseconds, 100 simulated).
    gaps.forEach((gap, i) => expect(gap).toBeGreaterThanOrEqual(500 * 2 ** i - 100));
    expect(gaps[3]).toBeGreaterThan(gaps[0]!);

    const [letter] = deadLetters();
    // The dead letter is the event itself, not the transformed input.
    expect(expectEventBridgeEvent(letter!.payload).id).toBe(eventId);
    expect(letter!.options.sqs?.messageAttributes).toEqual({
      RULE_ARN: { DataType: 'String', StringValue: RULE_ARN },
      TARGET_ARN: { DataType: 'String', StringValue: TARGET },
      ERROR_CODE: { DataType: 'String', StringValue: 'SDK_CLIENT_ERROR' },
      ERROR_MESSAGE: { DataType: 'String', StringValue: `${TARGET} is failing on purpose` },
      EXHAUSTED_RETRY_CONDITION: { DataType: 'String', StringValue: 'MaximumRetryAttempts' },
      RETRY_ATTEMPTS: { DataType: 'Number', StringValue: '4' },
    });
    expect(h.events.stats()).toEqual([
      expect.objectContaining({ ruleName: 'orders', targetId: 'flaky', matched: 1, delivered: 0, retried: 4, deadLettered: 1, dropped: 0 }),
    ]);
  });

  it('stops at MaximumEventAgeInSeconds', async () => {
    h.failing.set(TARGET, 'ServiceException');
    await putOrderTo({ RetryPolicy: { MaximumRetryAttempts: 185, MaximumEventAgeInSeconds: 60 }, DeadLetterConfig: { Arn: DLQ } });
    const [letter] = deadLetters();
    expect(letter!.options.sqs?.messageAttributes?.EXHAUSTED_RETRY_CONDITION?.StringValue).toBe('MaximumEventAgeInSeconds');
    const last = attempts().at(-1)!;
    expect(last.at - attempts()[0]!.at).toBeLessThanOrEqual(60_000);
    // Retried until the age ran out (how many times depends on the jitter and on late timers).
    expect(attempts().length).toBeGreaterThan(1);
  });

  it('delivers once the target recovers', async () => {
    h.failing.set(TARGET, 'ServiceException');
    const recovery = (async () => {
      while (attempts().length < 3) await new Promise((resolve) => setTimeout(resolve, 1));
      h.failing.delete(TARGET);
    })();
    await putOrderTo({ DeadLetterConfig: { Arn: DLQ } });
    await recovery;
    expect(deadLetters()).toEqual([]);
    expect(h.events.stats()[0]).toMatchObject({ delivered: 1, deadLettered: 0 });
    expect(h.events.stats()[0]!.retried).toBeGreaterThanOrEqual(2);
  });

  it('does not retry a target that does not exist', async () => {
    await putOrderTo({ DeadLetterConfig: { Arn: DLQ } }).catch(() => undefined);
    h.deliveries.length = 0;
    h.failing.set(TARGET, 'ResourceNotFoundException');
    await h.client.send(new PutEventsCommand({ Entries: [{ Source: 'shop.orders', DetailType: 'order.created', Detail: '{}' }] }));
    await h.events.drain();
    expect(attempts()).toHaveLength(1);
    expect(deadLetters()[0]!.options.sqs?.messageAttributes).toMatchObject({
      ERROR_CODE: { StringValue: 'RESOURCE_NOT_FOUND' },
      RETRY_ATTEMPTS: { StringValue: '0' },
    });
  });

  it('drops the event with a warning when there is no dead-letter queue', async () => {
    h.failing.set(TARGET, 'ServiceException');
    await putOrderTo({ RetryPolicy: { MaximumRetryAttempts: 1 } });
    expect(attempts()).toHaveLength(2);
    expect(h.warnings).toEqual([expect.stringMatching(/dropped after 1 retries: .*failing on purpose/)]);
    expect(h.events.stats()[0]).toMatchObject({ retried: 1, deadLettered: 0, dropped: 1 });
  });
});
