/**
 * What the Lambda authorizer adds to a request; prints figures, asserts nothing.
 *
 * 1. Inside the authorizer: one decision (credential → principal → RBAC), for a
 *    JWT and an API key, uncached and cached, against DynamoDB Local.
 * 2. Through the local runtime: latency of a protected route (API Gateway →
 *    authorizer Lambda → handler Lambda) with the authorizer's cache on (30 s)
 *    and off (0 s), beside GET /health for reference.
 */
import autocannon from 'autocannon';
import type { APIGatewayRequestAuthorizerEvent } from 'aws-lambda';
import { DynamoDBClient } from '@aws-sdk/client-dynamodb';
import { DynamoDBDocumentClient } from '@aws-sdk/lib-dynamodb';
import { parseArgs } from 'node:util';
import { LOCAL_CREDENTIALS, startDynamoDbLocal } from '../local/aws/dynamodb/local-process.js';
import { ensureTable } from '../local/providers/dynamodb-table.js';
import { BENCH_AUDIT, dataTableInput } from './support.js';
import { allRoutes } from '../shared/api/routes.js';
import { createAuthorizer } from '../shared/auth/authorizer.js';
import { SessionService } from '../shared/auth/sessions.js';
import { generateSigningKey } from '../shared/auth/signing-keys.js';
import { ApiKeyService } from '../shared/domain/api-keys.js';
import { UserService } from '../shared/domain/users.js';
import { DynamoIdentityStore } from '../shared/store/identity-store.js';
import { systemClock, uuidIds } from '../shared/store/index.js';
import { startRuntimeProcess } from '../tests/support/runtime-process.js';

const { values } = parseArgs({ options: { iterations: { type: 'string', default: '300' }, duration: { type: 'string', default: '8' } } });
const iterations = Number(values.iterations);
const duration = Number(values.duration);

async function decisions() {
  const dynamo = await startDynamoDbLocal();
  try {
    const table = dataTableInput();
    await ensureTable(dynamo.client, table.input, table.ttlAttribute);
    const raw = new DynamoDBClient({ endpoint: dynamo.endpoint, region: 'us-east-1', credentials: LOCAL_CREDENTIALS });
    const store = new DynamoIdentityStore(DynamoDBDocumentClient.from(raw), table?.input.TableName as string, {
      // The bench's own setup writes are changes too: stores refuse them without an audit context.
      audit: BENCH_AUDIT,
    });
    const keys = { keys: [await generateSigningKey(new Date())] };
    const config = { issuer: 'switchyard', audience: 'switchyard-api', accessTokenSeconds: 900, refreshTokenSeconds: 3600 };
    await new UserService(store, systemClock, uuidIds).create({ username: 'bench', password: 'bench password 123', roles: ['developer'] });
    const { accessToken } = await new SessionService(store, async () => keys, config).login('bench', 'bench password 123');
    const { key } = await new ApiKeyService(store, systemClock, uuidIds).create({ name: 'bench', role: 'developer' }, 'bench');
    const event = (headers: Record<string, string>) =>
      ({
        type: 'REQUEST',
        methodArn: 'arn:aws:execute-api:us-east-1:0:api/prod/GET/api/v1/receivers',
        resource: '/api/v1/receivers',
        httpMethod: 'GET',
        headers,
      }) as unknown as APIGatewayRequestAuthorizerEvent;
    const rows: Record<string, { meanMs: string; p95Ms: string }> = {};
    for (const [credential, headers] of [
      ['JWT', { Authorization: `Bearer ${accessToken}` }],
      ['API key', { 'X-API-Key': key }],
    ] as const) {
      for (const cacheSeconds of [0, 30]) {
        const authorize = createAuthorizer({ routes: allRoutes, store, signingKeys: async () => keys, tokens: config, cacheSeconds });
        await authorize(event(headers));
        const times: number[] = [];
        for (let i = 0; i < iterations; i++) {
          const t = performance.now();
          await authorize(event(headers));
          times.push(performance.now() - t);
        }
        times.sort((a, b) => a - b);
        rows[`${credential}, ${cacheSeconds ? 'cached' : 'uncached'}`] = {
          meanMs: (times.reduce((a, b) => a + b, 0) / times.length).toFixed(3),
          p95Ms: (times[Math.floor(times.length * 0.95)] as number).toFixed(3),
        };
      }
    }
    // Login must not tell an unknown user from a wrong password by its timing (same scrypt work).
    const sessions = new SessionService(store, async () => keys, config);
    const loginTime = async (username: string) => {
      const times: number[] = [];
      for (let i = 0; i < 10; i++) {
        const t = performance.now();
        await sessions.login(username, 'not the password').catch(() => undefined);
        times.push(performance.now() - t);
      }
      return (times.reduce((a, b) => a + b, 0) / times.length).toFixed(1);
    };
    rows['login: wrong password'] = { meanMs: await loginTime('bench'), p95Ms: '-' };
    rows['login: unknown user'] = { meanMs: await loginTime('nobody-at-all'), p95Ms: '-' };
    raw.destroy();
    return rows;
  } finally {
    await dynamo.stop();
  }
}

async function throughRuntime(cacheSeconds: number) {
  const key = 'sy_bench_admin_key_0123456789abcdef';
  const runtime = await startRuntimeProcess({
    env: { SWITCHYARD_ADMIN_API_KEY: key },
    // Limits out of the way: this measures latency, not the limiter.
    context: { 'switchyard:authorizerCacheSeconds': String(cacheSeconds), 'switchyard:rateLimitWindowSeconds': '1' },
  });
  try {
    const run = async (path: string, headers: Record<string, string>) => {
      await autocannon({ url: `${runtime.url}${path}`, headers, connections: 4, duration: 2 });
      const r = await autocannon({ url: `${runtime.url}${path}`, headers, connections: 4, duration });
      return { rps: Math.round(r.requests.average), p50: r.latency.p50, p97_5: r.latency.p97_5, non2xx: r.non2xx };
    };
    return {
      protected: await run('/api/v1/receivers?limit=1', { 'X-API-Key': key }),
      health: await run('/health', {}),
    };
  } finally {
    await runtime.stop();
  }
}

console.log(`\n## authorizer decision in-process (${iterations} calls each, DynamoDB Local)`);
console.table(await decisions());
console.log(`\n## through the local runtime, 4 connections, ${duration} s (protected: GET /api/v1/receivers?limit=1 with X-API-Key)`);
const cached = await throughRuntime(30);
const uncached = await throughRuntime(0);
console.table({
  'protected, authorizer cache 30 s': cached.protected,
  'protected, authorizer cache off': uncached.protected,
  'GET /health (no authorizer, no table)': cached.health,
});
