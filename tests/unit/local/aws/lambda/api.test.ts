/** The Lambda API on the one endpoint, driven by the real SDK Lambda client, as `aws lambda invoke --endpoint-url` would. */
import { InvokeCommand, LambdaClient, ListFunctionsCommand, ResourceNotFoundException } from '@aws-sdk/client-lambda';
import { fileURLToPath } from 'node:url';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startLocalAwsEndpoint, type LocalAwsEndpoint } from '../../../../../local/aws/endpoint.js';
import { AsyncLambdaInvoker } from '../../../../../local/aws/lambda/async-invoke.js';
import { registerLambdaApi } from '../../../../../local/aws/lambda/api.js';
import { Clock } from '../../../../../local/clock.js';
import { Dispatcher } from '../../../../../local/dispatch.js';
import { LambdaService } from '../../../../../local/lambda/service.js';

let endpoint: LocalAwsEndpoint;
let lambda: LambdaService;
let asyncInvoker: AsyncLambdaInvoker;
let client: LambdaClient;

beforeAll(async () => {
  lambda = new LambdaService(
    [
      {
        logicalId: 'Echo',
        functionName: 'Stack-Echo',
        assetDir: fileURLToPath(new URL('../../../../fixtures/lambda/esm-echo/', import.meta.url)),
        handler: 'index.handler',
        runtime: 'nodejs22.x',
        timeoutSeconds: 5,
        memorySizeMb: 128,
        environment: {},
      },
      {
        logicalId: 'Broken',
        functionName: 'Stack-Broken',
        assetDir: fileURLToPath(new URL('../../../../fixtures/lambda/esm-echo/', import.meta.url)),
        handler: 'index.missing',
        runtime: 'nodejs22.x',
        timeoutSeconds: 5,
        memorySizeMb: 128,
        environment: {},
      },
    ],
    { baseEnvironment: { AWS_REGION: 'us-east-1' } },
  );
  endpoint = await startLocalAwsEndpoint({ services: [] });
  asyncInvoker = new AsyncLambdaInvoker(lambda, new Dispatcher(), new Clock());
  registerLambdaApi(endpoint, lambda, asyncInvoker);
  client = new LambdaClient({
    endpoint: endpoint.endpoint,
    region: 'us-east-1',
    credentials: { accessKeyId: 'x', secretAccessKey: 'x' },
    maxAttempts: 1,
  });
});

afterAll(async () => {
  client.destroy();
  await lambda.stop();
  await endpoint.stop();
});

const text = (bytes: Uint8Array | undefined) => Buffer.from(bytes ?? []).toString('utf8');

describe('Lambda API on the local endpoint', () => {
  it('invokes synchronously and returns the payload and, with LogType Tail, the log', async () => {
    const out = await client.send(
      new InvokeCommand({ FunctionName: 'Stack-Echo', Payload: JSON.stringify({ name: 'sdk' }), LogType: 'Tail' }),
    );
    expect(out.StatusCode).toBe(200);
    expect(out.FunctionError).toBeUndefined();
    expect(out.ExecutedVersion).toBe('$LATEST');
    expect(JSON.parse(text(out.Payload))).toMatchObject({ format: 'esm', greeting: 'hello sdk' });
    const log = Buffer.from(out.LogResult ?? '', 'base64').toString('utf8');
    expect(log).toMatch(/START RequestId: \S+ Version: \$LATEST/);
    expect(log).toMatch(/REPORT RequestId: /);
  });

  it('accepts the function by ARN and reports a function error the way Lambda does', async () => {
    const out = await client.send(new InvokeCommand({ FunctionName: lambda.functionArn('Stack-Broken'), Payload: '{}' }));
    expect(out.StatusCode).toBe(200);
    expect(out.FunctionError).toBe('Unhandled');
    expect(JSON.parse(text(out.Payload))).toMatchObject({ errorType: 'Runtime.HandlerNotFound' });
  });

  it('queues an Event invocation with 202 and runs it', async () => {
    const out = await client.send(new InvokeCommand({ FunctionName: 'Stack-Echo', InvocationType: 'Event', Payload: '{"name":"later"}' }));
    expect(out.StatusCode).toBe(202);
    await asyncInvoker.drain();
    expect(asyncInvoker.recent().at(-1)).toMatchObject({ status: 'succeeded', attempts: 1 });
  });

  it('answers an unknown function with ResourceNotFoundException, and lists the functions', async () => {
    await expect(client.send(new InvokeCommand({ FunctionName: 'nope' }))).rejects.toBeInstanceOf(ResourceNotFoundException);
    const listed = await client.send(new ListFunctionsCommand({}));
    expect(listed.Functions?.map((f) => f.FunctionName)).toEqual(['Stack-Echo', 'Stack-Broken']);
    expect(endpoint.calls()).toMatchObject({ 'POST /2015-03-31/functions': 4, 'GET /2015-03-31/functions': 1 });
  });
});
