/**
 * The webhook pipeline's AWS side, shared by the functions that need it (the
 * API's test ping and manual retry, the fan-out, the dispatcher): the
 * `webhook-delivery` queue, the wrapping key ring that seals subscription
 * secrets at rest, and the SSRF policy the stack chose.
 */
import { SendMessageBatchCommand, SQSClient } from '@aws-sdk/client-sqs';
import { randomBytes } from 'node:crypto';
import type { DeliveryMessage, DeliveryQueue, WebhookUrlChecker } from '../domain/webhooks.js';
import { SDK_TIMEOUTS } from '../sdk-timeouts.js';
import { tracer } from '../telemetry.js';
import { parseWrappingKeyRing, type WrappingKeyRing } from './signing.js';
import { checkWebhookUrl, DEPLOYED_WEBHOOK_POLICY, LOCAL_WEBHOOK_POLICY, type WebhookUrlPolicy } from './ssrf.js';

/** SendMessageBatch's limit. */
const SQS_BATCH = 10;

let sqsClient: SQSClient | undefined;
const sqs = () => (sqsClient ??= tracer.captureAWSv3Client(new SQSClient({ requestHandler: SDK_TIMEOUTS })));

/** `webhook-delivery` through SQS; a message's delay is its DelaySeconds (at most 900). */
export class SqsDeliveryQueue implements DeliveryQueue {
  constructor(private readonly queueUrl: string) {}

  async send(messages: ReadonlyArray<{ deliveryId: string; delaySeconds: number }>): Promise<void> {
    for (let start = 0; start < messages.length; start += SQS_BATCH) {
      const batch = messages.slice(start, start + SQS_BATCH);
      const out = await sqs().send(
        new SendMessageBatchCommand({
          QueueUrl: this.queueUrl,
          Entries: batch.map((message, index) => ({
            Id: String(index),
            MessageBody: JSON.stringify({ deliveryId: message.deliveryId } satisfies DeliveryMessage),
            DelaySeconds: Math.max(0, Math.min(900, Math.ceil(message.delaySeconds))),
          })),
        }),
      );
      // A delivery whose message was not queued would wait for nothing: fail, so the caller's own retry sends it again.
      if (out.Failed && out.Failed.length > 0) {
        const ids = out.Failed.map((f) => batch[Number(f.Id)]?.deliveryId).join(', ');
        throw new Error(`webhook-delivery refused ${out.Failed.length} message(s) (${out.Failed[0]?.Code ?? 'unknown'}): ${ids}`);
      }
    }
  }
}

export function deliveryQueueFromEnv(env: NodeJS.ProcessEnv = process.env): DeliveryQueue {
  const url = env.WEBHOOK_DELIVERY_QUEUE_URL;
  if (!url) throw new Error('WEBHOOK_DELIVERY_QUEUE_URL is not set: the stack sets it on the functions that queue deliveries');
  return new SqsDeliveryQueue(url);
}

/**
 * The SSRF policy: `WEBHOOK_URL_POLICY=local` (the local runtime sets it
 * through `-c switchyard:webhookUrlPolicy=local`) allows http and loopback;
 * anything else is the deployed policy.
 */
export function webhookUrlPolicyFromEnv(env: NodeJS.ProcessEnv = process.env): WebhookUrlPolicy {
  return env.WEBHOOK_URL_POLICY === 'local' ? LOCAL_WEBHOOK_POLICY : DEPLOYED_WEBHOOK_POLICY;
}

/** The guard at creation and URL change; a refusal is WebhookUrlRefusedError (422, naming the rule). */
export function webhookUrlChecker(policy: WebhookUrlPolicy = webhookUrlPolicyFromEnv()): WebhookUrlChecker {
  return { check: async (url) => void (await checkWebhookUrl(url, policy)) };
}

/**
 * The wrapping key ring of this execution environment: the secret named by
 * WEBHOOK_KEYS_SECRET_ARN, read through Powertools (cached 5 minutes, so an
 * added key reaches every function soon). Without it (unit and integration
 * tests) one random key per process: secrets then open in that process only.
 */
export function wrappingKeyRingFromEnv(env: NodeJS.ProcessEnv = process.env): () => Promise<WrappingKeyRing> {
  let ring: Promise<WrappingKeyRing> | undefined;
  return () => {
    ring ??= (async () => {
      const secretId = env.WEBHOOK_KEYS_SECRET_ARN;
      if (!secretId) return { keys: [{ kid: 'process', key: randomBytes(32).toString('base64') }] };
      const { getSecret } = await import('@aws-lambda-powertools/parameters/secrets');
      return parseWrappingKeyRing(await getSecret(secretId, { maxAge: 300, transform: 'json' }));
    })();
    ring.catch(() => (ring = undefined));
    return ring;
  };
}
