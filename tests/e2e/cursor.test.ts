import { describe, expect, it } from 'vitest';
import { call } from '../support/http.js';
import { eventBody, receiverBody } from '../support/samples.js';

/** Rewrites the key inside a cursor the way a curious client would; with the old unauthenticated format it reached DynamoDB. */
function edit(cursor: string): string {
  const [payload, ...rest] = cursor.split('.');
  const decoded = JSON.parse(Buffer.from(payload as string, 'base64url').toString('utf8')) as { k: Record<string, string> };
  decoded.k = { ...decoded.k, gsi2pk: 'RECEIVERS', gsi2sk: 'zzz' };
  return [Buffer.from(JSON.stringify(decoded)).toString('base64url'), ...rest].join('.');
}

describe('page cursors', () => {
  it('an edited cursor on GET /api/v1/events is a 400 problem, never a 500', async () => {
    const receiver = (await call('POST', '/api/v1/receivers', { json: receiverBody() })).body as { id: string };
    for (let i = 0; i < 3; i++) expect((await call('POST', '/api/v1/events', { json: eventBody(receiver.id) })).status).toBe(201);
    const first = await call('GET', '/api/v1/events?limit=1');
    const cursor = (first.body as { nextCursor: string }).nextCursor;
    expect(cursor).toEqual(expect.any(String));
    expect((await call('GET', `/api/v1/events?limit=1&cursor=${encodeURIComponent(cursor)}`)).status).toBe(200);

    const edited = await call('GET', `/api/v1/events?limit=1&cursor=${encodeURIComponent(edit(cursor))}`);
    expect(edited.status).toBe(400);
    expect(edited.body).toMatchObject({ code: 'INVALID_CURSOR', status: 400 });
  });
});
