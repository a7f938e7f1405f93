import { describe, expect, it } from 'vitest';
import { call } from '../support/http.js';

// cdk.json allows http://localhost:5173 (the dev UI origin); nothing else.
describe('CORS', () => {
  it('answers a preflight from an allowed origin', async () => {
    const res = await call('OPTIONS', '/api/v1/receivers', {
      headers: { Origin: 'http://localhost:5173', 'Access-Control-Request-Method': 'POST' },
    });
    expect(res.status).toBe(204);
    expect(res.headers.get('access-control-allow-origin')).toBe('http://localhost:5173');
    expect(res.headers.get('access-control-allow-methods')).toContain('POST');
    expect(res.headers.get('access-control-allow-credentials')).toBe('true');
  });

  it('echoes only allowed origins on responses, never *', async () => {
    const allowed = await call('GET', '/health', { headers: { Origin: 'http://localhost:5173' } });
    expect(allowed.headers.get('access-control-allow-origin')).toBe('http://localhost:5173');
    const other = await call('GET', '/health', { headers: { Origin: 'https://evil.example' } });
    expect(other.headers.get('access-control-allow-origin')).not.toBe('https://evil.example');
    expect(other.headers.get('access-control-allow-origin')).not.toBe('*');
  });
});
