import { DisableRuleCommand, PutRuleCommand, PutTargetsCommand } from '@aws-sdk/client-eventbridge';
import { afterEach, describe, expect, it } from 'vitest';
import { InvalidScheduleExpressionError, parseScheduleExpression } from '../../../../../local/aws/events/schedule.js';
import { ACCOUNT, expectEventBridgeEvent, functionArn, REGION, startHarness, until, type Harness } from './support.js';

/** The next `count` firings after `from`, as ISO strings. */
function firings(expression: string, from: string, count = 3): string[] {
  const schedule = parseScheduleExpression(expression, Date.parse(from));
  const out: string[] = [];
  let at = Date.parse(from);
  for (let i = 0; i < count; i++) {
    const next = schedule.next(at);
    if (next === undefined) break;
    out.push(new Date(next).toISOString());
    at = next;
  }
  return out;
}

describe('schedule expressions', () => {
  it('rate: every period from the start', () => {
    expect(firings('rate(5 minutes)', '2026-03-01T10:00:00.000Z')).toEqual([
      '2026-03-01T10:05:00.000Z',
      '2026-03-01T10:10:00.000Z',
      '2026-03-01T10:15:00.000Z',
    ]);
    expect(firings('rate(1 day)', '2026-03-01T10:00:30.000Z', 1)).toEqual(['2026-03-02T10:00:30.000Z']);
  });

  it('cron: the examples of the EventBridge guide', () => {
    // 10:15 UTC every day.
    expect(firings('cron(15 10 * * ? *)', '2026-03-01T10:15:00.000Z', 2)).toEqual(['2026-03-02T10:15:00.000Z', '2026-03-03T10:15:00.000Z']);
    // 18:00 Monday to Friday (1 = Sunday).
    expect(firings('cron(0 18 ? * MON-FRI *)', '2026-03-06T19:00:00.000Z', 2)).toEqual([
      '2026-03-09T18:00:00.000Z',
      '2026-03-10T18:00:00.000Z',
    ]);
    // 8:00 on the first day of the month.
    expect(firings('cron(0 8 1 * ? *)', '2026-03-01T09:00:00.000Z', 2)).toEqual(['2026-04-01T08:00:00.000Z', '2026-05-01T08:00:00.000Z']);
    // Every 10 minutes on weekdays.
    expect(firings('cron(0/10 * ? * MON-FRI *)', '2026-03-06T23:45:00.000Z', 2)).toEqual([
      '2026-03-06T23:50:00.000Z',
      '2026-03-09T00:00:00.000Z',
    ]);
  });

  it('cron: L, W, # and years', () => {
    // Last day of the month.
    expect(firings('cron(0 0 L * ? *)', '2026-01-31T00:00:00.000Z', 2)).toEqual(['2026-02-28T00:00:00.000Z', '2026-03-31T00:00:00.000Z']);
    // Last Friday (6L).
    expect(firings('cron(0 12 ? * 6L *)', '2026-03-01T00:00:00.000Z', 1)).toEqual(['2026-03-27T12:00:00.000Z']);
    // Weekday nearest the 15th: 2026-03-15 is a Sunday, so Monday the 16th; 2026-08-15 a Saturday, so Friday the 14th.
    expect(firings('cron(0 9 15W * ? *)', '2026-03-01T00:00:00.000Z', 1)).toEqual(['2026-03-16T09:00:00.000Z']);
    expect(firings('cron(0 9 15W 8 ? *)', '2026-03-01T00:00:00.000Z', 1)).toEqual(['2026-08-14T09:00:00.000Z']);
    // Second Tuesday (3#2).
    expect(firings('cron(30 6 ? * 3#2 *)', '2026-03-01T00:00:00.000Z', 2)).toEqual([
      '2026-03-10T06:30:00.000Z',
      '2026-04-14T06:30:00.000Z',
    ]);
    // Leap days only, and nothing after the last year.
    expect(firings('cron(0 0 29 FEB ? 2026-2032)', '2026-01-01T00:00:00.000Z', 3)).toEqual([
      '2028-02-29T00:00:00.000Z',
      '2032-02-29T00:00:00.000Z',
    ]);
  });

  // The cases aws-cron-parser 1.1.12 gets wrong (see the header of schedule.ts).
  it('cron: days a month lacks are skipped, not rolled into the next month', () => {
    expect(firings('cron(0 0 29 FEB ? *)', '2026-03-01T00:00:00.000Z', 2)).toEqual([
      '2028-02-29T00:00:00.000Z',
      '2032-02-29T00:00:00.000Z',
    ]);
    expect(firings('cron(0 0 31 * ? *)', '2026-03-31T00:00:00.000Z', 2)).toEqual(['2026-05-31T00:00:00.000Z', '2026-07-31T00:00:00.000Z']);
    expect(firings('cron(0 0 30 * ? *)', '2026-01-30T00:00:00.000Z', 1)).toEqual(['2026-03-30T00:00:00.000Z']);
  });

  it('cron: LW and a bare L in day-of-week (Saturday)', () => {
    // Last weekday: 2026-01-31 and 2026-02-28 are Saturdays.
    expect(firings('cron(0 0 LW * ? *)', '2026-01-01T00:00:00.000Z')).toEqual([
      '2026-01-30T00:00:00.000Z',
      '2026-02-27T00:00:00.000Z',
      '2026-03-31T00:00:00.000Z',
    ]);
    expect(firings('cron(0 0 ? * L *)', '2026-01-01T00:00:00.000Z', 2)).toEqual(['2026-01-31T00:00:00.000Z', '2026-02-28T00:00:00.000Z']);
  });

  it('cron: UTC whatever the process time zone, across a DST change', () => {
    const tz = process.env.TZ;
    process.env.TZ = 'Europe/Berlin';
    try {
      // Last Sunday of October 2026 is the day Berlin leaves summer time.
      expect(firings('cron(0 12 ? 10 1L *)', '2026-10-01T00:00:00.000Z', 1)).toEqual(['2026-10-25T12:00:00.000Z']);
      expect(firings('cron(0 0 ? * 2#1 *)', '2026-03-01T00:00:00.000Z', 2)).toEqual([
        '2026-03-02T00:00:00.000Z',
        '2026-04-06T00:00:00.000Z',
      ]);
    } finally {
      if (tz === undefined) delete process.env.TZ;
      else process.env.TZ = tz;
    }
  });

  it('refuses what EventBridge refuses', () => {
    for (const bad of [
      'rate(1 minutes)',
      'rate(5 minute)',
      'rate(0 minutes)',
      'cron(0 12 * * *)',
      'cron(0 12 * * * *)',
      'cron(0 12 ? * ? *)',
      'cron(60 * * * ? *)',
      'cron(x 12 * * ? *)',
      'cron(0 12 ? * 3#6 *)',
      'every(5)',
    ]) {
      expect(() => parseScheduleExpression(bad, 0), bad).toThrow(InvalidScheduleExpressionError);
    }
  });
});

describe('scheduled rules', () => {
  let h: Harness | undefined;
  afterEach(async () => {
    await h?.stop();
  });

  it('fire on the runtime clock with the Scheduled Event shape, and stop when disabled', async () => {
    // 600×: a minute passes in 100 ms.
    h = await startHarness({ timeScale: 600 });
    const { RuleArn } = await h.client.send(new PutRuleCommand({ Name: 'every-minute', ScheduleExpression: 'rate(1 minute)' }));
    await h.client.send(new PutTargetsCommand({ Rule: 'every-minute', Targets: [{ Id: 'tick', Arn: functionArn('tick') }] }));
    const started = h.clock.now();
    await until(() => h!.deliveries.length >= 3);
    await h.client.send(new DisableRuleCommand({ Name: 'every-minute' }));

    const events = h.deliveries.map((d) => expectEventBridgeEvent(d.payload));
    expect(events[0]).toMatchObject({
      version: '0',
      'detail-type': 'Scheduled Event',
      source: 'aws.events',
      account: ACCOUNT,
      region: REGION,
      resources: [RuleArn],
      detail: {},
    });
    const times = events.map((e) => Date.parse(e.time));
    expect(times[1]! - times[0]!).toBe(60_000);
    expect(times[0]! - started).toBeLessThanOrEqual(61_000);

    const seen = h.deliveries.length;
    await new Promise((resolve) => setTimeout(resolve, 250));
    expect(h.deliveries.length).toBe(seen);
  });

  it('fire a cron schedule at its minutes', async () => {
    h = await startHarness({ timeScale: 600 });
    await h.client.send(new PutRuleCommand({ Name: 'every-other-minute', ScheduleExpression: 'cron(0/2 * * * ? *)' }));
    await h.client.send(new PutTargetsCommand({ Rule: 'every-other-minute', Targets: [{ Id: 'tick', Arn: functionArn('tick') }] }));
    await until(() => h!.deliveries.length >= 2);
    const times = h.deliveries.map((d) => expectEventBridgeEvent(d.payload).time);
    for (const time of times) expect(new Date(time).getUTCMinutes() % 2).toBe(0);
    expect(Date.parse(times[1]!) - Date.parse(times[0]!)).toBe(120_000);
    expect(h.events.stats()[0]).toMatchObject({ ruleName: 'every-other-minute', targetId: 'tick' });
  });
});
