import { Agent, fetch } from 'undici';
import { inject } from 'vitest';

export interface Reply<T = unknown> {
  status: number;
  headers: { get(name: string): string | null };
  body: T;
  text: string;
}

/** Who calls: the bootstrap admin key (default), a bearer token, another API key, or nobody. */
export type Caller = 'admin' | 'anonymous' | { bearer: string } | { apiKey: string };

export interface CallOptions {
  json?: unknown;
  body?: string;
  headers?: Record<string, string>;
  as?: Caller;
  /**
   * The client's source address (any 127.x.y.z on Linux loopback), so tests that
   * count per-IP rate limits do not share a bucket with each other.
   */
  from?: string;
  /** Another stack than the suite's (a test that starts its own runtime). */
  baseUrl?: string;
}

const agents = new Map<string, Agent>();
function agentFor(localAddress: string): Agent {
  let agent = agents.get(localAddress);
  if (!agent) {
    agent = new Agent({ localAddress });
    agents.set(localAddress, agent);
  }
  return agent;
}

function credentialHeaders(caller: Caller): Record<string, string> {
  if (caller === 'anonymous') return {};
  if (caller === 'admin') return { 'X-API-Key': inject('adminApiKey') };
  return 'bearer' in caller ? { Authorization: `Bearer ${caller.bearer}` } : { 'X-API-Key': caller.apiKey };
}

/**
 * A client call against the running stack's base URL. Bodies default to `any`:
 * tests assert them field by field, as a client reads JSON.
 */
// eslint-disable-next-line @typescript-eslint/no-explicit-any
export async function call<T = any>(method: string, path: string, options: CallOptions = {}): Promise<Reply<T>> {
  const headers: Record<string, string> = { ...credentialHeaders(options.as ?? 'admin'), ...options.headers };
  let body = options.body;
  if (options.json !== undefined) {
    body = JSON.stringify(options.json);
    headers['Content-Type'] ??= 'application/json';
  }
  const res = await fetch(`${options.baseUrl ?? inject('baseUrl')}${path}`, {
    method,
    headers,
    ...(body !== undefined ? { body } : {}),
    ...(options.from ? { dispatcher: agentFor(options.from) } : {}),
  });
  const text = await res.text();
  let parsed: unknown = text;
  try {
    parsed = text ? JSON.parse(text) : undefined;
  } catch {
    // not JSON: keep the text
  }
  return { status: res.status, headers: res.headers, body: parsed as T, text };
}

/** Logs in and returns the token pair. */
export async function login(username: string, password: string, from?: string) {
  const res = await call<{ accessToken: string; refreshToken: string }>('POST', '/api/v1/auth/login', {
    as: 'anonymous',
    json: { username, password },
    ...(from ? { from } : {}),
  });
  if (res.status !== 200) throw new Error(`login as ${username} failed: ${res.status} ${res.text}`);
  return res.body;
}
