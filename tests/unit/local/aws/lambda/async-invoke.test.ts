/** Lambda's asynchronous invocation: retries on the clock, event age, destinations through the one dispatcher. */
import { describe, expect, it } from 'vitest';
import { AsyncLambdaInvoker } from '../../../../../local/aws/lambda/async-invoke.js';
import { Clock } from '../../../../../local/clock.js';
import { Dispatcher, DispatchError } from '../../../../../local/dispatch.js';
import type { InvokeResult } from '../../../../../local/types.js';

const ARN = 'arn:aws:lambda:us-east-1:000000000000:function:flaky';

/** A function that fails its first `failures` invocations. */
function flakyFunction(failures: number, clock: Clock) {
  const calls: number[] = [];
  return {
    calls,
    functionArn: (name: string) => {
      if (name !== 'flaky' && name !== ARN) throw new Error(`Function not found: ${name}`);
      return ARN;
    },
    async invoke(_name: string, event: unknown): Promise<InvokeResult> {
      calls.push(clock.now());
      const base = { requestId: `r${calls.length}`, durationMs: 1, logs: '' };
      if (calls.length <= failures) {
        return { ...base, ok: false, functionError: 'Unhandled', payload: { errorType: 'Error', errorMessage: 'boom' } };
      }
      return { ...base, ok: true, payload: { echoed: event } };
    },
  };
}

function recordingDispatcher() {
  const delivered: Array<{ arn: string; payload: unknown }> = [];
  const dispatcher = new Dispatcher();
  dispatcher.register('sqs', async (arn, payload) => {
    delivered.push({ arn, payload });
    return {};
  });
  return { dispatcher, delivered };
}

describe('AsyncLambdaInvoker', () => {
  it('retries a failed event one and then two simulated minutes later, then reports success to OnSuccess', async () => {
    const clock = new Clock(6_000); // 3 simulated minutes = 30 ms
    const fn = flakyFunction(2, clock);
    const { dispatcher, delivered } = recordingDispatcher();
    const invoker = new AsyncLambdaInvoker(fn, dispatcher, clock);
    invoker.configure('flaky', { onSuccess: 'arn:aws:sqs:us-east-1:000000000000:ok', onFailure: 'arn:aws:sqs:us-east-1:000000000000:dlq' });
    invoker.invoke('flaky', { n: 1 });
    await invoker.drain();
    expect(fn.calls).toHaveLength(3);
    const [first, second, third] = fn.calls as [number, number, number];
    expect(second - first).toBeGreaterThanOrEqual(60_000);
    expect(third - second).toBeGreaterThanOrEqual(120_000);
    expect(delivered).toEqual([
      {
        arn: 'arn:aws:sqs:us-east-1:000000000000:ok',
        payload: expect.objectContaining({
          version: '1.0',
          requestContext: expect.objectContaining({ condition: 'Success', approximateInvokeCount: 3, functionArn: `${ARN}:$LATEST` }),
          requestPayload: { n: 1 },
          responsePayload: { echoed: { n: 1 } },
        }),
      },
    ]);
    expect(invoker.recent()[0]).toMatchObject({ status: 'succeeded', attempts: 3 });
  });

  it('sends an event that keeps failing to OnFailure with RetriesExhausted after MaximumRetryAttempts', async () => {
    const clock = new Clock(6_000);
    const fn = flakyFunction(99, clock);
    const { dispatcher, delivered } = recordingDispatcher();
    const invoker = new AsyncLambdaInvoker(fn, dispatcher, clock);
    invoker.configure(ARN, { maximumRetryAttempts: 1, onFailure: 'arn:aws:sqs:us-east-1:000000000000:dlq' });
    invoker.invoke(ARN, { n: 2 });
    await invoker.drain();
    expect(fn.calls).toHaveLength(2);
    expect(delivered).toHaveLength(1);
    expect(delivered[0]?.payload).toMatchObject({
      requestContext: { condition: 'RetriesExhausted', approximateInvokeCount: 2 },
      responseContext: { functionError: 'Unhandled' },
      responsePayload: { errorType: 'Error', errorMessage: 'boom' },
    });
  });

  it('drops an event older than MaximumEventAgeInSeconds instead of retrying it', async () => {
    const clock = new Clock(6_000);
    const fn = flakyFunction(99, clock);
    const { dispatcher, delivered } = recordingDispatcher();
    const invoker = new AsyncLambdaInvoker(fn, dispatcher, clock);
    invoker.configure(ARN, { maximumEventAgeSeconds: 90, onFailure: 'arn:aws:sqs:us-east-1:000000000000:dlq' });
    invoker.invoke(ARN, {});
    await invoker.drain();
    // Attempt 1 at 0 s, attempt 2 at 60 s; attempt 3 would be at 180 s > 90 s.
    expect(fn.calls).toHaveLength(2);
    expect(delivered[0]?.payload).toMatchObject({ requestContext: { condition: 'EventAgeExceeded' } });
  });

  it('throws at once for an unknown function, as Invoke does', () => {
    const clock = new Clock();
    const invoker = new AsyncLambdaInvoker(flakyFunction(0, clock), new Dispatcher(), clock);
    expect(() => invoker.invoke('nope', {})).toThrow(/Function not found/);
  });
});

describe('Dispatcher', () => {
  it('routes by the ARN service and refuses a target no local service delivers to', async () => {
    const { dispatcher, delivered } = recordingDispatcher();
    await dispatcher.deliver('arn:aws:sqs:us-east-1:000000000000:q', { a: 1 });
    expect(delivered).toEqual([{ arn: 'arn:aws:sqs:us-east-1:000000000000:q', payload: { a: 1 } }]);
    await expect(dispatcher.deliver('arn:aws:sns:us-east-1:000000000000:topic', {})).rejects.toThrow(DispatchError);
    await expect(dispatcher.deliver('not-an-arn', {})).rejects.toThrow(/cannot deliver to not-an-arn/);
  });
});
