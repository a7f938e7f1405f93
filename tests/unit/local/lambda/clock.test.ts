/** With a scaled clock, functions see the runtime's simulated time, so their own time checks agree with the runtime's timers. */
import { describe, expect, it } from 'vitest';
import { Clock } from '../../../../local/clock.js';
import { fn, okPayload, service } from './support.js';

describe('simulated time in execution environments', () => {
  it("follows the runtime's clock when it is scaled, and leaves Date alone otherwise", async () => {
    const clock = new Clock(3600, { real: Date.now(), simulated: Date.parse('2030-01-01T00:00:00Z') });
    const lambda = service([fn('clock', 'clock', 'index.handler')], {
      baseEnvironment: { AWS_REGION: 'eu-west-1', ...clock.environment() },
    });
    const seen = okPayload<{ now: number; iso: string; parsed: number; remainingMs: number }>(await lambda.invoke('clock', {}));
    // One real second is an hour of simulated time: allow the cold start's few seconds.
    expect(Math.abs(seen.now - clock.now())).toBeLessThan(5 * 3_600_000);
    expect(seen.iso.startsWith('2030-01-01')).toBe(true);
    expect(seen.parsed).toBe(Date.parse('2020-01-01T00:00:00Z'));
    // The timeout stays real: at 3600× a simulated deadline would have passed before the handler ran (an SDK call would abort at once).
    expect(seen.remainingMs).toBeGreaterThan(1_000);

    const plain = service([fn('clock', 'clock', 'index.handler')]);
    const real = okPayload<{ now: number }>(await plain.invoke('clock', {}));
    expect(Math.abs(real.now - Date.now())).toBeLessThan(5_000);
  });
});
