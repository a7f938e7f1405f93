/**
 * SQS behind the one endpoint (DESIGN.md §7), run by fauxqs in this process.
 *
 * fauxqs is a Fastify app; the runtime builds it (`buildApp`) and hands it
 * each call with Fastify's `inject`, never opening a port of its own:
 * `startFauxqs` always listens on 0.0.0.0 (every interface), and a second
 * port would be one more thing to find, guard and stop. Every SQS call —
 * from the SDK, the AWS CLI, the providers, the dispatcher and the pollers —
 * takes this one path, so they all see the same queues and the same clock.
 *
 * What this layer changes on the way through, and why:
 *
 * - Queue URLs. fauxqs names a queue `http://sqs.<region>.localhost/<account>/<name>`;
 *   `*.localhost` does not resolve everywhere, and SDK v3 sends a call to
 *   the QueueUrl's host when the client has no explicit `endpoint`
 *   (`useQueueUrlAsEndpoint`, e.g. `AWS_ENDPOINT_URL` alone). So the URLs
 *   clients see are `<endpoint>/<account>/<name>`, on the runtime's endpoint,
 *   and any URL whose path ends in `/<account>/<name>` is accepted back.
 * - The one clock. fauxqs has no clock injection: it reads `Date.now()` and
 *   `setTimeout`. Its timers multiply seconds by 1000 without rounding, so a
 *   fraction of a second works: each duration a request carries (or the
 *   queue's default for it, read from the queue's attributes) is divided by
 *   the clock's `timeScale` before fauxqs sees it — DelaySeconds,
 *   VisibilityTimeout, WaitTimeSeconds — and the timestamps it reports are
 *   moved onto the simulated time line. Queue attributes are stored as given
 *   (GetQueueAttributes answers what was set; fauxqs validates them as
 *   integers). MessageRetentionPeriod is stored only: fauxqs never expires
 *   messages. A FIFO queue's own DelaySeconds stays in real time (fauxqs
 *   reads it from the attribute and FIFO messages take no per-message delay).
 */
import { buildApp } from 'fauxqs';
import type { Clock } from '../../clock.js';
import { AwsServiceError, type AwsJsonService, type AwsRequestContext } from '../endpoint.js';

/** The account fauxqs puts in every queue URL and ARN (it has no other). */
export const FAUXQS_ACCOUNT = '000000000000';

/** The host part fauxqs derives its own queue URLs from (no port: calls are injected, not sent). */
const INJECT_HOST = 'fauxqs';

export interface SqsServiceOptions {
  region: string;
  clock: Clock;
  /** The runtime's AWS endpoint (`http://127.0.0.1:4599`): queue URLs point at it. */
  endpoint: string;
}

/** A queue as providers, the dispatcher and pollers name it. */
export interface LocalQueue {
  name: string;
  /** The URL clients use (on the runtime's endpoint). */
  url: string;
  arn: string;
}

/** SQS's JSON message attribute value on the wire (BinaryValue base64). */
export interface SqsMessageAttributeValue {
  DataType: string;
  StringValue?: string;
  BinaryValue?: string;
  StringListValues?: string[];
  BinaryListValues?: string[];
}

/** A message as ReceiveMessage answers it on the wire. */
export interface SqsWireMessage {
  MessageId: string;
  ReceiptHandle: string;
  MD5OfBody: string;
  Body: string;
  MD5OfMessageAttributes?: string;
  Attributes?: Record<string, string>;
  MessageAttributes?: Record<string, SqsMessageAttributeValue>;
}

type Json = Record<string, unknown>;

const RANGES = {
  VisibilityTimeout: { min: 0, max: 43_200 },
  WaitTimeSeconds: { min: 0, max: 20 },
  DelaySeconds: { min: 0, max: 900 },
} as const;

/** Checked before scaling: once divided, an out-of-range value would slip through fauxqs's own check. */
function checkRange(name: keyof typeof RANGES, value: unknown): number | undefined {
  if (value === undefined || value === null) return undefined;
  const n = Number(value);
  const { min, max } = RANGES[name];
  if (!Number.isInteger(n) || n < min || n > max) {
    throw new AwsServiceError(
      'InvalidParameterValue',
      `Value ${String(value)} for parameter ${name} is invalid. Reason: Must be between ${min} and ${max}.`,
      400,
      { 'x-amzn-query-error': 'InvalidParameterValue;Sender' },
    );
  }
  return n;
}

export class SqsService implements AwsJsonService {
  readonly targetPrefix = 'AmazonSQS';
  readonly jsonVersion = '1.0' as const;
  private readonly app: ReturnType<typeof buildApp>;
  private readonly region: string;
  private readonly clock: Clock;
  private readonly endpoint: string;
  /** Prefix of fauxqs's own queue URLs. */
  private readonly internalPrefix: string;
  private readonly traceHeaders = new TraceHeaders();

  constructor(options: SqsServiceOptions) {
    this.region = options.region;
    this.clock = options.clock;
    this.endpoint = options.endpoint.replace(/\/+$/, '');
    this.internalPrefix = `http://sqs.${this.region}.localhost/`;
    this.app = buildApp({ logger: false, defaultRegion: this.region });
  }

  /** Builds fauxqs: 15–100 ms here once its modules are loaded (the import itself takes 250–330 ms). */
  static async start(options: SqsServiceOptions): Promise<SqsService> {
    const service = new SqsService(options);
    await service.app.ready();
    return service;
  }

  /** Ends long polls in flight (they answer with no messages) and drops every queue: fauxqs keeps nothing on disk. */
  async stop(): Promise<void> {
    await this.app.close();
  }

  handle(operation: string, input: Json, context?: AwsRequestContext): Promise<unknown> {
    const traceHeader = context?.headers['x-amzn-trace-id'];
    return this.call(operation, input, typeof traceHeader === 'string' ? { traceHeader } : {});
  }

  /**
   * One SQS API call in this process (the providers, the dispatcher and the
   * pollers use it); throws `AwsServiceError` as the endpoint answers it.
   * `traceHeader`: the sender's X-Ray header (`X-Amzn-Trace-Id` of the HTTP call).
   */
  async call<T = Json>(operation: string, input: Json, options: { traceHeader?: string } = {}): Promise<T> {
    const request = this.inbound(input);
    if (this.clock.timeScale !== 1) await this.scaleDurations(operation, request);
    const output = await this.inject(operation, request);
    this.traceHeaders.track(operation, input, output, options.traceHeader);
    if (this.clock.timeScale !== 1) this.scaleTimestamps(output);
    return this.outbound(output) as T;
  }

  /** The queue of an ARN, when it exists. */
  async queueByArn(arn: string): Promise<LocalQueue | undefined> {
    const match = /^arn:aws[\w-]*:sqs:([^:]+):([^:]+):(.+)$/.exec(arn);
    if (!match || match[1] !== this.region) return undefined;
    const name = match[3] as string;
    const url = this.queueUrl(name);
    try {
      await this.call('GetQueueAttributes', { QueueUrl: url, AttributeNames: ['QueueArn'] });
    } catch (error) {
      if (error instanceof AwsServiceError && error.type === 'QueueDoesNotExist') return undefined;
      throw error;
    }
    return { name, url, arn: this.queueArn(name) };
  }

  /** The URL clients use for a queue name. */
  queueUrl(name: string): string {
    return `${this.endpoint}/${FAUXQS_ACCOUNT}/${name}`;
  }

  queueArn(name: string): string {
    return `arn:aws:sqs:${this.region}:${FAUXQS_ACCOUNT}:${name}`;
  }

  private async inject(operation: string, input: Json): Promise<Json> {
    const response = await this.app.inject({
      method: 'POST',
      url: '/',
      headers: { 'content-type': 'application/x-amz-json-1.0', 'x-amz-target': `AmazonSQS.${operation}`, host: INJECT_HOST },
      payload: JSON.stringify(input),
    });
    let body: Json;
    try {
      body = response.body ? (JSON.parse(response.body) as Json) : {};
    } catch {
      throw new AwsServiceError('InternalFailure', `fauxqs answered ${operation} with something that is not JSON`, 500);
    }
    if (response.statusCode === 200) return body;
    if (typeof body.__type === 'string') {
      // `com.amazonaws.sqs#QueueDoesNotExist` → `QueueDoesNotExist`; the query-compatible code header is what the SDK maps to its exception.
      const type = body.__type.slice(body.__type.indexOf('#') + 1);
      const queryError = response.headers['x-amzn-query-error'];
      throw new AwsServiceError(
        type,
        String(body.message ?? type),
        response.statusCode,
        typeof queryError === 'string' ? { 'x-amzn-query-error': queryError } : {},
      );
    }
    throw new AwsServiceError('InternalFailure', String(body.message ?? body.error ?? `fauxqs failed ${operation}`), 500);
  }

  /** Client URLs → fauxqs's. */
  private inbound(input: Json): Json {
    const request = structuredClone(input);
    if (typeof request.QueueUrl === 'string') request.QueueUrl = this.internalUrl(request.QueueUrl);
    return request;
  }

  private internalUrl(url: string): string {
    // `<anything>/<account>/<name>`: the endpoint's form, fauxqs's, or an AWS-shaped URL pasted from elsewhere.
    const match = /^[a-z]+:\/\/[^/]+\/(\d{12})\/([^/?#]+)\/?$/.exec(url);
    return match ? `${this.internalPrefix}${match[1]}/${match[2]}` : url;
  }

  /** fauxqs URLs → client URLs, wherever they appear (QueueUrl, QueueUrls). */
  private outbound(value: unknown): unknown {
    if (typeof value === 'string') {
      return value.startsWith(this.internalPrefix) ? `${this.endpoint}/${value.slice(this.internalPrefix.length)}` : value;
    }
    if (Array.isArray(value)) return value.map((item) => this.outbound(item));
    if (value !== null && typeof value === 'object') {
      return Object.fromEntries(Object.entries(value).map(([key, item]) => [key, this.outbound(item)]));
    }
    return value;
  }

  /**
   * Real seconds for fauxqs. On a slowed clock (scale < 1) the waits and
   * timeouts fauxqs range-checks are held to its maximum (a long poll then
   * ends early, as SQS's may); it does not check a message's delay.
   */
  private scaled(seconds: number, checkedBy?: 'VisibilityTimeout' | 'WaitTimeSeconds'): number {
    const real = seconds / this.clock.timeScale;
    return checkedBy ? Math.min(real, RANGES[checkedBy].max) : real;
  }

  private async queueDefaults(queueUrl: unknown): Promise<Record<string, string>> {
    if (typeof queueUrl !== 'string') return {};
    const output = await this.inject('GetQueueAttributes', {
      QueueUrl: queueUrl,
      AttributeNames: ['DelaySeconds', 'VisibilityTimeout', 'ReceiveMessageWaitTimeSeconds', 'FifoQueue'],
    });
    return (output.Attributes ?? {}) as Record<string, string>;
  }

  /** Every duration the call carries, or the queue default it would take, in real seconds for fauxqs. */
  private async scaleDurations(operation: string, request: Json): Promise<void> {
    switch (operation) {
      case 'SendMessage':
      case 'SendMessageBatch': {
        const defaults = await this.queueDefaults(request.QueueUrl).catch(() => undefined);
        if (!defaults || defaults.FifoQueue === 'true') return; // unknown queue: fauxqs answers; FIFO: see the file comment
        const entries = operation === 'SendMessage' ? [request] : Array.isArray(request.Entries) ? (request.Entries as Json[]) : [];
        for (const entry of entries) {
          const delay = checkRange('DelaySeconds', entry.DelaySeconds) ?? Number(defaults.DelaySeconds ?? 0);
          entry.DelaySeconds = this.scaled(delay);
        }
        return;
      }
      case 'ReceiveMessage': {
        const visibility = checkRange('VisibilityTimeout', request.VisibilityTimeout);
        const wait = checkRange('WaitTimeSeconds', request.WaitTimeSeconds);
        const defaults = await this.queueDefaults(request.QueueUrl).catch(() => undefined);
        if (!defaults) return;
        request.VisibilityTimeout = this.scaled(visibility ?? Number(defaults.VisibilityTimeout ?? 30), 'VisibilityTimeout');
        request.WaitTimeSeconds = this.scaled(wait ?? Number(defaults.ReceiveMessageWaitTimeSeconds ?? 0), 'WaitTimeSeconds');
        return;
      }
      case 'ChangeMessageVisibility': {
        const visibility = checkRange('VisibilityTimeout', request.VisibilityTimeout);
        if (visibility !== undefined) request.VisibilityTimeout = this.scaled(visibility, 'VisibilityTimeout');
        return;
      }
      case 'ChangeMessageVisibilityBatch':
        for (const entry of Array.isArray(request.Entries) ? (request.Entries as Json[]) : []) {
          const visibility = checkRange('VisibilityTimeout', entry.VisibilityTimeout);
          if (visibility !== undefined) entry.VisibilityTimeout = this.scaled(visibility, 'VisibilityTimeout');
        }
        return;
      default:
        return;
    }
  }

  /** fauxqs stamps real time; the clients of a scaled runtime live on the simulated time line. */
  private scaleTimestamps(output: Json): void {
    const simulated = (realMs: number) => Math.round(this.clock.now() - (Date.now() - realMs) * this.clock.timeScale);
    for (const message of Array.isArray(output.Messages) ? (output.Messages as SqsWireMessage[]) : []) {
      const attributes = message.Attributes;
      if (!attributes) continue;
      for (const name of ['SentTimestamp', 'ApproximateFirstReceiveTimestamp']) {
        const value = attributes[name];
        if (value !== undefined) attributes[name] = String(simulated(Number(value)));
      }
    }
    const queueAttributes = output.Attributes as Record<string, string> | undefined;
    if (queueAttributes && typeof queueAttributes === 'object') {
      for (const name of ['CreatedTimestamp', 'LastModifiedTimestamp']) {
        const value = queueAttributes[name];
        if (value !== undefined) queueAttributes[name] = String(Math.floor(simulated(Number(value) * 1000) / 1000));
      }
    }
  }
}

/** Most messages whose trace header is remembered (the oldest are forgotten first). */
const MAX_TRACED_MESSAGES = 10_000;

/**
 * The AWSTraceHeader system attribute, which fauxqs does not keep: SQS sets
 * it from the sender's `X-Amzn-Trace-Id` (or MessageSystemAttributes), and
 * ReceiveMessage answers it when asked (`All` or `AWSTraceHeader`), so a
 * trace runs on from the sender through the queue into the consumer.
 */
class TraceHeaders {
  private readonly byMessageId = new Map<string, string>();

  track(operation: string, input: Json, output: Json, httpHeader: string | undefined): void {
    if (operation === 'SendMessage') {
      this.remember(output.MessageId, ownHeader(input) ?? httpHeader);
    } else if (operation === 'SendMessageBatch') {
      const entries = new Map((Array.isArray(input.Entries) ? (input.Entries as Json[]) : []).map((entry) => [entry.Id, entry]));
      for (const sent of Array.isArray(output.Successful) ? (output.Successful as Json[]) : []) {
        const entry = entries.get(sent.Id);
        this.remember(sent.MessageId, (entry && ownHeader(entry)) ?? httpHeader);
      }
    } else if (operation === 'ReceiveMessage') {
      const asked = [
        ...(Array.isArray(input.AttributeNames) ? input.AttributeNames : []),
        ...(Array.isArray(input.MessageSystemAttributeNames) ? input.MessageSystemAttributeNames : []),
      ];
      if (!asked.includes('All') && !asked.includes('AWSTraceHeader')) return;
      for (const message of Array.isArray(output.Messages) ? (output.Messages as SqsWireMessage[]) : []) {
        const header = this.byMessageId.get(message.MessageId);
        if (header) message.Attributes = { ...message.Attributes, AWSTraceHeader: header };
      }
    }
  }

  private remember(messageId: unknown, header: string | undefined): void {
    if (typeof messageId !== 'string' || !header) return;
    this.byMessageId.set(messageId, header);
    if (this.byMessageId.size > MAX_TRACED_MESSAGES) {
      const oldest = this.byMessageId.keys().next().value;
      if (oldest !== undefined) this.byMessageId.delete(oldest);
    }
  }
}

function ownHeader(entry: Json): string | undefined {
  const system = entry.MessageSystemAttributes as Record<string, { StringValue?: unknown }> | undefined;
  const value = system?.AWSTraceHeader?.StringValue;
  return typeof value === 'string' ? value : undefined;
}
