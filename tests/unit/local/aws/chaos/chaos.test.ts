/**
 * Fault injection through the real endpoint: rules set over HTTP (or at
 * start), AWS SDK clients that see the AWS error (and retry it as they would
 * the real one), and counts that agree with what the clients saw.
 */
import { DynamoDBClient, GetItemCommand, PutItemCommand } from '@aws-sdk/client-dynamodb';
import { EventBridgeClient, ListRulesCommand, PutEventsCommand } from '@aws-sdk/client-eventbridge';
import { InvokeCommand, LambdaClient, ListFunctionsCommand } from '@aws-sdk/client-lambda';
import { SendMessageCommand, SQSClient } from '@aws-sdk/client-sqs';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { afterEach, describe, expect, it } from 'vitest';
import { ChaosRulesError, parseChaosFlag, type ChaosRuleStatus } from '../../../../../local/aws/chaos/index.js';
import {
  AwsServiceError,
  startLocalAwsEndpoint,
  type AwsJsonService,
  type LocalAwsEndpoint,
  type LocalAwsEndpointOptions,
} from '../../../../../local/aws/endpoint.js';

const CLIENT = { region: 'us-east-1', credentials: { accessKeyId: 'AKIDLOCAL', secretAccessKey: 'local' } };

/** A small stand-in for EventBridge: records the operations it served. */
function fakeEventBridge(served: string[]): AwsJsonService {
  return {
    targetPrefix: 'AWSEvents',
    jsonVersion: '1.1',
    handle(operation, input) {
      served.push(operation);
      if (operation === 'PutEvents') {
        const entries = (input.Entries as unknown[] | undefined) ?? [];
        return { FailedEntryCount: 0, Entries: entries.map((_, index) => ({ EventId: `event-${index}` })) };
      }
      if (operation === 'ListRules') return { Rules: [] };
      throw new AwsServiceError('UnknownOperationException', operation);
    },
  };
}

const cleanup: Array<() => Promise<void> | void> = [];
afterEach(async () => {
  for (const step of cleanup.splice(0).reverse()) await step();
});

async function endpointWith(options: Partial<LocalAwsEndpointOptions> = {}) {
  const served: string[] = [];
  const endpoint = await startLocalAwsEndpoint({ services: [fakeEventBridge(served)], ...options });
  cleanup.push(() => endpoint.stop());
  return { endpoint, served };
}

function eventBridge(endpoint: LocalAwsEndpoint, maxAttempts = 1) {
  const client = new EventBridgeClient({ ...CLIENT, endpoint: endpoint.endpoint, maxAttempts });
  cleanup.push(() => client.destroy());
  return client;
}

const chaosUrl = (endpoint: LocalAwsEndpoint) => `${endpoint.endpoint}/_switchyard/chaos`;

async function putChaos(endpoint: LocalAwsEndpoint, body: unknown) {
  const response = await fetch(chaosUrl(endpoint), { method: 'PUT', body: typeof body === 'string' ? body : JSON.stringify(body) });
  return {
    status: response.status,
    body: (await response.json()) as { rules: ChaosRuleStatus[]; seed?: number; error?: string; message?: string },
  };
}

async function getChaos(endpoint: LocalAwsEndpoint) {
  return (await (await fetch(chaosUrl(endpoint))).json()) as { rules: ChaosRuleStatus[]; seed?: number };
}

const putEvents = new PutEventsCommand({ Entries: [{ Source: 'switchyard.test', DetailType: 'Ping', Detail: '{}' }] });

async function rejection(
  promise: Promise<unknown>,
): Promise<Error & { $metadata: { httpStatusCode?: number; attempts?: number }; $fault?: string }> {
  try {
    await promise;
  } catch (error) {
    return error as Error & { $metadata: { httpStatusCode?: number; attempts?: number }; $fault?: string };
  }
  throw new Error('expected the call to fail');
}

describe('chaos on a JSON-protocol service (EventBridge)', () => {
  it('the SDK sees InternalFailure (500), the service never runs, and the counts say so', async () => {
    const { endpoint, served } = await endpointWith();
    const put = await putChaos(endpoint, [{ service: 'events', operation: 'PutEvents', probability: 1, error: 'InternalFailure' }]);
    expect(put.status).toBe(200);

    const error = await rejection(eventBridge(endpoint).send(putEvents));
    expect(error.name).toBe('InternalFailure');
    expect(error.$fault).toBe('server');
    expect(error.$metadata.httpStatusCode).toBe(500);
    expect(error.message).toContain('injected by switchyard chaos');
    expect(served).toEqual([]);

    // Another operation of the same service is untouched.
    await eventBridge(endpoint).send(new ListRulesCommand({}));
    expect(served).toEqual(['ListRules']);
    expect((await getChaos(endpoint)).rules).toEqual([
      { service: 'events', operation: 'PutEvents', probability: 1, error: 'InternalFailure', calls: 1, faults: 1 },
    ]);
  });

  it('a rule with `times` fails only that many calls (the first attempt), then lets the rest through', async () => {
    const { endpoint, served } = await endpointWith();
    await putChaos(endpoint, [{ service: 'events', operation: 'PutEvents', probability: 1, times: 1 }]);
    const error = await rejection(eventBridge(endpoint, 1).send(putEvents));
    expect(error.name).toBe('InternalFailure');
    await eventBridge(endpoint, 1).send(putEvents);
    await eventBridge(endpoint, 1).send(putEvents);
    expect(served).toEqual(['PutEvents', 'PutEvents']);
    expect((await getChaos(endpoint)).rules[0]).toMatchObject({ times: 1, calls: 3, faults: 1 });
    expect((await putChaos(endpoint, [{ service: 'events', probability: 1, times: 0 }])).status).toBe(400);
  });

  it('the SDK retries a retryable fault as it would the real one: every attempt is counted', async () => {
    const { endpoint, served } = await endpointWith();
    await putChaos(endpoint, [{ service: 'events', operation: 'PutEvents', probability: 1, error: 'ThrottlingException' }]);
    const error = await rejection(eventBridge(endpoint, 3).send(putEvents));
    expect(error.name).toBe('ThrottlingException');
    expect(error.$metadata.httpStatusCode).toBe(400);
    expect(error.$metadata.attempts).toBe(3);
    expect((await getChaos(endpoint)).rules[0]).toMatchObject({ calls: 3, faults: 3 });
    expect(served).toEqual([]);
  });

  it('a retried call that is let through succeeds (ServiceUnavailable 503, seeded)', async () => {
    const { endpoint, served } = await endpointWith();
    await putChaos(endpoint, {
      seed: 3,
      rules: [{ service: 'events', operation: 'PutEvents', probability: 0.5, error: 'ServiceUnavailable' }],
    });
    const client = eventBridge(endpoint, 10);
    for (let i = 0; i < 5; i++) await client.send(putEvents);
    const [rule] = (await getChaos(endpoint)).rules;
    expect(served.length).toBe(5);
    expect(rule?.faults).toBeGreaterThan(0);
    expect(rule?.calls).toBe(5 + (rule?.faults ?? 0));
  });

  it('a seed replays the same faults; the fraction follows the probability', async () => {
    const outcomes = async () => {
      const { endpoint } = await endpointWith();
      await putChaos(endpoint, { seed: 42, rules: [{ service: 'events', operation: 'PutEvents', probability: 0.5 }] });
      const client = eventBridge(endpoint);
      const results: boolean[] = [];
      for (let i = 0; i < 40; i++)
        results.push(
          await client.send(putEvents).then(
            () => true,
            () => false,
          ),
        );
      return { results, status: await getChaos(endpoint) };
    };
    const first = await outcomes();
    const second = await outcomes();
    expect(second.results).toEqual(first.results);
    const failures = first.results.filter((ok) => !ok).length;
    expect(failures).toBeGreaterThan(8);
    expect(failures).toBeLessThan(32);
    expect(first.status).toEqual({
      seed: 42,
      rules: [{ service: 'events', operation: 'PutEvents', probability: 0.5, error: 'InternalFailure', calls: 40, faults: failures }],
    });
  });

  it('the random source can be injected, and rules can be set at start', async () => {
    const rules = [parseChaosFlag('events:PutEvents=0.5')];
    const never = await endpointWith({ chaos: { rules, random: () => 0.5 } });
    await eventBridge(never.endpoint).send(putEvents);
    const always = await endpointWith({ chaos: { rules, random: () => 0.49 } });
    expect((await rejection(eventBridge(always.endpoint).send(putEvents))).name).toBe('InternalFailure');
    expect(never.endpoint.chaos.status().rules[0]).toMatchObject({ calls: 1, faults: 0 });
    expect(always.endpoint.chaos.status().rules[0]).toMatchObject({ calls: 1, faults: 1 });
  });

  it('DELETE clears the rules', async () => {
    const { endpoint, served } = await endpointWith();
    await putChaos(endpoint, [{ service: '*', probability: 1 }]);
    await rejection(eventBridge(endpoint).send(putEvents));
    const cleared = await fetch(chaosUrl(endpoint), { method: 'DELETE' });
    expect(cleared.status).toBe(200);
    expect(await getChaos(endpoint)).toEqual({ rules: [] });
    await eventBridge(endpoint).send(putEvents);
    expect(served).toEqual(['PutEvents']);
  });

  it('SQS (JSON 1.0) gets the fault under its own service name', async () => {
    const { endpoint } = await endpointWith();
    await putChaos(endpoint, [{ service: 'sqs', operation: 'SendMessage', probability: 1, error: 'RequestThrottled' }]);
    const sqs = new SQSClient({ ...CLIENT, endpoint: endpoint.endpoint, maxAttempts: 1 });
    cleanup.push(() => sqs.destroy());
    const error = await rejection(sqs.send(new SendMessageCommand({ QueueUrl: `${endpoint.endpoint}/000000000000/q`, MessageBody: 'x' })));
    expect(error.name).toBe('RequestThrottled');
    expect((await getChaos(endpoint)).rules[0]).toMatchObject({ calls: 1, faults: 1 });
  });
});

describe('chaos on path-routed and proxied services', () => {
  it('Lambda Invoke: TooManyRequestsException with status 429 and its Reason; ListFunctions untouched', async () => {
    const { endpoint } = await endpointWith();
    let invoked = 0;
    endpoint.addRoute('/2015-03-31/functions', (request) => {
      if (request.path.endsWith('/invocations')) invoked++;
      const body = request.path.endsWith('/invocations') ? '{"ok":true}' : '{"Functions":[]}';
      return { statusCode: 200, headers: { 'Content-Type': 'application/json' }, body };
    });
    await putChaos(endpoint, [{ service: 'lambda', operation: 'Invoke', probability: 1, error: 'TooManyRequestsException' }]);
    const lambda = new LambdaClient({ ...CLIENT, endpoint: endpoint.endpoint, maxAttempts: 1 });
    cleanup.push(() => lambda.destroy());

    const error = (await rejection(lambda.send(new InvokeCommand({ FunctionName: 'health', Payload: Buffer.from('{}') })))) as Error & {
      $metadata: { httpStatusCode?: number };
      Reason?: string;
    };
    expect(error.name).toBe('TooManyRequestsException');
    expect(error.$metadata.httpStatusCode).toBe(429);
    expect(error.Reason).toBe('ConcurrentInvocationLimitExceeded');
    expect(invoked).toBe(0);
    await lambda.send(new ListFunctionsCommand({}));
    expect((await getChaos(endpoint)).rules[0]).toMatchObject({ calls: 1, faults: 1 });
  });

  it('DynamoDB (proxied): ProvisionedThroughputExceededException before the upstream sees the call', async () => {
    const upstreamTargets: string[] = [];
    const upstream: Server = createServer((req, res) => {
      upstreamTargets.push(String(req.headers['x-amz-target']));
      req.resume();
      req.on('end', () => {
        res.writeHead(200, { 'Content-Type': 'application/x-amz-json-1.0' });
        res.end('{}');
      });
    });
    await new Promise<void>((resolve) => upstream.listen(0, '127.0.0.1', resolve));
    cleanup.push(() => new Promise<void>((resolve) => upstream.close(() => resolve())));
    const { endpoint } = await endpointWith();
    endpoint.addProxy('DynamoDB_20120810', `http://127.0.0.1:${(upstream.address() as AddressInfo).port}`);
    await putChaos(endpoint, [
      { service: 'dynamodb', operation: 'PutItem', probability: 1, error: 'ProvisionedThroughputExceededException' },
    ]);
    const dynamodb = new DynamoDBClient({ ...CLIENT, endpoint: endpoint.endpoint, maxAttempts: 1 });
    cleanup.push(() => dynamodb.destroy());

    const error = await rejection(dynamodb.send(new PutItemCommand({ TableName: 't', Item: { pk: { S: '1' } } })));
    expect(error.name).toBe('ProvisionedThroughputExceededException');
    expect(error.$metadata.httpStatusCode).toBe(400);
    await dynamodb.send(new GetItemCommand({ TableName: 't', Key: { pk: { S: '1' } } }));
    expect(upstreamTargets).toEqual(['DynamoDB_20120810.GetItem']);
    // The proxied fault is still a call the endpoint counted.
    expect(endpoint.calls()['DynamoDB_20120810.PutItem']).toBe(1);
  });
});

describe('bad chaos input: a clear 400 and nothing changes', () => {
  const BAD: Array<[string, unknown, RegExp]> = [
    ['not JSON', '[{', /not JSON/],
    ['not an array', { service: 'events' }, /unknown field service/],
    [
      'probability above 1',
      [{ service: 'events', operation: 'PutEvents', probability: 2 }],
      /rule 0: probability must be a number from 0 to 1, got 2/,
    ],
    ['probability missing', [{ service: 'events' }], /probability/],
    ['unknown service', [{ service: 'evnts', probability: 1 }], /service must be one of .*events/],
    [
      'an error the service does not have',
      [{ service: 'events', probability: 1, error: 'ProvisionedThroughputExceededException' }],
      /error for events must be one of/,
    ],
    ['a misspelt field', [{ service: 'events', probabilty: 1 }], /unknown field probabilty/],
    ['a bad operation name', [{ service: 'events', operation: 'Put Events', probability: 1 }], /operation must be/],
    ['a bad seed', { seed: 'x', rules: [] }, /seed must be a whole number/],
  ];
  for (const [name, body, message] of BAD) {
    it(name, async () => {
      const { endpoint } = await endpointWith();
      await putChaos(endpoint, [{ service: 'sqs', probability: 0.25 }]);
      const put = await putChaos(endpoint, body);
      expect(put.status).toBe(400);
      expect(put.body.error).toBe('InvalidChaosRules');
      expect(put.body.message).toMatch(message);
      expect((await getChaos(endpoint)).rules).toEqual([
        { service: 'sqs', operation: '*', probability: 0.25, error: 'InternalFailure', calls: 0, faults: 0 },
      ]);
    });
  }

  it('other methods are refused', async () => {
    const { endpoint } = await endpointWith();
    const response = await fetch(chaosUrl(endpoint), { method: 'POST', body: '[]' });
    expect(response.status).toBe(405);
    expect(response.headers.get('allow')).toBe('GET, PUT, DELETE');
  });
});

describe('--chaos flags', () => {
  it('service:Operation=probability[:ErrorCode]', () => {
    expect(parseChaosFlag('events:PutEvents=0.5')).toEqual({
      service: 'events',
      operation: 'PutEvents',
      probability: 0.5,
      error: 'InternalFailure',
    });
    expect(parseChaosFlag('lambda:Invoke=1:TooManyRequestsException')).toEqual({
      service: 'lambda',
      operation: 'Invoke',
      probability: 1,
      error: 'TooManyRequestsException',
    });
    expect(parseChaosFlag('sqs=0.1')).toEqual({ service: 'sqs', operation: '*', probability: 0.1, error: 'InternalFailure' });
  });

  it.each([
    ['events:PutEvents', /service:Operation=probability/],
    ['events:PutEvents=half', /probability must be a number from 0 to 1, got "half"/],
    ['events:PutEvents=0.5:Oops', /error for events must be one of/],
    ['nope:X=0.5', /service must be one of/],
  ])('%s is refused', (flag, message) => {
    expect(() => parseChaosFlag(flag)).toThrow(ChaosRulesError);
    expect(() => parseChaosFlag(flag)).toThrow(message);
  });
});
