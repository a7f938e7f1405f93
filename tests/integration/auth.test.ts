/** Sessions, the authorizer's decisions and the identity store, against DynamoDB Local. */
import type { APIGatewayRequestAuthorizerEvent } from 'aws-lambda';
import { beforeAll, describe, expect, it } from 'vitest';
import { allRoutes } from '../../shared/api/routes.js';
import { createAuthorizer, UNAUTHORIZED } from '../../shared/auth/authorizer.js';
import { SessionService } from '../../shared/auth/sessions.js';
import { generateSigningKey, type SigningKeySet } from '../../shared/auth/signing-keys.js';
import { ApiKeyService } from '../../shared/domain/api-keys.js';
import { UnauthenticatedError } from '../../shared/domain/errors.js';
import { UserService } from '../../shared/domain/users.js';
import { DynamoIdentityStore } from '../../shared/store/identity-store.js';
import { systemClock, uuidIds } from '../../shared/store/index.js';
import { freshTable, TEST_AUDIT } from '../support/table.js';

const config = { issuer: 'switchyard', audience: 'switchyard-api', accessTokenSeconds: 900, refreshTokenSeconds: 3600 };
let store: DynamoIdentityStore;
let keys: SigningKeySet;
let sessions: SessionService;
let users: UserService;

beforeAll(async () => {
  const { tableName, client } = await freshTable();
  store = new DynamoIdentityStore(client, tableName, { audit: TEST_AUDIT });
  keys = { keys: [await generateSigningKey(new Date())] };
  sessions = new SessionService(store, async () => keys, config);
  users = new UserService(store, systemClock, uuidIds);
  await users.create({ username: 'ada', password: 'correct horse battery', roles: ['developer'] });
});

const authorizerEvent = (method: string, resource: string, headers: Record<string, string>): APIGatewayRequestAuthorizerEvent =>
  ({
    type: 'REQUEST',
    methodArn: `arn:aws:execute-api:us-east-1:000000000000:api/prod/${method}${resource}`,
    resource,
    path: resource,
    httpMethod: method,
    headers,
    multiValueHeaders: {},
    pathParameters: null,
    queryStringParameters: null,
    multiValueQueryStringParameters: null,
    stageVariables: null,
    requestContext: {} as APIGatewayRequestAuthorizerEvent['requestContext'],
  }) as APIGatewayRequestAuthorizerEvent;

describe('login', () => {
  it('issues tokens for the right password and refuses the rest alike', async () => {
    const pair = await sessions.login('ada', 'correct horse battery');
    expect(pair).toMatchObject({ tokenType: 'Bearer', expiresIn: 900 });
    const wrong = await sessions.login('ada', 'wrong password!!').catch((e: unknown) => e);
    const unknown = await sessions.login('nobody', 'correct horse battery').catch((e: unknown) => e);
    expect(wrong).toBeInstanceOf(UnauthenticatedError);
    expect((unknown as Error).message).toBe((wrong as Error).message);
  });

  it('refuses disabled users', async () => {
    const u = await users.create({ username: 'gone', password: 'correct horse battery', roles: ['viewer'] });
    await users.update(u.id, { revision: 1, disabled: true });
    await expect(sessions.login('gone', 'correct horse battery')).rejects.toBeInstanceOf(UnauthenticatedError);
  });
});

describe('refresh tokens', () => {
  it('rotate, and reuse of a rotated one revokes the whole family', async () => {
    const first = await sessions.login('ada', 'correct horse battery');
    const second = await sessions.refresh(first.refreshToken);
    expect(second.refreshToken).not.toBe(first.refreshToken);
    const third = await sessions.refresh(second.refreshToken);
    await expect(sessions.refresh(first.refreshToken)).rejects.toBeInstanceOf(UnauthenticatedError);
    // The thief replayed an old token: the legitimate latest one is dead too.
    await expect(sessions.refresh(third.refreshToken)).rejects.toBeInstanceOf(UnauthenticatedError);
  });

  it('refuses malformed and unknown refresh tokens', async () => {
    await expect(sessions.refresh('garbage')).rejects.toBeInstanceOf(UnauthenticatedError);
    await expect(sessions.refresh('00000000-0000-4000-8000-000000000000.secret')).rejects.toBeInstanceOf(UnauthenticatedError);
  });
});

describe('the authorizer', () => {
  const authorize = () => createAuthorizer({ routes: allRoutes, store, signingKeys: async () => keys, tokens: config, cacheSeconds: 30 });

  it('allows a role that satisfies the route and passes the principal', async () => {
    const { accessToken } = await sessions.login('ada', 'correct horse battery');
    const result = await authorize()(authorizerEvent('POST', '/api/v1/receivers', { Authorization: `Bearer ${accessToken}` }));
    expect(result.policyDocument.Statement[0]).toMatchObject({ Effect: 'Allow' });
    expect(result.context).toMatchObject({ kind: 'user', name: 'ada', roles: 'developer', requiredRole: 'developer' });
  });

  it('denies a role that does not, naming the role required', async () => {
    const { accessToken } = await sessions.login('ada', 'correct horse battery');
    const result = await authorize()(authorizerEvent('GET', '/api/v1/users', { authorization: `Bearer ${accessToken}` }));
    expect(result.policyDocument.Statement[0]).toMatchObject({ Effect: 'Deny' });
    expect(result.context?.requiredRole).toBe('admin');
  });

  it('is Unauthorized without a credential, with a bad one, and after logout even when cached', async () => {
    const authorizer = authorize();
    await expect(authorizer(authorizerEvent('GET', '/api/v1/receivers', {}))).rejects.toThrow(UNAUTHORIZED);
    await expect(authorizer(authorizerEvent('GET', '/api/v1/receivers', { Authorization: 'Basic YTpi' }))).rejects.toThrow(UNAUTHORIZED);
    await expect(authorizer(authorizerEvent('GET', '/api/v1/receivers', { 'X-API-Key': 'sy_nope' }))).rejects.toThrow(UNAUTHORIZED);
    const pair = await sessions.login('ada', 'correct horse battery');
    const headers = { Authorization: `Bearer ${pair.accessToken}` };
    await authorizer(authorizerEvent('GET', '/api/v1/receivers', headers));
    const claims = JSON.parse(Buffer.from(pair.accessToken.split('.')[1] as string, 'base64url').toString()) as {
      jti: string;
      exp: number;
      sub: string;
    };
    await sessions.logout(claims, pair.refreshToken);
    await expect(authorizer(authorizerEvent('GET', '/api/v1/receivers', headers))).rejects.toThrow(UNAUTHORIZED);
    await expect(sessions.refresh(pair.refreshToken)).rejects.toBeInstanceOf(UnauthenticatedError);
  });

  it('accepts API keys with their role until they are revoked', async () => {
    const apiKeys = new ApiKeyService(store, systemClock, uuidIds);
    const created = await apiKeys.create({ name: 'ci', role: 'operator' }, 'test');
    const noCache = createAuthorizer({ routes: allRoutes, store, signingKeys: async () => keys, tokens: config, cacheSeconds: 0 });
    const ok = await noCache(authorizerEvent('POST', '/api/v1/events', { 'x-api-key': created.key }));
    expect(ok.context).toMatchObject({ kind: 'api-key', roles: 'operator' });
    expect((await apiKeys.list({ limit: 100 })).items.find((k) => k.id === created.id)).not.toHaveProperty('key');
    await apiKeys.revoke(created.id);
    await expect(noCache(authorizerEvent('POST', '/api/v1/events', { 'x-api-key': created.key }))).rejects.toThrow(UNAUTHORIZED);
  });
});

describe('changing a user ends its sessions', () => {
  const CACHE_SECONDS = 30;
  const changes: Array<[string, (id: string, revision: number) => Promise<unknown>]> = [
    ['disabling it', (id, revision) => users.update(id, { revision, disabled: true })],
    ['changing its password', (id, revision) => users.update(id, { revision, password: 'a brand new password' })],
    ['changing its roles', (id, revision) => users.update(id, { revision, roles: ['viewer'] })],
  ];

  it.each(changes)('%s revokes its refresh tokens at once and its access tokens past the authorizer cache', async (_, change) => {
    const username = `u-${Math.random().toString(36).slice(2, 10)}`;
    const user = await users.create({ username, password: 'correct horse battery', roles: ['developer'] });
    const pair = await sessions.login(username, 'correct horse battery');
    const other = await sessions.login(username, 'correct horse battery');
    let clock = Date.now();
    const authorizer = createAuthorizer({
      routes: allRoutes,
      store,
      signingKeys: async () => keys,
      tokens: config,
      cacheSeconds: CACHE_SECONDS,
      now: () => new Date(clock),
    });
    const request = authorizerEvent('GET', '/api/v1/receivers', { Authorization: `Bearer ${pair.accessToken}` });
    expect((await authorizer(request)).policyDocument.Statement[0]).toMatchObject({ Effect: 'Allow' });

    await change(user.id, user.revision);

    // Every session of the user, not only the one in use.
    await expect(sessions.refresh(pair.refreshToken)).rejects.toBeInstanceOf(UnauthenticatedError);
    await expect(sessions.refresh(other.refreshToken)).rejects.toBeInstanceOf(UnauthenticatedError);
    // The principal cached before the change is trusted for at most the cache time…
    clock += (CACHE_SECONDS + 1) * 1000;
    // …then the token is refused, by this and by any other execution environment.
    await expect(authorizer(request)).rejects.toThrow(UNAUTHORIZED);
    const fresh = createAuthorizer({ routes: allRoutes, store, signingKeys: async () => keys, tokens: config, cacheSeconds: 0 });
    await expect(fresh(authorizerEvent('GET', '/api/v1/receivers', { Authorization: `Bearer ${other.accessToken}` }))).rejects.toThrow(
      UNAUTHORIZED,
    );
  });

  it('a new login after the change works, with the new roles', async () => {
    const username = `u-${Math.random().toString(36).slice(2, 10)}`;
    const user = await users.create({ username, password: 'correct horse battery', roles: ['developer'] });
    await users.update(user.id, { revision: user.revision, roles: ['viewer'] });
    const pair = await sessions.login(username, 'correct horse battery');
    const noCache = createAuthorizer({ routes: allRoutes, store, signingKeys: async () => keys, tokens: config, cacheSeconds: 0 });
    const result = await noCache(authorizerEvent('GET', '/api/v1/receivers', { Authorization: `Bearer ${pair.accessToken}` }));
    expect(result.context).toMatchObject({ roles: 'viewer' });
    await expect(sessions.refresh(pair.refreshToken)).resolves.toMatchObject({ tokenType: 'Bearer' });
  });

  it('an update that changes none of them keeps the sessions', async () => {
    const username = `u-${Math.random().toString(36).slice(2, 10)}`;
    const user = await users.create({ username, password: 'correct horse battery', roles: ['developer', 'viewer'] });
    const pair = await sessions.login(username, 'correct horse battery');
    await users.update(user.id, { revision: user.revision, roles: ['viewer', 'developer'], disabled: false });
    const noCache = createAuthorizer({ routes: allRoutes, store, signingKeys: async () => keys, tokens: config, cacheSeconds: 0 });
    const result = await noCache(authorizerEvent('GET', '/api/v1/receivers', { Authorization: `Bearer ${pair.accessToken}` }));
    expect(result.policyDocument.Statement[0]).toMatchObject({ Effect: 'Allow' });
    await expect(sessions.refresh(pair.refreshToken)).resolves.toMatchObject({ tokenType: 'Bearer' });
  });

  it('deleting it ends its sessions too', async () => {
    const username = `u-${Math.random().toString(36).slice(2, 10)}`;
    const user = await users.create({ username, password: 'correct horse battery', roles: ['developer'] });
    const pair = await sessions.login(username, 'correct horse battery');
    await users.delete(user.id, user.revision);
    await expect(sessions.refresh(pair.refreshToken)).rejects.toBeInstanceOf(UnauthenticatedError);
    const noCache = createAuthorizer({ routes: allRoutes, store, signingKeys: async () => keys, tokens: config, cacheSeconds: 0 });
    await expect(noCache(authorizerEvent('GET', '/api/v1/receivers', { Authorization: `Bearer ${pair.accessToken}` }))).rejects.toThrow(
      UNAUTHORIZED,
    );
  });
});

describe('rate counters', () => {
  it('count atomically across concurrent callers', async () => {
    const counts = await Promise.all(Array.from({ length: 20 }, () => store.countRequest('test:concurrent', 1_000_000, 60)));
    expect(counts.sort((a, b) => a - b)).toEqual(Array.from({ length: 20 }, (_, i) => i + 1));
  });
});

describe('audit', () => {
  it('is append-only', async () => {
    const record = {
      id: '7b1a2c3d-0000-4000-8000-000000000001',
      at: new Date().toISOString(),
      actor: { id: 'u1', kind: 'user', name: 'ada' },
      action: 'createReceiver',
      method: 'POST',
      path: '/api/v1/receivers',
      status: 201,
      requestId: 'r1',
      sourceIp: '127.0.0.1',
    };
    await store.appendAudit(record);
    await expect(store.appendAudit({ ...record, action: 'tampered' })).rejects.toThrow();
    expect((await store.listAudit({ limit: 10, actorId: 'u1' })).items).toEqual([record]);
  });
});
