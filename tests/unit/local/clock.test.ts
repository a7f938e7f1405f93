import { describe, expect, it } from 'vitest';
import { Clock, clockFromContext, TIME_SCALE_CONTEXT } from '../../../local/clock.js';

describe('Clock', () => {
  it('runs simulated time timeScale times faster than the wall clock', async () => {
    const clock = new Clock(600, { simulated: 0 });
    const wall = Date.now();
    await clock.sleep(60_000); // one simulated minute = 100 ms of real time
    const realMs = Date.now() - wall;
    expect(clock.now()).toBeGreaterThanOrEqual(60_000);
    expect(realMs).toBeLessThan(60_000 / 10);
  });

  it('fires timers in simulated order and can cancel them', async () => {
    const clock = new Clock(1000);
    const fired: string[] = [];
    clock.setTimeout(() => fired.push('second'), 2_000);
    clock.setTimeout(() => fired.push('first'), 1_000);
    clock.setTimeout(() => fired.push('cancelled'), 1_500).cancel();
    await clock.sleep(3_000);
    expect(fired).toEqual(['first', 'second']);
  });

  it('stops a sleep when its signal aborts', async () => {
    const clock = new Clock(1);
    const controller = new AbortController();
    const sleeping = clock.sleep(60_000, controller.signal);
    controller.abort(new Error('stopped'));
    await expect(sleeping).rejects.toThrow('stopped');
  });

  it('tells execution environments how to keep their Date in step, only when scaled', () => {
    expect(new Clock(1).environment()).toEqual({});
    expect(new Clock(60, { real: 1000, simulated: 5000 }).environment()).toEqual({ SWITCHYARD_LOCAL_CLOCK: '1000:5000:60' });
  });

  it('reads the scale from the CDK context and refuses nonsense', () => {
    expect(clockFromContext({}).timeScale).toBe(1);
    expect(clockFromContext({ [TIME_SCALE_CONTEXT]: '60' }).timeScale).toBe(60);
    expect(() => clockFromContext({ [TIME_SCALE_CONTEXT]: 'fast' })).toThrow(/must be a positive number/);
    expect(() => clockFromContext({ [TIME_SCALE_CONTEXT]: '-2' })).toThrow(/must be a positive number/);
  });
});
