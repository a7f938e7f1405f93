import { describe, expect, it } from 'vitest';
import { call } from '../support/http.js';

describe('health', () => {
  it('answers /health and /health/live from the function', async () => {
    for (const path of ['/health', '/health/live']) {
      const res = await call('GET', path);
      expect(res.status).toBe(200);
      expect(res.body).toMatchObject({ status: 'ok', service: 'switchyard' });
      expect(res.headers.get('cache-control')).toBe('no-store');
    }
  });

  it('is ready when DynamoDB answers, and says how long it took', async () => {
    const res = await call('GET', '/health/ready');
    expect(res.status).toBe(200);
    expect(res.body.checks.dynamodb).toMatchObject({ status: 'ok', responseTimeMs: expect.any(Number) });
  });

  it('carries API Gateway and tracing headers', async () => {
    const res = await call('GET', '/health');
    expect(res.headers.get('x-amzn-requestid')).toBeTruthy();
    expect(res.headers.get('x-amzn-trace-id')).toMatch(/Root=1-[0-9a-f]{8}-[0-9a-f]{24}/);
    expect(res.headers.get('x-correlation-id')).toBe(res.headers.get('x-amzn-requestid'));
  });

  it('answers an unknown route with 404 problem+json, not a bare 403', async () => {
    const res = await call('GET', '/api/v1/nope');
    expect(res.status).toBe(404);
    expect(res.headers.get('content-type')).toContain('application/problem+json');
    expect(res.body).toMatchObject({ status: 404, code: 'ROUTE_NOT_FOUND', requestId: expect.any(String) });
  });
});
