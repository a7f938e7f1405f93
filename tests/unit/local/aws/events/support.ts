/**
 * A local EventBridge on a real endpoint, with a dispatcher whose `lambda`
 * and `sqs` targets record what they receive (and fail when told to).
 */
import { EventBridgeClient } from '@aws-sdk/client-eventbridge';
import { EventBridgeSchema } from '@aws-lambda-powertools/parser/schemas';
import { expect } from 'vitest';
import { startLocalAwsEndpoint, type LocalAwsEndpoint } from '../../../../../local/aws/endpoint.js';
import { EventBridgeService } from '../../../../../local/aws/events/service.js';
import { Clock } from '../../../../../local/clock.js';
import { DispatchError, Dispatcher, type DispatchOptions } from '../../../../../local/dispatch.js';

export const REGION = 'us-east-1';
export const ACCOUNT = '000000000000';

export interface Delivery {
  arn: string;
  payload: unknown;
  options: DispatchOptions;
  /** Simulated time of the attempt. */
  at: number;
}

export interface Harness {
  endpoint: LocalAwsEndpoint;
  client: EventBridgeClient;
  events: EventBridgeService;
  clock: Clock;
  /** Every delivery attempt to a fake lambda or sqs target, failed ones included. */
  deliveries: Delivery[];
  /** ARNs whose deliveries fail (with the error code given). */
  failing: Map<string, string>;
  warnings: string[];
  /** While set, every delivery waits for it (a target that is still running). */
  hold?: Promise<void>;
  stop(): Promise<void>;
}

export async function startHarness(options: { timeScale?: number } = {}): Promise<Harness> {
  const clock = new Clock(options.timeScale ?? 1);
  const dispatcher = new Dispatcher();
  const deliveries: Delivery[] = [];
  const failing = new Map<string, string>();
  const record = async (arn: string, payload: unknown, dispatch: DispatchOptions) => {
    deliveries.push({ arn, payload, options: dispatch, at: clock.now() });
    await harness.hold;
    const code = failing.get(arn);
    if (code) throw new DispatchError(arn, `${arn} is failing on purpose`, code);
    return {};
  };
  dispatcher.register('lambda', record);
  dispatcher.register('sqs', record);
  const warnings: string[] = [];
  const events = new EventBridgeService({
    region: REGION,
    accountId: ACCOUNT,
    clock,
    dispatcher,
    warn: (message) => warnings.push(message),
  });
  const endpoint = await startLocalAwsEndpoint({ services: [events] });
  const client = new EventBridgeClient({
    endpoint: endpoint.endpoint,
    region: REGION,
    credentials: { accessKeyId: 'local', secretAccessKey: 'local' },
  });
  const harness: Harness = {
    endpoint,
    client,
    events,
    clock,
    deliveries,
    failing,
    warnings,
    async stop() {
      events.stop();
      client.destroy();
      await endpoint.stop();
    },
  };
  return harness;
}

export const functionArn = (name: string) => `arn:aws:lambda:${REGION}:${ACCOUNT}:function:${name}`;
export const queueArn = (name: string) => `arn:aws:sqs:${REGION}:${ACCOUNT}:${name}`;

/** Asserts an EventBridge envelope as Powertools' schema reads it, and returns it parsed. */
export function expectEventBridgeEvent(payload: unknown) {
  const parsed = EventBridgeSchema.safeParse(payload);
  expect(parsed.error?.issues ?? []).toEqual([]);
  return parsed.data!;
}

/** Waits until `predicate` holds (real time), failing after `timeoutMs`. */
export async function until(predicate: () => boolean | Promise<boolean>, timeoutMs = 10_000): Promise<void> {
  const started = Date.now();
  while (!(await predicate())) {
    if (Date.now() - started > timeoutMs) throw new Error('condition not reached in time');
    await new Promise((resolve) => setTimeout(resolve, 5));
  }
}
