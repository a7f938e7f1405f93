/** The edge-health job's rules (shared/domain/edge-health.ts): which edges change health, and which event each change emits. */
import { describe, expect, it } from 'vitest';
import {
  healthChanges,
  healthConfigFrom,
  runEdgeHealth,
  type EdgeHealthChange,
  type EdgeHealthObservation,
  type EdgeHealthStore,
} from '../../../shared/domain/edge-health.js';
import type { EdgeHealth } from '../../../shared/domain/edges.js';

const NOW = '2026-11-23T12:00:00.000Z';
const ago = (s: number) => new Date(Date.parse(NOW) - s * 1000).toISOString();
const config = { heartbeatIntervalSeconds: 10, missedIntervals: 3 };
const edge = { id: 'e1', name: 'fra-1', region: 'eu-central-1' };
const observe = (recorded: EdgeHealth, beatSecondsAgo?: number): EdgeHealthObservation => ({
  edge,
  recorded,
  ...(beatSecondsAgo !== undefined ? { lastHeartbeatAt: ago(beatSecondsAgo) } : {}),
});

describe('health changes', () => {
  it.each<[string, EdgeHealth, number | undefined, Pick<EdgeHealthChange, 'from' | 'to' | 'event'> | undefined]>([
    // never reported: nothing to judge, whatever was recorded
    ['unknown, never reported', 'unknown', undefined, undefined],
    // first observation
    ['unknown, fresh beat: recorded silently', 'unknown', 5, { from: 'unknown', to: 'healthy' }],
    ['unknown, beat long ago: edge.unhealthy', 'unknown', 3600, { from: 'unknown', to: 'unhealthy', event: 'edge.unhealthy' }],
    // healthy → unhealthy only strictly past three intervals
    ['healthy, beat 29 s ago', 'healthy', 29, undefined],
    ['healthy, beat exactly 3 intervals ago (third beat only just due)', 'healthy', 30, undefined],
    ['healthy, beat 3 intervals + 1 ms ago', 'healthy', 30.001, { from: 'healthy', to: 'unhealthy', event: 'edge.unhealthy' }],
    ['healthy, beat an hour ago', 'healthy', 3600, { from: 'healthy', to: 'unhealthy', event: 'edge.unhealthy' }],
    ['healthy, beat from the future (clock skew)', 'healthy', -5, undefined],
    // unhealthy stays unhealthy until a fresh beat; then edge.healthy
    ['unhealthy, still quiet', 'unhealthy', 3600, undefined],
    ['unhealthy, beat 30.001 s ago', 'unhealthy', 30.001, undefined],
    ['unhealthy, beat exactly 3 intervals ago', 'unhealthy', 30, { from: 'unhealthy', to: 'healthy', event: 'edge.healthy' }],
    ['unhealthy, fresh beat', 'unhealthy', 1, { from: 'unhealthy', to: 'healthy', event: 'edge.healthy' }],
  ])('%s', (_, recorded, beatSecondsAgo, expected) => {
    const changes = healthChanges([observe(recorded, beatSecondsAgo)], NOW, config);
    if (!expected) {
      expect(changes).toEqual([]);
      return;
    }
    expect(changes).toEqual([{ edge, lastHeartbeatAt: ago(beatSecondsAgo as number), ...expected }]);
  });

  it('takes the interval from its configuration', () => {
    expect(healthChanges([observe('healthy', 100)], NOW, { heartbeatIntervalSeconds: 60, missedIntervals: 3 })).toEqual([]);
    expect(healthChanges([observe('healthy', 181)], NOW, { heartbeatIntervalSeconds: 60, missedIntervals: 3 })).toHaveLength(1);
  });
});

describe('the health configuration from the environment', () => {
  it('defaults to 10 s × 3 and reads both values', () => {
    expect(healthConfigFrom({})).toEqual({ heartbeatIntervalSeconds: 10, missedIntervals: 3 });
    expect(healthConfigFrom({ EDGE_HEARTBEAT_SECONDS: '30', EDGE_MISSED_INTERVALS: '4' })).toEqual({
      heartbeatIntervalSeconds: 30,
      missedIntervals: 4,
    });
  });

  it.each(['0', '-1', '1.5', 'ten'])('refuses %s', (value) => {
    expect(() => healthConfigFrom({ EDGE_HEARTBEAT_SECONDS: value })).toThrow(/EDGE_HEARTBEAT_SECONDS must be a whole number/);
  });
});

describe('a run', () => {
  it('records each change, counts the events, and leaves a lost race for the next run', async () => {
    const observations: EdgeHealthObservation[] = [
      { edge: { ...edge, id: 'quiet' }, recorded: 'healthy', lastHeartbeatAt: ago(60) },
      { edge: { ...edge, id: 'back' }, recorded: 'unhealthy', lastHeartbeatAt: ago(1) },
      { edge: { ...edge, id: 'new' }, recorded: 'unknown', lastHeartbeatAt: ago(1) },
      { edge: { ...edge, id: 'raced' }, recorded: 'healthy', lastHeartbeatAt: ago(120) },
      { edge: { ...edge, id: 'steady' }, recorded: 'healthy', lastHeartbeatAt: ago(2) },
      { edge: { ...edge, id: 'silent' }, recorded: 'unknown' },
    ];
    const recorded: string[] = [];
    const store: EdgeHealthStore = {
      listEdgeHealth: () => Promise.resolve(observations),
      recordHealth: (change) => {
        if (change.edge.id === 'raced') return Promise.resolve(false);
        recorded.push(`${change.edge.id}:${change.to}`);
        return Promise.resolve(true);
      },
    };
    expect(await runEdgeHealth(store, NOW, config)).toEqual({
      edges: 6,
      unhealthy: 2,
      recorded: 3,
      events: { 'edge.healthy': 1, 'edge.unhealthy': 1 },
      skipped: 1,
    });
    expect(recorded).toEqual(['quiet:unhealthy', 'back:healthy', 'new:healthy']);
  });
});
