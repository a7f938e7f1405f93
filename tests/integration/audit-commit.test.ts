/**
 * A change and its audit record commit together or not at all: the receivers
 * function in-process (the whole middleware chain) against DynamoDB Local,
 * with writes of audit items made to fail on demand.
 */
import type { APIGatewayProxyEvent, APIGatewayProxyResult } from 'aws-lambda';
import { randomUUID } from 'node:crypto';
import { beforeAll, describe, expect, inject, it } from 'vitest';
import type { AuditRecord } from '../../shared/domain/identity.js';
import { DynamoIdentityStore } from '../../shared/store/identity-store.js';
import { DynamoReleaseStore } from '../../shared/store/release-store.js';
import { apiEvent, lambdaContext } from '../support/api-event.js';
import { receiverBody } from '../support/samples.js';
import { freshTable, TEST_AUDIT } from '../support/table.js';

type Handler = (event: APIGatewayProxyEvent, context: typeof lambdaContext) => Promise<APIGatewayProxyResult>;

let handler: Handler;
let identity: DynamoIdentityStore;
let releases: DynamoReleaseStore;
/** While true, any DynamoDB request that writes an audit item fails before it reaches the table. */
let failAuditWrites = false;

beforeAll(async () => {
  const { tableName, client } = await freshTable();
  identity = new DynamoIdentityStore(client, tableName, { audit: TEST_AUDIT });
  releases = new DynamoReleaseStore(client, tableName, { audit: TEST_AUDIT });
  Object.assign(process.env, {
    TABLE_NAME: tableName,
    AWS_ENDPOINT_URL_DYNAMODB: inject('dynamoEndpoint'),
    AWS_REGION: 'us-east-1',
    AWS_ACCESS_KEY_ID: 'local',
    AWS_SECRET_ACCESS_KEY: 'local',
  });
  const { dynamoDocumentClient } = await import('../../shared/store/client.js');
  dynamoDocumentClient().middlewareStack.add(
    (next) => async (args) => {
      const raw = (args.request as { body?: unknown }).body;
      const body = raw instanceof Uint8Array ? Buffer.from(raw).toString('utf8') : String(raw);
      if (failAuditWrites && body.includes('"S":"AUDIT#')) {
        throw Object.assign(new Error('injected: the audit write failed'), { name: 'InternalServerError', $fault: 'server' });
      }
      return next(args);
    },
    { step: 'finalizeRequest', name: 'failAuditWrites' },
  );
  ({ handler } = (await import('../../functions/receivers/index.js')) as { handler: Handler });
});

const actor = () => ({ principalId: `user-${randomUUID()}`, kind: 'user', name: 'auditor', roles: 'developer' });

function request(
  who: Record<string, string>,
  method: string,
  resource: string,
  over: Partial<APIGatewayProxyEvent> = {},
): { event: APIGatewayProxyEvent; requestId: string } {
  const requestId = randomUUID();
  const base = apiEvent({ httpMethod: method, resource, ...over });
  const event = {
    ...base,
    headers: { 'content-type': 'application/json', ...over.headers },
    requestContext: { ...base.requestContext, requestId, authorizer: who },
  } as APIGatewayProxyEvent;
  return { event, requestId };
}

const auditOf = async (actorId: string): Promise<AuditRecord[]> => (await identity.listAudit({ limit: 100, actorId })).items;

async function create(who: Record<string, string>, name: string) {
  const { event, requestId } = request(who, 'POST', '/api/v1/receivers', { body: JSON.stringify(receiverBody({ name })) });
  const response = await handler(event, lambdaContext);
  return { response, requestId };
}

describe('a change and its audit record', () => {
  it('are one audit line per successful change, with who, what and the request', async () => {
    const who = actor();
    const { response, requestId } = await create(who, 'audited');
    expect(response.statusCode).toBe(201);
    const id = (JSON.parse(response.body) as { id: string }).id;
    expect(await auditOf(who.principalId)).toEqual([
      expect.objectContaining({
        actor: { id: who.principalId, kind: 'user', name: 'auditor' },
        action: 'createReceiver',
        method: 'POST',
        status: 201,
        resourceId: id,
        requestId,
      }),
    ]);
  });

  it('are not written when the audit record cannot be: the change is not stored either', async () => {
    const who = actor();
    const name = `lost-audit-${randomUUID()}`;
    failAuditWrites = true;
    let response: APIGatewayProxyResult;
    try {
      ({ response } = await create(who, name));
    } finally {
      failAuditWrites = false;
    }
    const stored = (await releases.listReceivers({ limit: 10, name })).items;
    const audited = await auditOf(who.principalId);
    // Both or neither; never a change without its audit line.
    expect({ stored: stored.length, audited: audited.length }).toEqual({ stored: 0, audited: 0 });
    expect(response.statusCode).toBeGreaterThanOrEqual(500);
  });

  it('leave neither behind when the change loses its revision race (409), and one line for the winner', async () => {
    const who = actor();
    const { response } = await create(who, 'contended');
    const id = (JSON.parse(response.body) as { id: string }).id;
    const update = (description: string) =>
      request(who, 'PATCH', '/api/v1/receivers/{id}', {
        path: `/api/v1/receivers/${id}`,
        pathParameters: { id },
        body: JSON.stringify({ revision: 1, description }),
      });
    const a = update('a');
    const b = update('b');
    const results = await Promise.all([handler(a.event, lambdaContext), handler(b.event, lambdaContext)]);
    expect(results.map((r) => r.statusCode).sort()).toEqual([200, 409]);
    const winner = results[0]?.statusCode === 200 ? a.requestId : b.requestId;
    const updates = (await auditOf(who.principalId)).filter((r) => r.action !== 'createReceiver');
    expect(updates).toEqual([expect.objectContaining({ requestId: winner, status: 200, resourceId: id })]);

    const stale = update('stale');
    expect((await handler(stale.event, lambdaContext)).statusCode).toBe(409);
    expect((await auditOf(who.principalId)).filter((r) => r.requestId === stale.requestId)).toEqual([]);
  });
});
