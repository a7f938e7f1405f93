import { describe, expect, it } from 'vitest';
import { newLogStreamName, newTraceHeader, randomHex } from '../../../../local/lambda/ids.js';

describe('local Lambda ids', () => {
  it('makes X-Ray trace headers with the epoch of the given time', () => {
    const header = newTraceHeader(Date.UTC(2024, 0, 31, 12));
    expect(header).toMatch(/^Root=1-65ba3640-[0-9a-f]{24};Parent=[0-9a-f]{16};Sampled=1$/);
  });

  it('never repeats, across refills of the random pool', () => {
    const seen = new Set(Array.from({ length: 1000 }, () => newTraceHeader()));
    expect(seen.size).toBe(1000);
    expect(randomHex(4)).toMatch(/^[0-9a-f]{8}$/);
  });

  it('names log streams as Lambda does', () => {
    expect(newLogStreamName(new Date(Date.UTC(2024, 0, 5)))).toMatch(/^2024\/01\/05\/\[\$LATEST\][0-9a-f]{32}$/);
  });
});
