/**
 * The one target dispatcher (DESIGN.md §7): whatever delivers to a target by
 * ARN — EventBridge rules and schedules, Lambda destinations, state machine
 * tasks — hands it here, and the service that owns the ARN's service name
 * (`lambda`, `sqs`, `states`, `events`) delivers it. Each service registers
 * itself when the runtime starts it, so a new service is a new registration,
 * not a new branch in every caller.
 */

/** How a target is invoked: and waited for (`RequestResponse`) or queued (`Event`, Lambda's asynchronous invocation). */
export type InvocationType = 'RequestResponse' | 'Event';

export interface DispatchOptions {
  invocationType?: InvocationType;
  /** X-Ray trace header to carry to the target. */
  traceHeader?: string;
  /** Who delivers (for errors and logs), e.g. `rule switchyard/webhooks`. */
  source?: string;
  /**
   * SQS targets only: what SendMessage carries besides the body, e.g. the
   * ERROR_CODE, ERROR_MESSAGE, RULE_ARN… attributes EventBridge sets on a
   * dead-letter message, or a FIFO target's MessageGroupId. The payload stays
   * the body alone (a string as is, anything else as JSON).
   */
  sqs?: SqsDeliveryOptions;
}

/** SendMessage's fields besides the body, in the SQS JSON protocol's form (BinaryValue base64). */
export interface SqsDeliveryOptions {
  messageAttributes?: Record<string, { DataType: string; StringValue?: string; BinaryValue?: string }>;
  messageGroupId?: string;
  messageDeduplicationId?: string;
  delaySeconds?: number;
}

/** What a target answered: the payload for a synchronous invocation, nothing for a queued one. */
export interface DispatchResult {
  payload?: unknown;
}

export type TargetHandler = (arn: string, payload: unknown, options: DispatchOptions) => Promise<DispatchResult>;

/** A delivery failed: the target does not exist, the service refused it, or a synchronous function failed. */
export class DispatchError extends Error {
  override readonly name = 'DispatchError';
  constructor(
    readonly arn: string,
    message: string,
    /** AWS's error code for it (`ResourceNotFoundException`, `Unhandled`…). */
    readonly code: string,
  ) {
    super(message);
  }
}

/** `arn:aws:sqs:us-east-1:0000:queue` → `sqs`. */
export function serviceOfArn(arn: string): string | undefined {
  return /^arn:aws[\w-]*:([a-z0-9-]+):/.exec(arn)?.[1];
}

export class Dispatcher {
  private readonly handlers = new Map<string, TargetHandler>();

  register(service: string, handler: TargetHandler): void {
    this.handlers.set(service, handler);
  }

  /** The services targets can be delivered to. */
  services(): string[] {
    return [...this.handlers.keys()];
  }

  async deliver(arn: string, payload: unknown, options: DispatchOptions = {}): Promise<DispatchResult> {
    const service = serviceOfArn(arn);
    const handler = service === undefined ? undefined : this.handlers.get(service);
    if (!handler) {
      throw new DispatchError(
        arn,
        `The local runtime cannot deliver to ${arn}: no local ${service ?? 'service'} target`,
        'UnsupportedTarget',
      );
    }
    return handler(arn, payload, options);
  }
}
