/**
 * What the rollout e2e tests share: approved configuration versions (an
 * operator who is not the author approves), deployments followed to a
 * status, and a fleet of simulated edges on the running stack.
 */
import { randomUUID } from 'node:crypto';
import { expect, inject } from 'vitest';
import { startFleet, type Fleet, type FleetOptions } from '../../bin/edge-sim.js';
import { call, login } from './http.js';

const PASSWORD = 'rollout-operator-password-1';

/** An operator user other than the admin key's principal (the author), logged in: it may approve what the admin wrote. */
export async function operator(from: string): Promise<{ id: string; bearer: string }> {
  const username = `rollout-operator-${randomUUID().slice(0, 8)}`;
  const created = await call('POST', '/api/v1/users', { json: { username, password: PASSWORD, roles: ['operator'] } });
  expect(created.status).toBe(201);
  return { id: created.body.id, bearer: (await login(username, PASSWORD, from)).accessToken };
}

/** A configuration whose versions have these contents (version n = contents[n-1]), every one approved by `approver`. */
export async function approvedConfiguration(
  name: string,
  contents: Array<Record<string, unknown>>,
  approver: { bearer: string },
  from: string,
): Promise<string> {
  const created = await call('POST', '/api/v1/configurations', {
    json: { name: `${name}-${randomUUID().slice(0, 8)}`, content: contents[0] },
  });
  expect(created.status, created.text).toBe(201);
  const id = created.body.id as string;
  for (const [index, content] of contents.slice(1).entries()) {
    const updated = await call('PUT', `/api/v1/configurations/${id}`, { json: { revision: index + 1, content } });
    expect(updated.status, updated.text).toBe(200);
  }
  for (let v = 1; v <= contents.length; v++) {
    const approved = await call('POST', `/api/v1/configurations/${id}/versions/${v}/approve`, { as: { bearer: approver.bearer }, from });
    expect(approved.status, approved.text).toBe(200);
  }
  return id;
}

/** GET the deployment until `done` holds; fails with the last record after `timeoutMs`. */
// eslint-disable-next-line @typescript-eslint/no-explicit-any
export async function deploymentUntil(id: string, done: (d: any) => boolean, timeoutMs: number): Promise<any> {
  const deadline = Date.now() + timeoutMs;
  let last: unknown;
  while (Date.now() < deadline) {
    const res = await call('GET', `/api/v1/deployments/${id}`);
    expect(res.status).toBe(200);
    last = res.body;
    if (done(res.body)) return res.body;
    await new Promise((r) => setTimeout(r, 200));
  }
  throw new Error(`deployment ${id} did not get there in ${timeoutMs} ms: ${JSON.stringify(last, null, 1).slice(0, 3000)}`);
}

/**
 * A simulated fleet on the suite's stack: one poll and one heartbeat a second
 * per edge, seeded, its own name prefix. Faster loops cost the whole suite:
 * an edge sends its next request as soon as the last one is answered once
 * the period has passed, so a fleet at 400 ms kept the shared runtime
 * saturated (1.7 of the 2 cores, measured per process during CI) and slowed
 * every e2e file beside it.
 */
export function fleet(prefix: string, options: Partial<FleetOptions> = {}): Promise<Fleet> {
  return startFleet({
    api: inject('baseUrl'),
    adminKey: inject('adminApiKey'),
    prefix: `${prefix}-${randomUUID().slice(0, 6)}`,
    pollMs: 1000,
    heartbeatMs: 1000,
    seed: 7,
    reuse: false,
    ...options,
  });
}
