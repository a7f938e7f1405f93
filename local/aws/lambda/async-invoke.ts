/**
 * Lambda's asynchronous invocation (`InvocationType: Event`, and what
 * EventBridge, S3 or a destination use): the event is queued and answered 202
 * at once; a failed attempt is retried twice, one minute and then two
 * minutes later (on the runtime's clock), unless the function's
 * `AWS::Lambda::EventInvokeConfig` says otherwise; an event older than
 * `MaximumEventAgeInSeconds` is dropped. The outcome goes to the OnSuccess /
 * OnFailure destination through the dispatcher, in the record format Lambda
 * sends (`requestContext`, `requestPayload`, `responseContext`, `responsePayload`).
 */
import { randomUUID } from 'node:crypto';
import type { Clock } from '../../clock.js';
import type { Dispatcher } from '../../dispatch.js';
import type { FunctionInvoker, InvokeResult } from '../../types.js';

export interface EventInvokeConfig {
  maximumRetryAttempts: number;
  maximumEventAgeSeconds: number;
  onSuccess?: string;
  onFailure?: string;
}

/** Lambda's defaults: 2 retries, 6 hours. */
export const DEFAULT_EVENT_INVOKE_CONFIG: EventInvokeConfig = { maximumRetryAttempts: 2, maximumEventAgeSeconds: 21_600 };
/** Delay before the second and third attempts (Lambda: about one minute, then about two). */
const RETRY_DELAYS_MS = [60_000, 120_000];

export interface AsyncInvocationRecord {
  requestId: string;
  functionArn: string;
  attempts: number;
  status: 'queued' | 'running' | 'succeeded' | 'failed' | 'expired';
}

export class AsyncLambdaInvoker {
  private readonly configs = new Map<string, EventInvokeConfig>();
  private readonly inFlight = new Set<Promise<void>>();
  private readonly history: AsyncInvocationRecord[] = [];
  private stopped = false;

  constructor(
    private readonly lambda: FunctionInvoker & { functionArn(nameOrArn: string): string },
    private readonly dispatcher: Dispatcher,
    private readonly clock: Clock,
  ) {}

  /** Sets a function's EventInvokeConfig (by name, logical id or ARN). */
  configure(functionNameOrArn: string, config: Partial<EventInvokeConfig>): void {
    const arn = this.lambda.functionArn(functionNameOrArn);
    this.configs.set(arn, { ...DEFAULT_EVENT_INVOKE_CONFIG, ...this.configs.get(arn), ...config });
  }

  /** Queues one event; returns its request id at once (throws only for an unknown function, as Invoke does). */
  invoke(functionNameOrArn: string, event: unknown, options: { traceHeader?: string } = {}): string {
    const functionArn = this.lambda.functionArn(functionNameOrArn);
    const record: AsyncInvocationRecord = { requestId: randomUUID(), functionArn, attempts: 0, status: 'queued' };
    this.history.push(record);
    if (this.history.length > 1000) this.history.shift();
    const run = this.run(record, event, options.traceHeader).finally(() => this.inFlight.delete(run));
    this.inFlight.add(run);
    return record.requestId;
  }

  /** The latest asynchronous invocations (newest last), for tests and diagnostics. */
  recent(): readonly AsyncInvocationRecord[] {
    return this.history;
  }

  /** Resolves when every queued invocation has finished (retries included). */
  async drain(): Promise<void> {
    while (this.inFlight.size > 0) await Promise.allSettled([...this.inFlight]);
  }

  stop(): void {
    this.stopped = true;
  }

  private async run(record: AsyncInvocationRecord, event: unknown, traceHeader: string | undefined): Promise<void> {
    const config = this.configs.get(record.functionArn) ?? DEFAULT_EVENT_INVOKE_CONFIG;
    const queuedAt = this.clock.now();
    let result: InvokeResult | undefined;
    // The 202 goes back before the function runs, as in Lambda.
    await Promise.resolve();
    for (let attempt = 0; attempt <= config.maximumRetryAttempts; attempt++) {
      if (attempt > 0) await this.clock.sleep(RETRY_DELAYS_MS[attempt - 1] ?? RETRY_DELAYS_MS[RETRY_DELAYS_MS.length - 1]!);
      if (this.stopped) return;
      if (this.clock.now() - queuedAt > config.maximumEventAgeSeconds * 1000) {
        record.status = 'expired';
        await this.destination(config.onFailure, record, event, result, 'EventAgeExceeded');
        return;
      }
      record.status = 'running';
      record.attempts = attempt + 1;
      result = await this.lambda.invoke(record.functionArn, event, traceHeader ? { traceHeader } : {});
      if (result.ok) {
        record.status = 'succeeded';
        await this.destination(config.onSuccess, record, event, result, 'Success');
        return;
      }
    }
    record.status = 'failed';
    await this.destination(config.onFailure, record, event, result, 'RetriesExhausted');
  }

  private async destination(
    arn: string | undefined,
    record: AsyncInvocationRecord,
    event: unknown,
    result: InvokeResult | undefined,
    condition: 'Success' | 'RetriesExhausted' | 'EventAgeExceeded',
  ): Promise<void> {
    if (!arn) return;
    const payload = {
      version: '1.0',
      timestamp: new Date(this.clock.now()).toISOString(),
      requestContext: {
        requestId: record.requestId,
        functionArn: `${record.functionArn}:$LATEST`,
        condition,
        approximateInvokeCount: record.attempts,
      },
      requestPayload: event,
      responseContext: {
        statusCode: 200,
        executedVersion: '$LATEST',
        ...(result && !result.ok ? { functionError: result.functionError } : {}),
      },
      responsePayload: result?.payload ?? null,
    };
    try {
      await this.dispatcher.deliver(arn, payload, { invocationType: 'Event', source: `lambda destination of ${record.functionArn}` });
    } catch (error) {
      // Lambda drops a destination record it cannot deliver; locally say so.
      console.warn(`switchyard: destination ${arn} of ${record.functionArn} not delivered: ${(error as Error).message}`);
    }
  }
}
