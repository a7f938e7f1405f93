import { describe, expect, it } from 'vitest';
import { PreconditionFailedError, ValidationError, VersionConflictError } from '../../shared/domain/errors.js';
import { checkSchema, validatePayload } from '../../shared/domain/json-schema.js';
import { etag, expectedRevision, writableRevision } from '../../shared/domain/revisions.js';
import { gatewayModelSchema } from '../../lib/request-models.js';
import { CreateEventBody } from '../../shared/api/schemas.js';

describe('revisions', () => {
  it('takes the revision from the body or an If-Match ETag', () => {
    expect(expectedRevision(3, undefined, 3)).toBe(3);
    expect(expectedRevision(undefined, '"3"', 3)).toBe(3);
    expect(expectedRevision(undefined, 'W/"3"', 3)).toBe(3);
    expect(etag(3)).toBe('"3"');
  });

  it('refuses a write that names no revision, a mismatched If-Match, or both disagreeing', () => {
    expect(() => expectedRevision(undefined, undefined, 3)).toThrow(ValidationError);
    expect(() => expectedRevision(undefined, '"2"', 3)).toThrow(PreconditionFailedError);
    expect(() => expectedRevision(undefined, 'abc', 3)).toThrow(ValidationError);
    expect(() => expectedRevision(2, '"3"', 3)).toThrow(ValidationError);
  });

  it('answers a stale body revision with a version conflict', () => {
    expect(() => writableRevision('Receiver', { id: 'r1', revision: 4 }, 3, undefined)).toThrow(VersionConflictError);
    expect(writableRevision('Receiver', { id: 'r1', revision: 4 }, 4, undefined)).toBe(4);
  });
});

describe('receiver payload schemas', () => {
  it('rejects schemas with unknown keywords and accepts draft 2020-12', () => {
    expect(checkSchema({ type: 'object', properties: { a: { type: 'string', minLenght: 1 } } })).toHaveLength(1);
    expect(
      checkSchema({
        type: 'object',
        properties: { a: { type: 'string', format: 'uri' }, tags: { type: 'array', prefixItems: [{ type: 'string' }] } },
      }),
    ).toEqual([]);
  });

  it('reports each failing payload field with its path', () => {
    const schema = {
      type: 'object',
      required: ['commit'],
      properties: { commit: { type: 'string', minLength: 7 } },
      additionalProperties: false,
    };
    expect(validatePayload(schema, { commit: 'abc1234' })).toEqual([]);
    expect(
      validatePayload(schema, { commit: 'abc', other: 1 })
        .map((e) => e.path)
        .sort(),
    ).toEqual(['body.payload', 'body.payload.commit']);
  });
});

describe('API Gateway request models', () => {
  it('are self-contained draft-04 schemas that keep shape and drop formats', () => {
    const model = gatewayModelSchema(CreateEventBody);
    expect(model.$schema).toBe('http://json-schema.org/draft-04/schema#');
    expect(model).toMatchObject({
      type: 'object',
      additionalProperties: false,
      required: expect.arrayContaining(['receiverId', 'success']),
    });
    expect(JSON.stringify(model)).not.toMatch(/"format"|"pattern"|\$ref/);
  });
});
