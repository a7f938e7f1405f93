/**
 * Idempotency-Key on routes whose answer carries a secret (an API key, tokens):
 * the secret never reaches the table, and a replay is refused as documented
 * (docs/auth.md, "Idempotent POSTs"). The real chain, against DynamoDB Local.
 */
import { ScanCommand, type DynamoDBDocumentClient } from '@aws-sdk/lib-dynamodb';
import type { APIGatewayProxyResult } from 'aws-lambda';
import { createHash, randomBytes, randomUUID } from 'node:crypto';
import { beforeAll, describe, expect, inject, it } from 'vitest';
import { apiKeyRoutes, authRoutes, receiverRoutes } from '../../shared/api/routes.js';
import { generateApiKey } from '../../shared/auth/secrets.js';
import { UnauthenticatedError } from '../../shared/domain/errors.js';
import type { IdentityStore } from '../../shared/domain/identity.js';
import { idempotentPosts } from '../../shared/http/idempotency.js';
import { httpApi } from '../../shared/http/middleware.js';
import { bind, type BoundRoute } from '../../shared/http/route.js';
import { LOCAL_CREDENTIALS } from '../../local/aws/dynamodb/local-process.js';
import { apiEvent, lambdaContext } from '../support/api-event.js';
import { freshTable } from '../support/table.js';

const PASSWORD = 'correct horse battery staple';
let tableName: string;
let client: DynamoDBDocumentClient;
let handler: ReturnType<typeof httpApi>;
/** How many times each operation really ran: a refused replay must not run it again. */
const runs = new Map<string, number>();
const ran = (op: string) => runs.set(op, (runs.get(op) ?? 0) + 1);
const token = () => randomBytes(32).toString('base64url');

beforeAll(async () => {
  ({ tableName, client } = await freshTable());
  // Powertools' persistence layer builds its own SDK client from the environment, as in a function.
  process.env.AWS_ENDPOINT_URL_DYNAMODB = inject('dynamoEndpoint');
  process.env.AWS_REGION = 'us-east-1';
  process.env.AWS_ACCESS_KEY_ID = LOCAL_CREDENTIALS.accessKeyId;
  process.env.AWS_SECRET_ACCESS_KEY = LOCAL_CREDENTIALS.secretAccessKey;
  // The routes' real contracts (secretResponse marks) with handlers that answer secrets of the real shapes:
  // what is under test is what the Idempotency-Key layer keeps in the table, not the domain behind it.
  const routes: BoundRoute[] = [
    bind(apiKeyRoutes.create, async ({ body }) => {
      ran('createApiKey');
      const id = randomUUID();
      return {
        status: 201,
        body: { id, name: body.name, role: body.role, key: generateApiKey() },
        headers: { Location: `/api/v1/api-keys/${id}` },
      };
    }),
    bind(authRoutes.login, async ({ body }) => {
      ran('login');
      if (body.password !== PASSWORD) throw new UnauthenticatedError('Invalid credentials');
      return {
        status: 200,
        body: { accessToken: `h.${token()}.s`, refreshToken: `${randomUUID()}.${token()}`, expiresIn: 900, tokenType: 'Bearer' },
      };
    }),
    bind(authRoutes.refresh, async () => {
      ran('refresh');
      return {
        status: 200,
        body: { accessToken: `h.${token()}.s`, refreshToken: `${randomUUID()}.${token()}`, expiresIn: 900, tokenType: 'Bearer' },
      };
    }),
    // A route without secrets: still replayed in full.
    bind(receiverRoutes.create, async ({ body }) => ({ status: 201, body: { id: randomUUID(), name: body.name } })),
  ];
  // The guards' two calls; the table holds only what the Idempotency-Key layer writes.
  let requests = 0;
  const store = { countRequest: async () => ++requests, appendAudit: async () => undefined } as unknown as IdentityStore;
  handler = httpApi(
    routes,
    { allowedOrigins: [], maxBodyBytes: 65_536 },
    {
      tableName,
      identityStore: () => store,
      rateLimits: { windowSeconds: 60, anonymous: 100_000, authenticated: 100_000, admin: 100_000, login: 100_000 },
      idempotency: idempotentPosts(
        tableName,
        routes.map((r) => r.spec),
      ),
    },
  );
});

const ADMIN = { principalId: 'user-admin', kind: 'user', name: 'admin', roles: 'admin' };
const post = (resource: string, body: unknown, key: string, authorizer: Record<string, string> | null = ADMIN, correlationId?: string) =>
  handler(
    apiEvent({
      httpMethod: 'POST',
      resource,
      body: JSON.stringify(body),
      headers: {
        'Content-Type': 'application/json',
        'Idempotency-Key': key,
        ...(correlationId ? { 'X-Correlation-Id': correlationId } : {}),
      },
      requestContext: { ...apiEvent({ httpMethod: 'POST', resource }).requestContext, authorizer },
    }),
    lambdaContext,
  );

/** Every item in the table, as text: a secret anywhere in it is a leak. */
async function tableText(): Promise<string> {
  const items: unknown[] = [];
  let start: Record<string, unknown> | undefined;
  do {
    const page = await client.send(new ScanCommand({ TableName: tableName, ExclusiveStartKey: start, ConsistentRead: true }));
    items.push(...(page.Items ?? []));
    start = page.LastEvaluatedKey;
  } while (start);
  return JSON.stringify(items);
}

const idempotencyRecords = async () =>
  (JSON.parse(await tableText()) as Array<Record<string, unknown>>).filter((item) => item.pk === 'IDEMPOTENCY');

function expectRefusedReplay(res: APIGatewayProxyResult, firstStatus: number) {
  expect(res.statusCode).toBe(409);
  expect(res.headers?.['Content-Type']).toBe('application/problem+json');
  const problem = JSON.parse(res.body) as { code: string; detail: string };
  expect(problem.code).toBe('IDEMPOTENT_SECRET_NOT_REPLAYED');
  expect(problem.detail).toContain(`already succeeded (${firstStatus})`);
  expect(problem.detail).toContain('new Idempotency-Key');
}

describe('Idempotency-Key on secret-bearing routes', () => {
  it('POST /api-keys: the key is answered once, never stored in clear, and a replay is refused with its Location', async () => {
    const first = await post('/api/v1/api-keys', { name: 'ci', role: 'developer' }, 'key-create-1');
    expect(first.statusCode).toBe(201);
    const created = JSON.parse(first.body) as { id: string; key: string };
    expect(created.key).toMatch(/^sy_/);
    const stored = await tableText();
    expect(stored).not.toContain(created.key);
    expect(stored).not.toContain(created.key.slice(3)); // nor its random part alone
    expect(await idempotencyRecords()).toHaveLength(1); // …though the key was remembered

    const replay = await post('/api/v1/api-keys', { name: 'ci', role: 'developer' }, 'key-create-1');
    expectRefusedReplay(replay, 201);
    expect(replay.headers?.Location).toBe(`/api/v1/api-keys/${created.id}`); // where the key that was made lives
    expect(replay.body).not.toContain(created.key);
    expect(runs.get('createApiKey')).toBe(1); // at most once: the retry made no second key
    expect(await tableText()).not.toContain(created.key);
  });

  it('login and refresh: no token, password or body hash in the table; replays refused', async () => {
    const body = { username: 'ada', password: PASSWORD };
    const login = await post('/api/v1/auth/login', body, 'login-1', null);
    expect(login.statusCode).toBe(200);
    const pair = JSON.parse(login.body) as { accessToken: string; refreshToken: string };
    const refresh = await post('/api/v1/auth/refresh', { refreshToken: pair.refreshToken }, 'refresh-1', null);
    expect(refresh.statusCode).toBe(200);
    const next = JSON.parse(refresh.body) as { accessToken: string; refreshToken: string };

    const stored = await tableText();
    for (const secret of [pair.accessToken, pair.refreshToken, next.accessToken, next.refreshToken, PASSWORD]) {
      expect(stored).not.toContain(secret);
      for (const part of secret.split('.')) if (part.length >= 16) expect(stored).not.toContain(part);
    }
    // Nor an unsalted hash of a body holding the password (Powertools' payload validation hashes it with md5).
    const md5 = createHash('md5')
      .update(JSON.stringify(JSON.stringify(body)))
      .digest('hex');
    expect(stored).not.toContain(md5);
    for (const record of await idempotencyRecords()) expect(record).not.toHaveProperty('validation');

    expectRefusedReplay(await post('/api/v1/auth/login', body, 'login-1', null), 200);
    expectRefusedReplay(await post('/api/v1/auth/refresh', { refreshToken: pair.refreshToken }, 'refresh-1', null), 200);
    expect([runs.get('login'), runs.get('refresh')]).toEqual([1, 1]);
  });

  it('a failed first request is not remembered: its retry runs', async () => {
    const wrong = await post('/api/v1/auth/login', { username: 'ada', password: 'not the password' }, 'login-2', null);
    expect(wrong.statusCode).toBe(401);
    const retry = await post('/api/v1/auth/login', { username: 'ada', password: PASSWORD }, 'login-2', null);
    expect(retry.statusCode).toBe(200);
  });

  it('routes without secrets still replay the first response in full', async () => {
    const receiver = { name: 'builds', type: 'ci', version: '1.0.0', schema: { type: 'object' } };
    const first = await post('/api/v1/receivers', receiver, 'receiver-1');
    expect(first.statusCode).toBe(201);
    const again = await post('/api/v1/receivers', receiver, 'receiver-1', ADMIN, 'the-retry');
    expect(again.statusCode).toBe(first.statusCode);
    expect(again.body).toBe(first.body);
    expect(again.headers?.['Idempotent-Replayed']).toBe('true');
    // The replay is a request too: charged, and its headers say so (not the stored first answer's).
    expect(Number(again.headers?.['X-RateLimit-Remaining'])).toBe(Number(first.headers?.['X-RateLimit-Remaining']) - 1);
    expect(again.headers?.['X-Correlation-Id']).toBe('the-retry');
  });

  it('every refusal of an Idempotency-Key carries the rate-limit headers', async () => {
    const tooLong = await post('/api/v1/receivers', { name: 'x' }, 'k'.repeat(256));
    expect(tooLong.statusCode).toBe(400);
    const first = await post('/api/v1/api-keys', { name: 'ci-2', role: 'developer' }, 'key-create-rl');
    const refused = await post('/api/v1/api-keys', { name: 'ci-2', role: 'developer' }, 'key-create-rl');
    expect(refused.statusCode).toBe(409);
    for (const answer of [tooLong, first, refused]) {
      for (const name of ['X-RateLimit-Limit', 'X-RateLimit-Remaining', 'X-RateLimit-Reset'])
        expect(answer.headers?.[name], name).toBeDefined();
    }
  });
});
