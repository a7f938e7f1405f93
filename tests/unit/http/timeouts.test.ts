/**
 * What a caller sees when a dependency hangs: a 503 problem before the Lambda
 * timeout, not the runtime's kill and API Gateway's bare 502/504.
 */
import { GetCommand } from '@aws-sdk/lib-dynamodb';
import type { CloudFormationCustomResourceEvent, Context } from 'aws-lambda';
import { createServer, type Server } from 'node:http';
import { createServer as createTcpServer, type Socket } from 'node:net';
import type { AddressInfo } from 'node:net';
import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest';
import * as z from 'zod';
import { sendCustomResourceResponse } from '../../../shared/custom-resource.js';
import { httpApi } from '../../../shared/http/middleware.js';
import { bind, defineRoute } from '../../../shared/http/route.js';
import { dynamoDocumentClient } from '../../../shared/store/client.js';
import { apiEvent, lambdaContext } from '../../support/api-event.js';
import { problemOf } from './support.js';

/** A TCP endpoint that accepts connections and never answers: a hung dependency. */
const sockets = new Set<Socket>();
const silent = createTcpServer((socket) => {
  sockets.add(socket);
  socket.on('close', () => sockets.delete(socket));
});
/** An HTTP endpoint that reads the request and never answers. */
const stalledHttp: Server = createServer(() => undefined);
let silentUrl = '';
let stalledUrl = '';

beforeAll(async () => {
  await new Promise<void>((resolve) => silent.listen(0, '127.0.0.1', resolve));
  await new Promise<void>((resolve) => stalledHttp.listen(0, '127.0.0.1', resolve));
  silentUrl = `http://127.0.0.1:${(silent.address() as AddressInfo).port}`;
  stalledUrl = `http://127.0.0.1:${(stalledHttp.address() as AddressInfo).port}`;
});
afterAll(async () => {
  for (const socket of sockets) socket.destroy();
  stalledHttp.closeAllConnections();
  await Promise.all([new Promise((r) => silent.close(r)), new Promise((r) => stalledHttp.close(r))]);
  vi.unstubAllEnvs();
});

const route = defineRoute({
  operationId: 'getThing',
  method: 'GET',
  path: '/things/{id}',
  functionName: 'receivers',
  access: 'viewer',
  tags: [],
  summary: 'x',
  params: z.strictObject({ id: z.string() }),
  query: z.strictObject({}),
  responses: { 200: { description: 'ok' } },
});
const get = (handler: ReturnType<typeof httpApi>, context: Context) =>
  handler(apiEvent({ httpMethod: 'GET', resource: '/things/{id}', pathParameters: { id: 'a' } }), context);
const withRemaining = (ms: number): Context => {
  const deadline = Date.now() + ms;
  return { ...lambdaContext, getRemainingTimeInMillis: () => deadline - Date.now() };
};

describe('a handler whose DynamoDB call hangs', () => {
  it('answers a 503 problem before the Lambda timeout, from the SDK client timeouts', async () => {
    // The shared client, pointed at the silent endpoint; one attempt so the test needs one timeout, not three.
    vi.stubEnv('AWS_ENDPOINT_URL_DYNAMODB', silentUrl);
    vi.stubEnv('AWS_REGION', 'us-east-1');
    vi.stubEnv('AWS_ACCESS_KEY_ID', 'local');
    vi.stubEnv('AWS_SECRET_ACCESS_KEY', 'local');
    vi.stubEnv('AWS_MAX_ATTEMPTS', '1');
    const handler = httpApi(
      [
        bind(route, async () => {
          await dynamoDocumentClient().send(new GetCommand({ TableName: 't', Key: { pk: 'a', sk: 'a' } }));
          return { status: 200, body: {} };
        }),
      ],
      { allowedOrigins: [], maxBodyBytes: 1024 },
    );
    // A Lambda with a 10 s timeout: the SDK must give up well before, and the chain must turn that into a problem.
    const res = await get(handler, withRemaining(10_000));
    expect(problemOf(res)).toMatchObject({ status: 503, code: 'TIMEOUT' });
  }, 15_000);

  it('is aborted by middy before the Lambda timeout: its signal fires and the answer is a 503 problem', async () => {
    let seen: AbortSignal | undefined;
    const handler = httpApi(
      [
        bind(route, async ({ signal }) => {
          seen = signal;
          // Hangs until the signal fires (a call that honours cancellation), or forever if there is none.
          await new Promise((_, reject) => signal?.addEventListener('abort', () => reject(new Error('aborted'))));
          return { status: 200, body: {} };
        }),
      ],
      { allowedOrigins: [], maxBodyBytes: 1024, timeoutEarlyMs: 1_500 },
    );
    const res = await get(handler, withRemaining(1_700));
    const problem = problemOf(res);
    expect(problem).toMatchObject({ status: 503, code: 'TIMEOUT', title: 'Service Unavailable' });
    expect(res.headers?.['Retry-After']).toBe('1');
    expect(seen?.aborted).toBe(true);
  }, 15_000);
});

describe('the custom resource response PUT', () => {
  const event = {
    RequestType: 'Create',
    ResponseURL: '',
    StackId: 'stack',
    RequestId: 'req',
    LogicalResourceId: 'Bootstrap',
    ResourceType: 'Custom::Bootstrap',
    ServiceToken: 'arn',
    ResourceProperties: { ServiceToken: 'arn' },
  } as CloudFormationCustomResourceEvent;

  it('gives up after its timeout when the endpoint never answers', async () => {
    const put = sendCustomResourceResponse(
      { ...event, ResponseURL: `${stalledUrl}/signed` },
      { status: 'SUCCESS', physicalResourceId: 'x' },
      { timeoutMs: 300 },
    );
    await expect(put).rejects.toThrow(/gave up after 300 ms/);
  }, 10_000);

  it('gives up when the connection is accepted but nothing ever comes back', async () => {
    const put = sendCustomResourceResponse(
      { ...event, ResponseURL: `${silentUrl}/signed` },
      { status: 'FAILED', physicalResourceId: 'x' },
      { timeoutMs: 300 },
    );
    await expect(put).rejects.toThrow(/gave up/);
  }, 10_000);
});
