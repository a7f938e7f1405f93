import {
  CreateArchiveCommand,
  CreateEventBusCommand,
  DeleteEventBusCommand,
  DeleteRuleCommand,
  DescribeArchiveCommand,
  DescribeEventBusCommand,
  DescribeRuleCommand,
  DisableRuleCommand,
  EnableRuleCommand,
  InvalidEventPatternException,
  ListArchivesCommand,
  ListEventBusesCommand,
  ListRulesCommand,
  ListTargetsByRuleCommand,
  PutEventsCommand,
  PutRuleCommand,
  PutTargetsCommand,
  RemoveTargetsCommand,
  ResourceAlreadyExistsException,
  ResourceNotFoundException,
  TestEventPatternCommand,
} from '@aws-sdk/client-eventbridge';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { ACCOUNT, expectEventBridgeEvent, functionArn, REGION, startHarness, until, type Harness } from './support.js';

let h: Harness;
beforeEach(async () => {
  h = await startHarness();
});
afterEach(async () => {
  await h.stop();
});

/** EventBridge answers ValidationException for bad input, an error its SDK does not model: it arrives by name. */
const VALIDATION = { name: 'ValidationException' };
const ORDER_PATTERN = JSON.stringify({ source: ['shop.orders'], 'detail-type': ['order.created'] });

async function ruleWithTarget(name: string, busName?: string, pattern = ORDER_PATTERN) {
  await h.client.send(new PutRuleCommand({ Name: name, EventPattern: pattern, ...(busName ? { EventBusName: busName } : {}) }));
  await h.client.send(
    new PutTargetsCommand({ Rule: name, ...(busName ? { EventBusName: busName } : {}), Targets: [{ Id: 'fn', Arn: functionArn(name) }] }),
  );
}

describe('event buses', () => {
  it('has the default bus, creates, describes, lists and deletes others', async () => {
    const created = await h.client.send(new CreateEventBusCommand({ Name: 'switchyard' }));
    expect(created.EventBusArn).toBe(`arn:aws:events:${REGION}:${ACCOUNT}:event-bus/switchyard`);
    await expect(h.client.send(new CreateEventBusCommand({ Name: 'switchyard' }))).rejects.toBeInstanceOf(ResourceAlreadyExistsException);

    const described = await h.client.send(new DescribeEventBusCommand({ Name: created.EventBusArn }));
    expect(described.Name).toBe('switchyard');
    expect((await h.client.send(new DescribeEventBusCommand({}))).Name).toBe('default');

    const listed = await h.client.send(new ListEventBusesCommand({}));
    expect(listed.EventBuses?.map((bus) => bus.Name)).toEqual(['default', 'switchyard']);

    await h.client.send(new DeleteEventBusCommand({ Name: 'switchyard' }));
    await expect(h.client.send(new DescribeEventBusCommand({ Name: 'switchyard' }))).rejects.toBeInstanceOf(ResourceNotFoundException);
    await expect(h.client.send(new DeleteEventBusCommand({ Name: 'default' }))).rejects.toMatchObject(VALIDATION);
  });
});

describe('rules and targets', () => {
  it('puts, describes, lists, disables and deletes a rule on a custom bus', async () => {
    await h.client.send(new CreateEventBusCommand({ Name: 'switchyard' }));
    const { RuleArn } = await h.client.send(
      new PutRuleCommand({ Name: 'orders', EventBusName: 'switchyard', EventPattern: ORDER_PATTERN, Description: 'all orders' }),
    );
    expect(RuleArn).toBe(`arn:aws:events:${REGION}:${ACCOUNT}:rule/switchyard/orders`);

    const rule = await h.client.send(new DescribeRuleCommand({ Name: 'orders', EventBusName: 'switchyard' }));
    expect(rule).toMatchObject({
      Name: 'orders',
      EventBusName: 'switchyard',
      State: 'ENABLED',
      EventPattern: ORDER_PATTERN,
      Description: 'all orders',
    });
    await expect(h.client.send(new DescribeRuleCommand({ Name: 'orders' }))).rejects.toBeInstanceOf(ResourceNotFoundException);

    await h.client.send(new DisableRuleCommand({ Name: 'orders', EventBusName: 'switchyard' }));
    expect((await h.client.send(new ListRulesCommand({ EventBusName: 'switchyard' }))).Rules?.map((r) => [r.Name, r.State])).toEqual([
      ['orders', 'DISABLED'],
    ]);
    await h.client.send(new EnableRuleCommand({ Name: 'orders', EventBusName: 'switchyard' }));

    await h.client.send(
      new PutTargetsCommand({ Rule: 'orders', EventBusName: 'switchyard', Targets: [{ Id: 'a', Arn: functionArn('a') }] }),
    );
    expect((await h.client.send(new ListTargetsByRuleCommand({ Rule: 'orders', EventBusName: 'switchyard' }))).Targets).toEqual([
      { Id: 'a', Arn: functionArn('a') },
    ]);
    await expect(h.client.send(new DeleteRuleCommand({ Name: 'orders', EventBusName: 'switchyard' }))).rejects.toThrow(/has targets/);
    const removed = await h.client.send(new RemoveTargetsCommand({ Rule: 'orders', EventBusName: 'switchyard', Ids: ['a', 'missing'] }));
    expect(removed.FailedEntryCount).toBe(1);
    await h.client.send(new DeleteRuleCommand({ Name: 'orders', EventBusName: 'switchyard' }));
    expect((await h.client.send(new ListRulesCommand({ EventBusName: 'switchyard' }))).Rules).toEqual([]);
  });

  it('refuses what AWS refuses', async () => {
    await expect(h.client.send(new PutRuleCommand({ Name: 'nothing' }))).rejects.toMatchObject(VALIDATION);
    await expect(h.client.send(new PutRuleCommand({ Name: 'bad', EventPattern: '"not an object"' }))).rejects.toBeInstanceOf(
      InvalidEventPatternException,
    );
    await expect(
      h.client.send(new PutRuleCommand({ Name: 'nobus', EventBusName: 'nope', EventPattern: ORDER_PATTERN })),
    ).rejects.toBeInstanceOf(ResourceNotFoundException);
    await expect(h.client.send(new PutRuleCommand({ Name: 'badcron', ScheduleExpression: 'cron(0 12 * * * *)' }))).rejects.toMatchObject(
      VALIDATION,
    );
    await h.client.send(new CreateEventBusCommand({ Name: 'custom' }));
    await expect(
      h.client.send(new PutRuleCommand({ Name: 'tick', EventBusName: 'custom', ScheduleExpression: 'rate(1 minute)' })),
    ).rejects.toThrow(/only on the default event bus/);

    await h.client.send(new PutRuleCommand({ Name: 'r', EventPattern: ORDER_PATTERN }));
    await expect(
      h.client.send(
        new PutTargetsCommand({ Rule: 'r', Targets: [{ Id: 't', Arn: functionArn('t'), Input: '{}', InputPath: '$.detail' }] }),
      ),
    ).rejects.toThrow(/Only one of Input, InputPath, or InputTransformer/);
    await expect(
      h.client.send(
        new PutTargetsCommand({ Rule: 'r', Targets: [{ Id: 't', Arn: functionArn('t'), RetryPolicy: { MaximumEventAgeInSeconds: 10 } }] }),
      ),
    ).rejects.toMatchObject(VALIDATION);
    await expect(
      h.client.send(new PutTargetsCommand({ Rule: 'missing', Targets: [{ Id: 't', Arn: functionArn('t') }] })),
    ).rejects.toBeInstanceOf(ResourceNotFoundException);
  });
});

describe('PutEvents', () => {
  it('answers an id per entry and per-entry errors for the bad ones', async () => {
    const result = await h.client.send(
      new PutEventsCommand({
        Entries: [
          { Source: 'shop.orders', DetailType: 'order.created', Detail: '{"orderId":"o-1"}' },
          { Source: 'shop.orders', DetailType: 'order.created' },
          { Source: 'shop.orders', DetailType: 'order.created', Detail: '{not json' },
          { Source: 'shop.orders', DetailType: 'order.created', Detail: '{}', EventBusName: 'nope' },
        ],
      }),
    );
    expect(result.FailedEntryCount).toBe(3);
    expect(result.Entries?.[0]?.EventId).toMatch(/^[0-9a-f-]{36}$/);
    expect(result.Entries?.slice(1).map((e) => e.ErrorCode)).toEqual(['InvalidArgument', 'MalformedDetail', 'ResourceNotFoundException']);
    expect(result.Entries?.[1]?.ErrorMessage).toMatch(/Detail is a required argument/);
  });

  it('refuses more than 10 entries or more than 256 KB', async () => {
    const entry = { Source: 's', DetailType: 't', Detail: '{}' };
    await expect(h.client.send(new PutEventsCommand({ Entries: Array.from({ length: 11 }, () => entry) }))).rejects.toMatchObject(
      VALIDATION,
    );
    const big = { Source: 's', DetailType: 't', Detail: JSON.stringify({ blob: 'x'.repeat(140 * 1024) }) };
    await expect(h.client.send(new PutEventsCommand({ Entries: [big, big] }))).rejects.toThrow(/over the limit/);
  });

  it('delivers the EventBridge envelope to each target of each matching rule, on a bus named by ARN', async () => {
    const { EventBusArn } = await h.client.send(new CreateEventBusCommand({ Name: 'switchyard' }));
    await ruleWithTarget('orders', 'switchyard');
    await ruleWithTarget('payments', 'switchyard', JSON.stringify({ source: ['shop.payments'] }));
    await ruleWithTarget('default-orders');

    const put = await h.client.send(
      new PutEventsCommand({
        Entries: [
          {
            EventBusName: EventBusArn,
            Source: 'shop.orders',
            DetailType: 'order.created',
            Detail: '{"orderId":"o-1"}',
            Resources: ['arn:aws:x:::thing'],
            Time: new Date('2026-01-02T03:04:05.678Z'),
          },
        ],
      }),
    );
    await h.events.drain();
    expect(h.deliveries.map((d) => d.arn)).toEqual([functionArn('orders')]);
    const [delivery] = h.deliveries;
    const event = expectEventBridgeEvent(delivery!.payload);
    expect(event).toEqual({
      version: '0',
      id: put.Entries?.[0]?.EventId,
      'detail-type': 'order.created',
      source: 'shop.orders',
      account: ACCOUNT,
      time: '2026-01-02T03:04:05Z',
      region: REGION,
      resources: ['arn:aws:x:::thing'],
      detail: { orderId: 'o-1' },
    });
    expect(delivery!.options).toMatchObject({ invocationType: 'Event', source: 'rule switchyard/orders' });
    expect(h.events.stats()).toEqual([
      expect.objectContaining({
        eventBusName: 'switchyard',
        ruleName: 'orders',
        targetId: 'fn',
        matched: 1,
        delivered: 1,
        retried: 0,
        deadLettered: 0,
      }),
    ]);
  });

  it('answers without waiting for its targets, and a disabled rule delivers nothing', async () => {
    await ruleWithTarget('orders');
    await ruleWithTarget('off');
    await h.client.send(new DisableRuleCommand({ Name: 'off' }));
    // The target holds on until released: PutEvents must not wait for it.
    let release!: () => void;
    h.hold = new Promise<void>((resolve) => (release = resolve));
    const put = await h.client.send(
      new PutEventsCommand({ Entries: [{ Source: 'shop.orders', DetailType: 'order.created', Detail: '{}' }] }),
    );
    expect(put.FailedEntryCount).toBe(0);
    release();
    await h.events.drain();
    expect(h.deliveries.map((d) => d.arn)).toEqual([functionArn('orders')]);
  });

  it('puts the event on another bus when a target is a bus', async () => {
    const { EventBusArn } = await h.client.send(new CreateEventBusCommand({ Name: 'downstream' }));
    await h.client.send(new PutRuleCommand({ Name: 'forward', EventPattern: ORDER_PATTERN }));
    await h.client.send(new PutTargetsCommand({ Rule: 'forward', Targets: [{ Id: 'bus', Arn: EventBusArn }] }));
    await ruleWithTarget('received', 'downstream');
    await h.client.send(
      new PutEventsCommand({ Entries: [{ Source: 'shop.orders', DetailType: 'order.created', Detail: '{"orderId":"o-2"}' }] }),
    );
    await until(() => h.deliveries.length === 1);
    const event = expectEventBridgeEvent(h.deliveries[0]!.payload);
    expect(event.detail).toEqual({ orderId: 'o-2' });
    expect(h.deliveries[0]!.options.source).toBe('rule downstream/received');
  });
});

describe('TestEventPattern', () => {
  const event = {
    id: '1',
    account: ACCOUNT,
    source: 'shop.orders',
    time: '2026-01-01T00:00:00Z',
    region: REGION,
    'detail-type': 'order.created',
    resources: [],
    detail: {},
  };

  it('says whether the pattern matches', async () => {
    expect((await h.client.send(new TestEventPatternCommand({ EventPattern: ORDER_PATTERN, Event: JSON.stringify(event) }))).Result).toBe(
      true,
    );
    expect(
      (
        await h.client.send(
          new TestEventPatternCommand({ EventPattern: ORDER_PATTERN, Event: JSON.stringify({ ...event, source: 'other' }) }),
        )
      ).Result,
    ).toBe(false);
  });

  it('knows the content-filtering operators (the shared matcher)', async () => {
    const pattern = JSON.stringify({ source: [{ prefix: 'shop.' }], detail: { amount: [{ numeric: ['>', 100] }] } });
    const test = async (detail: unknown) =>
      (await h.client.send(new TestEventPatternCommand({ EventPattern: pattern, Event: JSON.stringify({ ...event, detail }) }))).Result;
    expect(await test({ amount: 250 })).toBe(true);
    expect(await test({ amount: 50 })).toBe(false);
  });

  it('refuses an invalid pattern or an event without the envelope fields', async () => {
    await expect(h.client.send(new TestEventPatternCommand({ EventPattern: '[1]', Event: JSON.stringify(event) }))).rejects.toBeInstanceOf(
      InvalidEventPatternException,
    );
    await expect(
      h.client.send(new TestEventPatternCommand({ EventPattern: ORDER_PATTERN, Event: '{"source":"x"}' })),
    ).rejects.toMatchObject(VALIDATION);
  });
});

describe('archives', () => {
  it('keeps the matching events of its bus with their count and size', async () => {
    const { EventBusArn } = await h.client.send(new CreateEventBusCommand({ Name: 'switchyard' }));
    const created = await h.client.send(
      new CreateArchiveCommand({
        ArchiveName: 'orders',
        EventSourceArn: EventBusArn,
        EventPattern: JSON.stringify({ source: ['shop.orders'] }),
        RetentionDays: 7,
      }),
    );
    expect(created).toMatchObject({ ArchiveArn: `arn:aws:events:${REGION}:${ACCOUNT}:archive/orders`, State: 'ENABLED' });
    await expect(h.client.send(new CreateArchiveCommand({ ArchiveName: 'orders', EventSourceArn: EventBusArn }))).rejects.toBeInstanceOf(
      ResourceAlreadyExistsException,
    );

    await h.client.send(
      new PutEventsCommand({
        Entries: [
          { EventBusName: 'switchyard', Source: 'shop.orders', DetailType: 'order.created', Detail: '{"n":1}' },
          { EventBusName: 'switchyard', Source: 'shop.payments', DetailType: 'paid', Detail: '{"n":2}' },
          { EventBusName: 'switchyard', Source: 'shop.orders', DetailType: 'order.shipped', Detail: '{"n":3}' },
          { Source: 'shop.orders', DetailType: 'order.created', Detail: '{"n":4}' },
        ],
      }),
    );
    await h.events.drain();
    const archived = h.events.archivedEvents('orders');
    expect(archived.map((e) => e.detail)).toEqual([{ n: 1 }, { n: 3 }]);
    archived.forEach(expectEventBridgeEvent);

    const described = await h.client.send(new DescribeArchiveCommand({ ArchiveName: 'orders' }));
    expect(described).toMatchObject({
      ArchiveName: 'orders',
      EventSourceArn: EventBusArn,
      EventCount: 2,
      RetentionDays: 7,
      State: 'ENABLED',
    });
    expect(described.SizeBytes).toBe(archived.reduce((total, e) => total + Buffer.byteLength(JSON.stringify(e)), 0));
    expect(
      (await h.client.send(new ListArchivesCommand({ EventSourceArn: EventBusArn }))).Archives?.map((a) => [a.ArchiveName, a.EventCount]),
    ).toEqual([['orders', 2]]);
    await expect(h.client.send(new DescribeArchiveCommand({ ArchiveName: 'nope' }))).rejects.toBeInstanceOf(ResourceNotFoundException);
  });
});
