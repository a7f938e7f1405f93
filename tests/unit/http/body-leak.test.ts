/** A malformed body never comes back, in a problem or in a log line: only where it broke. */
import { describe, expect, it } from 'vitest';
import * as z from 'zod';
import { findJsonSyntaxError } from '../../../shared/http/json-syntax.js';
import { httpApi } from '../../../shared/http/middleware.js';
import { bind, defineRoute } from '../../../shared/http/route.js';
import { apiEvent, lambdaContext } from '../../support/api-event.js';
import { captureLogs, problemOf } from './support.js';

const login = defineRoute({
  operationId: 'loginLike',
  method: 'POST',
  path: '/login',
  functionName: 'auth',
  access: 'public',
  tags: [],
  summary: 'x',
  body: z.strictObject({ username: z.string(), password: z.string() }),
  query: z.strictObject({}),
  responses: { 200: { description: 'ok' } },
});
const handler = httpApi([bind(login, async () => ({ status: 200, body: {} }))], { allowedOrigins: [], maxBodyBytes: 4096 });
const post = (body: string) =>
  handler(apiEvent({ httpMethod: 'POST', resource: '/login', body, headers: { 'Content-Type': 'application/json' } }), lambdaContext);

/** Every run of 4+ characters of the secret: a truncated quote (`Sup3rSecre…`) is a leak too. */
const fragments = (secret: string) => Array.from({ length: secret.length - 3 }, (_, i) => secret.slice(i, i + 4));

describe('a malformed JSON body', () => {
  it('yields a 400 whose detail and log lines say where it broke but quote nothing of it', async () => {
    const secret = 'Sup3rSecret-Passw0rd';
    const body = `{"username":"ada","password":${secret}}`;
    const { result, lines } = await captureLogs(() => post(body));
    const problem = problemOf(result);
    expect(problem).toMatchObject({ status: 400, code: 'MALFORMED_JSON' });
    const logged = lines.join('\n');
    expect(logged).toContain('MALFORMED_JSON'); // the rejection is logged…
    for (const part of [...fragments(secret), '"username":"ada"']) {
      expect(problem.detail).not.toContain(part); // …but neither it nor the problem quote the body
      expect(logged).not.toContain(part);
    }
    const position = body.indexOf(secret);
    expect(problem.detail).toContain(`position ${position} (line 1, column ${position + 1})`);
    expect(logged).toContain(`position ${position}`);
  });

  it('locates the usual mistakes', () => {
    expect(findJsonSyntaxError('{"a":1}')).toBeUndefined();
    expect(findJsonSyntaxError('{"a":1,}')).toMatchObject({ position: 7, expected: 'a double-quoted property name' });
    expect(findJsonSyntaxError('{"a" 1}')).toMatchObject({ position: 5 });
    expect(findJsonSyntaxError('{"name":')).toMatchObject({ position: 8, expected: expect.stringContaining('ended early') });
    expect(findJsonSyntaxError('{\n  "a": tru\n}')).toMatchObject({ line: 2, column: 11 });
    expect(findJsonSyntaxError('"\u0001"')).toMatchObject({ position: 1 });
    expect(findJsonSyntaxError('[1] x')).toMatchObject({ position: 4, expected: 'the end of the text' });
    expect(findJsonSyntaxError('[-]')).toMatchObject({ position: 2, expected: 'a digit' });
  });

  it('agrees with JSON.parse on what is valid', () => {
    const samples = ['', ' ', '0', '-0.5e+3', '01', '1.', '"\\x"', '"\\u12g4"', '[', ']', '{}', '{"a":[true,false,null]}', 'nul', '"abc'];
    for (const text of samples) {
      let valid = true;
      try {
        JSON.parse(text);
      } catch {
        valid = false;
      }
      expect(findJsonSyntaxError(text) === undefined, text).toBe(valid);
    }
  });
});
