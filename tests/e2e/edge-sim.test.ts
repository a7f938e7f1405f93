/**
 * The fleet simulator against the running stack: it registers its edges,
 * heartbeats without a configuration while nothing is assigned (the edges
 * turn healthy), stops its traffic on stop(), and a second run with the
 * same prefix reuses the edges through the keys it kept. Assignments come
 * with the deployments API; the rollout e2e tests drive those.
 */
import { mkdtempSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterAll, describe, expect, inject, it } from 'vitest';
import { startFleet, type Fleet } from '../../bin/edge-sim.js';
import { call } from '../support/http.js';

const EDGES = '/api/v1/edge-locations';
const prefix = `e2esim-${Date.now().toString(36)}`;
const keyFile = path.join(mkdtempSync(path.join(tmpdir(), 'edge-sim-')), `${prefix}.json`);
const options = () => ({
  api: inject('baseUrl'),
  adminKey: inject('adminApiKey'),
  edges: 6,
  regions: 3,
  prefix,
  pollMs: 300,
  heartbeatMs: 300,
  seed: 42,
  keyFile,
});
const fleets: Fleet[] = [];

afterAll(async () => {
  await Promise.all(fleets.map((f) => f.stop()));
});

async function edgesOfPrefix(): Promise<Array<{ id: string; name: string }>> {
  const found: Array<{ id: string; name: string }> = [];
  for (const region of ['us-east-1', 'eu-west-1', 'ap-southeast-1']) {
    const listed = await call('GET', `${EDGES}?region=${region}&limit=100`);
    found.push(...(listed.body.items as Array<{ id: string; name: string }>).filter((e) => e.name.startsWith(`${prefix}-`)));
  }
  return found;
}

const heartbeatCount = async (id: string) => (await call('GET', `${EDGES}/${id}/metrics?limit=100`)).body.items.length as number;

describe('edge-sim', () => {
  let firstIds: string[] = [];

  it('registers its edges round-robin over the regions and heartbeats without a configuration until one is assigned', async () => {
    const fleet = await startFleet(options());
    fleets.push(fleet);
    expect(fleet.edges.map((e) => [e.name, e.region])).toEqual([
      [`${prefix}-1`, 'us-east-1'],
      [`${prefix}-2`, 'eu-west-1'],
      [`${prefix}-3`, 'ap-southeast-1'],
      [`${prefix}-4`, 'us-east-1'],
      [`${prefix}-5`, 'eu-west-1'],
      [`${prefix}-6`, 'ap-southeast-1'],
    ]);
    firstIds = fleet.edges.map((e) => e.id);
    expect((await edgesOfPrefix()).map((e) => e.id).sort()).toEqual([...firstIds].sort());
    expect(statSync(keyFile).mode & 0o777).toBe(0o600);

    await fleet.waitUntil((s) => s.every((e) => e.heartbeatsSent >= 2 && e.polls >= 1), 15_000);
    const snapshot = fleet.snapshot();
    // Nothing assigned: desired-config answers 404, nothing applied, no active version, no failed request.
    expect(snapshot.every((e) => e.applied === undefined && e.active === undefined && e.errors === 0)).toBe(true);
    expect(fleet.versionsByRegion()).toEqual({ 'us-east-1': { '–': 2 }, 'eu-west-1': { '–': 2 }, 'ap-southeast-1': { '–': 2 } });

    // The server side is read once the fleet stopped (health stays healthy for three 10 s intervals), not competing with its traffic.
    await fleet.stop();
    const sent = fleet.snapshot().map((e) => e.heartbeatsSent);
    const after = await Promise.all(fleet.edges.map((e) => heartbeatCount(e.id)));
    expect(after).toEqual(sent); // every heartbeat the fleet counted was recorded
    for (const edge of fleet.edges) {
      const read = await call('GET', `${EDGES}/${edge.id}`);
      expect(read.body).toMatchObject({ health: 'healthy', continent: expect.stringMatching(/^(NA|EU|AS)$/) });
      const beats = (await call('GET', `${EDGES}/${edge.id}/metrics?limit=5`)).body.items as Array<Record<string, number>>;
      expect(beats.length).toBeGreaterThanOrEqual(1);
      for (const beat of beats) {
        expect(beat).not.toHaveProperty('configurationId');
        expect(beat.requests).toBeGreaterThan(0);
        expect(beat.errorRate).toBeLessThanOrEqual(0.011);
        expect(beat.p95LatencyMs).toBeGreaterThanOrEqual(40);
        expect(beat.p95LatencyMs).toBeLessThanOrEqual(80);
      }
    }

    // stop() stopped the traffic: nothing arrived while the checks above ran (and a moment more).
    await new Promise((r) => setTimeout(r, 500));
    expect(await Promise.all(fleet.edges.map((e) => heartbeatCount(e.id)))).toEqual(after);
    expect(fleet.snapshot().map((e) => e.heartbeatsSent)).toEqual(sent);
  }, 45_000);

  it('reuses its edges on a second run with the same prefix: same ids, no new edge', async () => {
    expect(firstIds).toHaveLength(6);
    const lines: string[] = [];
    const fleet = await startFleet({ ...options(), log: (line) => lines.push(line) });
    fleets.push(fleet);
    expect(fleet.edges.map((e) => e.id)).toEqual(firstIds);
    expect(lines.join('\n')).toContain('6 reused, 0 created, 0 re-created');
    expect((await edgesOfPrefix()).map((e) => e.id).sort()).toEqual([...firstIds].sort());
    await fleet.waitUntil((s) => s.every((e) => e.heartbeatsSent >= 1), 15_000);
    expect(fleet.snapshot().every((e) => e.errors === 0)).toBe(true);
    await fleet.stop();
  }, 30_000);

  it('re-creates an edge whose key it does not have, and says so', async () => {
    const lines: string[] = [];
    const fleet = await startFleet({
      ...options(),
      edges: 1,
      keyFile: path.join(path.dirname(keyFile), 'empty.json'),
      log: (l) => lines.push(l),
    });
    fleets.push(fleet);
    expect(fleet.edges[0]!.id).not.toBe(firstIds[0]);
    expect(lines.some((l) => l.includes(`${prefix}-1 (${firstIds[0]}) exists but its key is not in`))).toBe(true);
    expect((await call('GET', `${EDGES}/${firstIds[0]}`)).status).toBe(404);
    await fleet.stop();
  });
});
