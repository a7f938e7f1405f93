import { PutEventsCommand, PutRuleCommand, PutTargetsCommand, type Target } from '@aws-sdk/client-eventbridge';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { evaluateJsonPath, renderInputTemplate } from '../../../../../local/aws/events/transform.js';
import { ACCOUNT, expectEventBridgeEvent, functionArn, REGION, startHarness, type Harness } from './support.js';

let h: Harness;
beforeEach(async () => {
  h = await startHarness();
});
afterEach(async () => {
  await h.stop();
});

const RULE_ARN = `arn:aws:events:${REGION}:${ACCOUNT}:rule/instances`;

/** One rule, one target per input setting; puts the EC2 example event of the EventBridge guide and returns what each target got. */
async function deliverWith(targets: Array<Omit<Target, 'Arn'>>): Promise<Record<string, unknown>> {
  await h.client.send(new PutRuleCommand({ Name: 'instances', EventPattern: JSON.stringify({ source: ['aws.ec2'] }) }));
  await h.client.send(new PutTargetsCommand({ Rule: 'instances', Targets: targets.map((t) => ({ ...t, Arn: functionArn(t.Id!) })) }));
  await h.client.send(
    new PutEventsCommand({
      Entries: [
        {
          Source: 'aws.ec2',
          DetailType: 'EC2 Instance State-change Notification',
          Detail: JSON.stringify({ 'instance-id': 'i-0123456789', state: 'RUNNING', count: 3, tags: { team: 'core' } }),
          Resources: ['arn:aws:ec2:us-east-1:123456789012:instance/i-abcd1111'],
        },
      ],
    }),
  );
  await h.events.drain();
  return Object.fromEntries(h.deliveries.map((d) => [d.arn.split(':').pop(), d.payload]));
}

const PATHS = {
  instance: '$.detail.instance-id',
  state: '$.detail.state',
  count: '$.detail.count',
  tags: '$.detail.tags',
  missing: '$.detail.nope',
};

describe('what a target receives', () => {
  it('the whole event without an input setting; Input as given; InputPath as selected', async () => {
    const got = await deliverWith([
      { Id: 'whole' },
      { Id: 'constant', Input: '{"fixed":true}' },
      { Id: 'detail', InputPath: '$.detail' },
      { Id: 'resource', InputPath: '$.resources[0]' },
    ]);
    expectEventBridgeEvent(got.whole);
    expect(got.constant).toEqual({ fixed: true });
    expect(got.detail).toEqual({ 'instance-id': 'i-0123456789', state: 'RUNNING', count: 3, tags: { team: 'core' } });
    expect(got.resource).toBe('arn:aws:ec2:us-east-1:123456789012:instance/i-abcd1111');
  });

  it('an InputTransformer string template: a JSON string with the raw values in it', async () => {
    const got = await deliverWith([
      { Id: 'simple', InputTransformer: { InputPathsMap: PATHS, InputTemplate: '"instance <instance> is in <state>"' } },
      { Id: 'quoted', InputTransformer: { InputPathsMap: PATHS, InputTemplate: '"instance \\"<instance>\\" is in <state> (<count>)"' } },
      { Id: 'reserved', InputTransformer: { InputTemplate: '"<aws.events.rule-name> triggered"' } },
      { Id: 'unquoted', InputTransformer: { InputPathsMap: PATHS, InputTemplate: 'instance <instance> is <state>' } },
    ]);
    expect(got.simple).toBe('instance i-0123456789 is in RUNNING');
    expect(got.quoted).toBe('instance "i-0123456789" is in RUNNING (3)');
    expect(got.reserved).toBe('instances triggered');
    // Not JSON: delivered as the text itself.
    expect(got.unquoted).toBe('instance i-0123456789 is RUNNING');
  });

  it('an InputTransformer JSON template: values as JSON outside strings, raw inside, missing ones null', async () => {
    const got = await deliverWith([
      {
        Id: 'json',
        InputTransformer: {
          InputPathsMap: PATHS,
          InputTemplate:
            '{"instance": <instance>, "state": [9, <state>, true], "status": "instance \\"<instance>\\" is <state>", "count": <count>, "tags": <tags>, "missing": <missing>, "missingInString": "[<missing>]"}',
        },
      },
    ]);
    expect(got.json).toEqual({
      instance: 'i-0123456789',
      state: [9, 'RUNNING', true],
      status: 'instance "i-0123456789" is RUNNING',
      count: 3,
      tags: { team: 'core' },
      missing: null,
      missingInString: '[]',
    });
  });

  it('the reserved variables: rule name and ARN, ingestion time, the event with and without detail', async () => {
    const got = await deliverWith([
      {
        Id: 'reserved',
        InputTransformer: {
          InputTemplate:
            '{"ruleArn": <aws.events.rule-arn>, "ruleName": <aws.events.rule-name>, "ingested": <aws.events.event.ingestion-time>, "event": <aws.events.event>, "full": <aws.events.event.json>}',
        },
      },
    ]);
    const reserved = got.reserved as { ruleArn: string; ruleName: string; ingested: string; event: Record<string, unknown>; full: unknown };
    expect(reserved.ruleArn).toBe(RULE_ARN);
    expect(reserved.ruleName).toBe('instances');
    expect(reserved.ingested).toMatch(/^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ$/);
    expect(reserved.event).not.toHaveProperty('detail');
    expect(reserved.event).toMatchObject({ source: 'aws.ec2', 'detail-type': 'EC2 Instance State-change Notification' });
    expect(expectEventBridgeEvent(reserved.full).detail).toMatchObject({ state: 'RUNNING' });
  });
});

describe('JSON paths and templates', () => {
  const doc = { detail: { items: [{ id: 'a' }, { id: 'b' }], 'with-dash': 1, 'a/b': 2 } };

  it('reads dot names, dashes, slashes, indices, quoted names and wildcards', () => {
    expect(evaluateJsonPath(doc, '$')).toBe(doc);
    expect(evaluateJsonPath(doc, '$.detail.with-dash')).toBe(1);
    expect(evaluateJsonPath(doc, '$.detail.a/b')).toBe(2);
    expect(evaluateJsonPath(doc, "$.detail['with-dash']")).toBe(1);
    expect(evaluateJsonPath(doc, '$.detail.items[1].id')).toBe('b');
    expect(evaluateJsonPath(doc, '$.detail.items[*].id')).toEqual(['a', 'b']);
    expect(() => evaluateJsonPath(doc, 'detail')).toThrow(/does not start with \$/);
  });

  it('leaves text that is not a variable alone', () => {
    expect(renderInputTemplate('"a < b and <x>"', new Map([['x', 1]]))).toBe('"a < b and 1"');
  });
});
