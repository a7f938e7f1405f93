import { Duration, RemovalPolicy } from 'aws-cdk-lib';
import type { Table } from 'aws-cdk-lib/aws-dynamodb';
import { Match, Rule, type IEventBus } from 'aws-cdk-lib/aws-events';
import { SqsQueue } from 'aws-cdk-lib/aws-events-targets';
import { SqsEventSource } from 'aws-cdk-lib/aws-lambda-event-sources';
import { Secret } from 'aws-cdk-lib/aws-secretsmanager';
import { Queue, QueueEncryption } from 'aws-cdk-lib/aws-sqs';
import { Construct } from 'constructs';
import { DEFAULT_RETRY_SECONDS, parseRetrySeconds } from '../shared/domain/webhooks.js';
import { deadLetterAlarm } from './alarms.js';
import { SwitchyardFunction } from './function.js';
import { grantTableAccess, TABLE_ACCESS } from './grants.js';

/** Which SSRF policy the functions apply (shared/webhooks/ssrf.ts): `local` allows http and loopback, for receivers on a developer's machine. */
export type WebhookUrlPolicyName = 'deployed' | 'local';

export interface WebhookPipelineProps {
  table: Table;
  bus: IEventBus;
  serviceVersion: string;
  /** Waits before the 2nd… attempt (DESIGN.md §5: 30, 60, 120, 300, 900 s); `-c switchyard:webhookRetrySeconds=…`. */
  retrySeconds?: readonly number[];
  urlPolicy?: WebhookUrlPolicyName;
}

/** A queue and its dead-letter queue: messages received `maxReceiveCount` times move there instead of cycling forever. */
function queueWithDlq(scope: Construct, id: string, props: { visibilityTimeout: Duration; maxReceiveCount: number }) {
  const deadLetters = new Queue(scope, `${id}Dlq`, {
    encryption: QueueEncryption.SQS_MANAGED,
    enforceSSL: true,
    retentionPeriod: Duration.days(14),
    removalPolicy: RemovalPolicy.DESTROY,
  });
  const queue = new Queue(scope, id, {
    encryption: QueueEncryption.SQS_MANAGED,
    enforceSSL: true,
    visibilityTimeout: props.visibilityTimeout,
    deadLetterQueue: { queue: deadLetters, maxReceiveCount: props.maxReceiveCount },
  });
  return { queue, deadLetters };
}

/** `-c switchyard:webhookRetrySeconds=30,60,120` (or a list); checked at synth, so a bad schedule never deploys. */
export function retrySecondsFromContext(value: unknown): number[] | undefined {
  if (value === undefined) return undefined;
  return parseRetrySeconds(Array.isArray(value) ? value.join(',') : String(value));
}

/**
 * Signed webhooks (DESIGN.md §5): a rule sends every Switchyard event from
 * the bus to `webhook-fanout`; the fan-out function writes one delivery per
 * matching subscription and queues it on `webhook-delivery`; the dispatcher
 * signs and POSTs it, and retries by DelaySeconds. Subscription secrets are
 * sealed at rest under the key ring in `keys` (shared/webhooks/signing.ts).
 */
export class WebhookPipeline extends Construct {
  readonly fanoutQueue: { queue: Queue; deadLetters: Queue };
  readonly deliveryQueue: { queue: Queue; deadLetters: Queue };
  /** `{ "kid": "k1", "key": … }`: seals every subscription's signing secrets; add a key as `{ "keys": [old, new] }` to rotate. */
  readonly keys: Secret;
  readonly fanout: SwitchyardFunction;
  readonly dispatcher: SwitchyardFunction;
  /** What the API function that serves `/webhooks` needs in its environment (test pings and manual retries queue deliveries). */
  readonly apiEnvironment: Record<string, string>;

  constructor(scope: Construct, id: string, props: WebhookPipelineProps) {
    super(scope, id);
    const retrySeconds = props.retrySeconds ?? DEFAULT_RETRY_SECONDS;
    // Visibility is six times the consumer's timeout, as Lambda's SQS guidance asks, so a slow batch is not handed out twice.
    const fanoutTimeout = Duration.seconds(30);
    const dispatcherTimeout = Duration.seconds(30);
    this.fanoutQueue = queueWithDlq(this, 'Fanout', { visibilityTimeout: Duration.seconds(180), maxReceiveCount: 5 });
    this.deliveryQueue = queueWithDlq(this, 'Delivery', { visibilityTimeout: Duration.seconds(180), maxReceiveCount: 10 });

    this.keys = new Secret(this, 'Keys', {
      description: 'Switchyard webhook secret wrapping keys: seals subscription signing secrets at rest',
      generateSecretString: { secretStringTemplate: JSON.stringify({ kid: 'k1' }), generateStringKey: 'key', passwordLength: 64 },
    });

    new Rule(this, 'EveryEvent', {
      description: 'Every Switchyard event to the webhook fan-out',
      eventBus: props.bus,
      eventPattern: { source: Match.prefix('switchyard.') },
      targets: [new SqsQueue(this.fanoutQueue.queue, { deadLetterQueue: this.fanoutQueue.deadLetters })],
    });

    const common = {
      TABLE_NAME: props.table.tableName,
      WEBHOOK_KEYS_SECRET_ARN: this.keys.secretArn,
      WEBHOOK_DELIVERY_QUEUE_URL: this.deliveryQueue.queue.queueUrl,
      WEBHOOK_URL_POLICY: props.urlPolicy ?? 'deployed',
    };
    this.apiEnvironment = common;

    this.fanout = new SwitchyardFunction(this, 'FanoutFunction', {
      name: 'webhook-fanout',
      description: 'Writes one webhook delivery per matching subscription and queues it',
      serviceVersion: props.serviceVersion,
      timeout: fanoutTimeout,
      environment: common,
    });
    this.fanout.addEventSource(new SqsEventSource(this.fanoutQueue.queue, { batchSize: 10, reportBatchItemFailures: true }));

    this.dispatcher = new SwitchyardFunction(this, 'DispatcherFunction', {
      name: 'webhook-dispatcher',
      description: 'Signs and POSTs webhook deliveries; retries by SQS DelaySeconds',
      serviceVersion: props.serviceVersion,
      timeout: dispatcherTimeout,
      environment: { ...common, WEBHOOK_RETRY_SECONDS: retrySeconds.join(',') },
    });
    this.dispatcher.addEventSource(new SqsEventSource(this.deliveryQueue.queue, { batchSize: 10, reportBatchItemFailures: true }));

    for (const fn of [this.fanout, this.dispatcher]) {
      this.deliveryQueue.queue.grantSendMessages(fn);
      this.keys.grantRead(fn);
    }
    deadLetterAlarm(this, 'FanoutDlqAlarm', this.fanoutQueue.deadLetters, 'Events the webhook fan-out could not take, after 5 receives');
    deadLetterAlarm(this, 'DeliveryDlqAlarm', this.deliveryQueue.deadLetters, 'Delivery messages the dispatcher failed on 10 times');
    grantTableAccess(props.table, this.fanout, TABLE_ACCESS['webhook-fanout']);
    grantTableAccess(props.table, this.dispatcher, TABLE_ACCESS['webhook-dispatcher']);
  }

  /** The `/webhooks` API function: seals secrets on create/rotate, queues test pings and manual retries. */
  grantApi(fn: SwitchyardFunction): void {
    this.deliveryQueue.queue.grantSendMessages(fn);
    this.keys.grantRead(fn);
  }
}
