import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import {
  circuitOutcome,
  closedCircuit,
  DEFAULT_CIRCUIT,
  endpointKey,
  gateDispatch,
  recordCircuitResult,
  type AttemptOutcome,
  type CircuitConfig,
  type EndpointCircuit,
} from '../../../shared/domain/webhooks.js';

const T0 = '2026-11-23T10:00:00.000Z';
const at = (seconds: number) => new Date(Date.parse(T0) + seconds * 1000).toISOString();
const config = DEFAULT_CIRCUIT;
const endpoint = 'https://hooks.example.com';

const fails = (n: number) => Array.from({ length: n }, () => 'failure' as const);
const record = (circuit: EndpointCircuit, results: Array<'success' | 'failure'>, now = T0, cfg: CircuitConfig = config) =>
  results.reduce((c, r) => recordCircuitResult(c, r, cfg, now), circuit);

describe('endpoint key', () => {
  it('is the origin, so subscriptions to one receiver share a breaker', () => {
    expect(endpointKey('https://Hooks.Example.com/a?x=1')).toBe('https://hooks.example.com');
    expect(endpointKey('https://hooks.example.com:443/b')).toBe('https://hooks.example.com');
    expect(endpointKey('http://127.0.0.1:4000/hook')).toBe('http://127.0.0.1:4000');
  });
});

describe('what the breaker counts as a failure', () => {
  it('counts the retryable outcomes; any other answer shows the endpoint is up', () => {
    const response = (statusCode: number): AttemptOutcome => ({ kind: 'response', statusCode, latencyMs: 1 });
    expect(circuitOutcome({ kind: 'timeout', latencyMs: 10_000 })).toBe('failure');
    expect(circuitOutcome({ kind: 'network-error', error: 'ECONNRESET', latencyMs: 1 })).toBe('failure');
    expect(circuitOutcome(response(503))).toBe('failure');
    expect(circuitOutcome(response(429))).toBe('failure');
    expect(circuitOutcome(response(200))).toBe('success');
    expect(circuitOutcome(response(400))).toBe('success');
    expect(circuitOutcome(response(410))).toBe('success');
  });
});

describe('circuit breaker transitions', () => {
  it('closed sends; it opens after 5 failures in a row', () => {
    const four = record(closedCircuit(endpoint), ['failure', 'failure', 'failure', 'failure']);
    expect(four).toMatchObject({ state: 'closed', consecutiveFailures: 4 });
    expect(gateDispatch(four, 0, config, T0).decision).toEqual({ kind: 'send' });
    const five = recordCircuitResult(four, 'failure', config, T0);
    expect(five).toMatchObject({ state: 'open', openUntil: at(60) });
  });

  it('opens on a failure rate over 50% once the window has 10 calls, and not before', () => {
    // Alternating keeps consecutive failures at 1: only the rate can trip.
    const alternating = (n: number) => Array.from({ length: n }, (_, i): 'success' | 'failure' => (i % 2 === 0 ? 'failure' : 'success'));
    expect(record(closedCircuit(endpoint), alternating(9)).state).toBe('closed'); // 5/9 > 50% but under minimumCalls
    expect(record(closedCircuit(endpoint), alternating(10)).state).toBe('closed'); // 5/10 is not over 50%
    expect(record(closedCircuit(endpoint), [...alternating(10), 'failure']).state).toBe('open'); // 6/11
  });

  it('follows the seed literally when configured: over 5% failures in the window', () => {
    const seed: CircuitConfig = { ...config, failureRateThreshold: 0.05, windowSize: 20, minimumCalls: 20 };
    const nineteenOk = Array.from({ length: 19 }, () => 'success' as const);
    expect(record(closedCircuit(endpoint), [...nineteenOk, 'failure'], T0, seed).state).toBe('closed'); // exactly 5%
    expect(record(closedCircuit(endpoint), [...nineteenOk, 'failure', 'failure'], T0, seed).state).toBe('open'); // 2/20
  });

  it('open defers until the cool-down ends, without any attempt, then lets one probe through', () => {
    const open = record(closedCircuit(endpoint), fails(5));
    expect(gateDispatch(open, 0, config, at(30))).toEqual({
      decision: { kind: 'defer', until: at(60), reason: 'circuit-open' },
      circuit: open,
    });
    const probe = gateDispatch(open, 0, config, at(60));
    expect(probe.decision).toEqual({ kind: 'send' });
    expect(probe.circuit).toMatchObject({ state: 'half-open', probeStartedAt: at(60) });
    // While the probe is out, everything else waits for it (up to its timeout).
    expect(gateDispatch(probe.circuit, 1, config, at(61)).decision).toEqual({ kind: 'defer', until: at(90), reason: 'probe-in-flight' });
  });

  it('half-open closes on a successful probe and reopens on a failed one', () => {
    const halfOpen = gateDispatch(record(closedCircuit(endpoint), fails(5)), 0, config, at(60)).circuit;
    expect(recordCircuitResult(halfOpen, 'success', config, at(61))).toEqual(closedCircuit(endpoint));
    expect(recordCircuitResult(halfOpen, 'failure', config, at(61))).toMatchObject({ state: 'open', openUntil: at(121) });
  });

  it('takes a probe that never reported as lost and sends another', () => {
    const halfOpen = gateDispatch(record(closedCircuit(endpoint), fails(5)), 0, config, at(60)).circuit;
    const again = gateDispatch(halfOpen, 0, config, at(90));
    expect(again.decision).toEqual({ kind: 'send' });
    expect(again.circuit.probeStartedAt).toBe(at(90));
  });

  it('a late success while open shortens the cool-down; a late failure changes nothing', () => {
    const open = record(closedCircuit(endpoint), fails(5));
    expect(recordCircuitResult(open, 'failure', config, at(10))).toBe(open);
    const back = recordCircuitResult(open, 'success', config, at(10));
    expect(gateDispatch(back, 0, config, at(10)).decision).toEqual({ kind: 'send' });
  });

  it('property: the window never exceeds its size and a success resets the failure run', () => {
    fc.assert(
      fc.property(fc.array(fc.constantFrom('success', 'failure') as fc.Arbitrary<'success' | 'failure'>, { maxLength: 60 }), (results) => {
        let circuit = closedCircuit(endpoint);
        for (const r of results) {
          if (circuit.state !== 'closed') break;
          circuit = recordCircuitResult(circuit, r, config, T0);
          expect(circuit.recentOutcomes.length).toBeLessThanOrEqual(config.windowSize);
          if (circuit.state === 'closed' && r === 'success') expect(circuit.consecutiveFailures).toBe(0);
        }
      }),
    );
  });
});

describe('per-endpoint concurrency limit', () => {
  it('sends below the limit and defers a short while at it, whatever the breaker says', () => {
    const closed = closedCircuit(endpoint);
    expect(gateDispatch(closed, 9, config, T0).decision).toEqual({ kind: 'send' });
    expect(gateDispatch(closed, 10, config, T0).decision).toEqual({ kind: 'defer', until: at(5), reason: 'endpoint-busy' });
    // A busy endpoint does not use up the probe: the circuit stays open for the next caller.
    const open = { ...record(closed, fails(5)), openUntil: T0 };
    expect(gateDispatch(open, 10, config, T0)).toEqual({
      decision: { kind: 'defer', until: at(5), reason: 'endpoint-busy' },
      circuit: open,
    });
  });
});
