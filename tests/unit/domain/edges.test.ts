import { describe, expect, it } from 'vitest';
import {
  canonicalJson,
  desiredConfig,
  edgeHealth,
  healthTransition,
  ifNoneMatchHits,
  unhealthyAfter,
  validateEdgeInput,
  validateHeartbeat,
} from '../../../shared/domain/edges.js';
import { ValidationError } from '../../../shared/domain/errors.js';

const T0 = '2026-11-23T12:00:00.000Z';
const at = (s: number) => new Date(Date.parse(T0) + s * 1000).toISOString();

describe('edge health', () => {
  const config = { heartbeatIntervalSeconds: 10, missedIntervals: 3 };

  it('is healthy until three intervals are missed, unhealthy after', () => {
    expect(edgeHealth(T0, at(0), config)).toBe('healthy');
    expect(edgeHealth(T0, at(29), config)).toBe('healthy');
    expect(edgeHealth(T0, at(30), config)).toBe('healthy'); // the third heartbeat is only just due
    expect(edgeHealth(T0, at(30.001), config)).toBe('unhealthy');
    expect(edgeHealth(T0, at(-5), config)).toBe('healthy'); // skewed clock: fresh
    expect(edgeHealth(undefined, at(100), config)).toBe('unknown');
  });

  it('takes the interval from its configuration', () => {
    expect(edgeHealth(T0, at(100), { heartbeatIntervalSeconds: 60, missedIntervals: 3 })).toBe('healthy');
    expect(edgeHealth(T0, at(181), { heartbeatIntervalSeconds: 60, missedIntervals: 3 })).toBe('unhealthy');
    expect(unhealthyAfter(T0, config)).toBe('2026-11-23T12:00:30.001Z');
  });

  it('emits one event per change of health', () => {
    expect(healthTransition('healthy', 'unhealthy')).toBe('edge.unhealthy');
    expect(healthTransition('unhealthy', 'healthy')).toBe('edge.healthy');
    expect(healthTransition('unknown', 'healthy')).toBeUndefined(); // first observation: recorded silently
    expect(healthTransition('healthy', 'healthy')).toBeUndefined();
    expect(healthTransition('unhealthy', 'unhealthy')).toBeUndefined();
    expect(healthTransition('unknown', 'unhealthy')).toBe('edge.unhealthy'); // reported once, long ago
  });
});

describe('heartbeats', () => {
  const good = { configurationId: 'cfg', activeVersion: 3, requests: 1200, errorRate: 0.01, p95LatencyMs: 85.5, cacheHitRate: 0.93 };

  it('accepts a well-formed heartbeat', () => {
    expect(validateHeartbeat(good)).toEqual(good);
  });

  it('lists every bad field', () => {
    try {
      validateHeartbeat({ ...good, activeVersion: 0, requests: -1, errorRate: 5, p95LatencyMs: Number.NaN, cacheHitRate: '0.9', extra: 1 });
      expect.unreachable();
    } catch (error) {
      expect(error).toBeInstanceOf(ValidationError);
      expect((error as ValidationError).errors!.map((e) => e.path)).toEqual([
        'body.extra',
        'body.activeVersion',
        'body.requests',
        'body.errorRate',
        'body.p95LatencyMs',
        'body.cacheHitRate',
      ]);
    }
    expect(() => validateHeartbeat(null)).toThrow(ValidationError);
    expect(() => validateHeartbeat([good])).toThrow(ValidationError);
  });

  it('takes configurationId and activeVersion both or neither, naming the missing one', () => {
    const { configurationId: _c, activeVersion: _v, ...unassigned } = good;
    expect(validateHeartbeat(unassigned)).toEqual(unassigned);
    expect(validateHeartbeat(unassigned)).not.toHaveProperty('configurationId');
    const paths = (body: unknown) => {
      try {
        validateHeartbeat(body);
        return [];
      } catch (error) {
        return (error as ValidationError).errors!.map((e) => e.path);
      }
    };
    expect(paths({ ...unassigned, configurationId: 'cfg' })).toEqual(['body.activeVersion']);
    expect(paths({ ...unassigned, activeVersion: 2 })).toEqual(['body.configurationId']);
    expect(paths({ ...unassigned, configurationId: '', activeVersion: 2 })).toEqual(['body.configurationId']);
  });
});

describe('edge input', () => {
  it('checks region and continent', () => {
    expect(validateEdgeInput({ name: 'fra-1', region: 'eu-central-1', continent: 'EU', tags: { tier: 'gold' } }).continent).toBe('EU');
    try {
      validateEdgeInput({ name: ' ', region: 'EU Central', continent: 'Europe' });
      expect.unreachable();
    } catch (error) {
      expect((error as ValidationError).errors!.map((e) => e.path)).toEqual(['body.name', 'body.region', 'body.continent']);
    }
  });
});

describe('desired config', () => {
  const assignment = { configurationId: 'cfg', version: 3, weight: 100 };

  it('has the contract shape and a stable ETag, whatever the key order', () => {
    const one = desiredConfig(assignment, { a: 1, b: { c: 2, d: [1, { e: 3, f: 4 }] } });
    const two = desiredConfig(assignment, { b: { d: [1, { f: 4, e: 3 }], c: 2 }, a: 1 });
    expect(Object.keys(one)).toEqual(['configurationId', 'version', 'weight', 'content', 'etag']);
    expect(one.etag).toMatch(/^"[A-Za-z0-9_-]{27}"$/);
    expect(two.etag).toBe(one.etag);
  });

  it('changes the ETag when the version, the weight or the content changes', () => {
    const base = desiredConfig(assignment, { a: 1 }).etag;
    expect(desiredConfig({ ...assignment, version: 4 }, { a: 1 }).etag).not.toBe(base);
    expect(desiredConfig({ ...assignment, weight: 0 }, { a: 1 }).etag).not.toBe(base);
    expect(desiredConfig(assignment, { a: 2 }).etag).not.toBe(base);
  });

  it('matches If-None-Match as RFC 9110 says', () => {
    const { etag } = desiredConfig(assignment, { a: 1 });
    expect(ifNoneMatchHits(etag, etag)).toBe(true);
    expect(ifNoneMatchHits(`W/${etag}`, etag)).toBe(true);
    expect(ifNoneMatchHits(`"other", ${etag}`, etag)).toBe(true);
    expect(ifNoneMatchHits('*', etag)).toBe(true);
    expect(ifNoneMatchHits('"other"', etag)).toBe(false);
    expect(ifNoneMatchHits(undefined, etag)).toBe(false);
  });

  it('serializes canonically', () => {
    expect(canonicalJson({ b: 1, a: [true, null, { d: 'x', c: undefined }] })).toBe('{"a":[true,null,{"d":"x"}],"b":1}');
  });
});
