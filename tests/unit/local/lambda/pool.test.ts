/**
 * Execution environment lifecycle: per-function and global caps with fair
 * queueing, idle reaping, prewarming, and swapping code on reload.
 */
import { availableParallelism } from 'node:os';
import { describe, expect, it } from 'vitest';
import { ResourceNotFoundException } from '../../../../local/lambda/service.js';
import { FIXTURES, errorPayload, fn, okPayload, service } from './support.js';

interface Versioned {
  version: 'v1' | 'v2';
  invocations: number;
  initializationType: string;
}

const v1 = fn('versioned', 'versioned-v1', 'index.handler');
const v2 = { ...v1, assetDir: FIXTURES + 'versioned-v2' };

/** Resolves once `predicate` holds for the service's stats (polled). */
async function until(predicate: () => boolean): Promise<void> {
  await expect.poll(predicate).toBe(true);
}

describe('LambdaService caps', () => {
  it('caps environments per function at min(4, available parallelism) by default', async () => {
    const s = service([v1]);
    const results = await Promise.all(Array.from({ length: 8 }, () => s.invoke('versioned', { sleepMs: 100 })));
    expect(results.every((r) => r.ok)).toBe(true);
    expect(s.stats().versioned?.environments).toBe(Math.min(4, availableParallelism()));
    expect(s.stats().versioned?.coldStarts).toBe(Math.min(4, availableParallelism()));
  });

  it('caps environments across functions at 2 × available parallelism + 4 by default', async () => {
    const cap = 2 * availableParallelism() + 4;
    const defs = Array.from({ length: cap + 3 }, (_, i) => fn(`f${i}`, 'versioned-v1', 'index.handler'));
    const s = service(defs);
    let most = 0;
    const watch = setInterval(() => {
      most = Math.max(
        most,
        Object.values(s.stats()).reduce((sum, st) => sum + st.environments, 0),
      );
    }, 5);
    try {
      const results = await Promise.all(defs.map((d) => s.invoke(d.functionName, { sleepMs: 100 })));
      expect(results.every((r) => r.ok)).toBe(true);
    } finally {
      clearInterval(watch);
    }
    const total = Object.values(s.stats()).reduce((sum, st) => sum + st.environments, 0);
    expect(total).toBe(cap);
    expect(most).toBeLessThanOrEqual(cap);
  });

  it('evicts the least recently used idle environment of another function when the global cap is reached', async () => {
    const s = service(
      [fn('a', 'versioned-v1', 'index.handler'), fn('b', 'versioned-v1', 'index.handler'), fn('c', 'versioned-v1', 'index.handler')],
      {
        maxEnvironments: 2,
      },
    );
    await s.invoke('a', {});
    await s.invoke('b', {});
    await s.invoke('a', {}); // b is now the least recently used
    expect(okPayload<Versioned>(await s.invoke('c', {})).invocations).toBe(1);
    expect(s.stats()).toMatchObject({
      a: { environments: 1, reaped: 0 },
      b: { environments: 0, reaped: 1 },
      c: { environments: 1, coldStarts: 1 },
    });
    // b starts cold again.
    const again = await s.invoke('b', {});
    expect(okPayload<Versioned>(again).invocations).toBe(1);
    expect(again.logs).toContain('Init Duration:');
  });

  it('makes an invocation wait while every environment is busy, then serves it', async () => {
    const s = service([fn('a', 'versioned-v1', 'index.handler'), fn('b', 'versioned-v1', 'index.handler')], { maxEnvironments: 1 });
    const slow = s.invoke('a', { sleepMs: 300 });
    await until(() => s.stats().a?.busy === 1);
    const waiting = s.invoke('b', {});
    expect(s.stats().b).toMatchObject({ environments: 0, queued: 1 });
    const [a, b] = await Promise.all([slow, waiting]);
    expect(okPayload<Versioned>(a).version).toBe('v1');
    expect(okPayload<Versioned>(b).version).toBe('v1');
    expect(s.stats()).toMatchObject({ a: { environments: 0, reaped: 1 }, b: { environments: 1, queued: 0 } });
  });

  it('serves waiters across functions in arrival order when the global cap is reached', async () => {
    const s = service([fn('a', 'versioned-v1', 'index.handler'), fn('b', 'versioned-v1', 'index.handler')], {
      maxEnvironments: 1,
      maxConcurrencyPerFunction: 1,
    });
    const done: string[] = [];
    const track = (label: string, p: Promise<unknown>) => p.then(() => done.push(label));
    const a1 = track('a1', s.invoke('a', { sleepMs: 200 }));
    await until(() => s.stats().a?.busy === 1);
    const b1 = track('b1', s.invoke('b', { sleepMs: 50 })); // waits for the global slot
    const a2 = track('a2', s.invoke('a', { sleepMs: 50 })); // arrived after b1: must not overtake it
    await Promise.all([a1, b1, a2]);
    expect(done).toEqual(['a1', 'b1', 'a2']);
  });
});

describe('LambdaService reaping', () => {
  it('terminates idle environments after idleTimeoutMs; the next invocation is a cold start', async () => {
    const s = service([v1], { idleTimeoutMs: 100 });
    const first = await s.invoke('versioned', {});
    expect(first.logs).toContain('INIT_START');
    await until(() => s.stats().versioned?.environments === 0);
    expect(s.stats().versioned).toMatchObject({ reaped: 1, coldStarts: 1, idle: 0 });

    const second = await s.invoke('versioned', {});
    expect(okPayload<Versioned>(second).invocations).toBe(1);
    expect(second.logs).toMatch(/^INIT_START Runtime Version: nodejs:/);
    expect(second.logs).toMatch(/\tInit Duration: [\d.]+ ms\n$/);
    expect(s.stats().versioned).toMatchObject({ environments: 1, coldStarts: 2, reaped: 1 });
  });

  it('keeps an environment that is used more often than the idle timeout', async () => {
    const s = service([v1], { idleTimeoutMs: 400 });
    for (let i = 1; i <= 4; i += 1) {
      expect(okPayload<Versioned>(await s.invoke('versioned', { sleepMs: 150 })).invocations).toBe(i);
    }
    expect(s.stats().versioned).toMatchObject({ environments: 1, coldStarts: 1, reaped: 0 });
  });
});

describe('LambdaService prewarm', () => {
  it('runs INIT ahead of the first invocation, as provisioned concurrency does', async () => {
    const lines: string[] = [];
    const s = service([v1], { maxConcurrencyPerFunction: 2, onLog: (_name, line) => lines.push(line) });
    await s.prewarm('versionedFunction0A1B2C3D', 2);
    expect(s.stats().versioned).toMatchObject({ environments: 2, idle: 2, busy: 0, prewarmed: 2, coldStarts: 0 });
    expect(lines.filter((line) => line.startsWith('INIT_START'))).toHaveLength(2);

    const result = await s.invoke('versioned', {});
    expect(okPayload<Versioned>(result)).toEqual({ version: 'v1', invocations: 1, initializationType: 'provisioned-concurrency' });
    expect(result.logs).not.toContain('INIT_START');
    expect(result.logs).not.toContain('Init Duration');
    expect(s.stats().versioned?.coldStarts).toBe(0);

    // Idempotent, and bounded by the per-function cap.
    await s.prewarm('versioned', 5);
    expect(s.stats().versioned).toMatchObject({ environments: 2, prewarmed: 2 });
  });

  it('rejects with the INIT error and keeps no broken environment', async () => {
    const lines: string[] = [];
    const s = service([fn('boom', 'cjs-echo', 'boom.handler')], { onLog: (_name, line) => lines.push(line) });
    await expect(s.prewarm('boom')).rejects.toMatchObject({
      name: 'TypeError',
      message: expect.stringContaining('configuration is missing'),
    });
    expect(lines).toContainEqual(
      expect.stringMatching(/^INIT_REPORT Init Duration: [\d.]+ ms\tPhase: init\tStatus: error\tError Type: TypeError$/),
    );
    expect(s.stats().boom?.environments).toBe(0);
    // An invocation then reports the failure itself, on demand.
    expect(errorPayload(await s.invoke('boom', {})).errorType).toBe('TypeError');
  });

  it('rejects an unknown function', async () => {
    const s = service([v1]);
    await expect(s.prewarm('nope')).rejects.toBeInstanceOf(ResourceNotFoundException);
  });
});

describe('LambdaService.updateFunction', () => {
  it('swaps the code: in-flight invocations finish on the old code, new ones run the new code', async () => {
    const s = service([v1], { maxConcurrencyPerFunction: 3 });
    // Two warm v1 environments, then one of them busy with a slow invocation.
    await Promise.all([s.invoke('versioned', { sleepMs: 50 }), s.invoke('versioned', { sleepMs: 50 })]);
    const slow = s.invoke('versioned', { sleepMs: 400 });
    await until(() => s.stats().versioned?.busy === 1);

    expect(s.updateFunction(v2)).toEqual({ replaced: 2, terminated: 1, draining: 1 });
    const fresh = await s.invoke('versioned', {});
    expect(okPayload<Versioned>(fresh)).toMatchObject({ version: 'v2', invocations: 1 });
    expect(fresh.logs).toContain('Init Duration:');

    const old = await slow;
    expect(okPayload<Versioned>(old)).toMatchObject({ version: 'v1', invocations: 2 });
    // The old environment was discarded after its invocation, never reused.
    await until(() => s.stats().versioned?.environments === 1);
    const next = await Promise.all([s.invoke('versioned', { sleepMs: 50 }), s.invoke('versioned', { sleepMs: 50 })]);
    expect(next.map((r) => okPayload<Versioned>(r).version)).toEqual(['v2', 'v2']);
  });

  it('terminates idle environments at once and keeps the function reachable by name, logical id and ARN', async () => {
    const s = service([v1], { accountId: '123456789012' });
    await s.invoke('versioned', {});
    expect(s.updateFunction({ ...v2, timeoutSeconds: 7 })).toEqual({ replaced: 1, terminated: 1, draining: 0 });
    await until(() => s.stats().versioned?.environments === 0);
    for (const id of ['versioned', 'versionedFunction0A1B2C3D', 'arn:aws:lambda:eu-west-1:123456789012:function:versioned']) {
      expect(okPayload<Versioned>(await s.invoke(id, {})).version).toBe('v2');
    }
    expect(() => s.updateFunction(fn('nope', 'versioned-v2', 'index.handler'))).toThrow(ResourceNotFoundException);
  });

  it('lets invocations queued on the old code run on the new code', async () => {
    const s = service([v1], { maxConcurrencyPerFunction: 1 });
    const slow = s.invoke('versioned', { sleepMs: 300 });
    await until(() => s.stats().versioned?.busy === 1);
    const queued = s.invoke('versioned', {});
    expect(s.stats().versioned?.queued).toBe(1);
    expect(s.updateFunction(v2)).toEqual({ replaced: 1, terminated: 0, draining: 1 });
    expect(okPayload<Versioned>(await queued).version).toBe('v2');
    expect(okPayload<Versioned>(await slow).version).toBe('v1');
  });
});
