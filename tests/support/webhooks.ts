/** What the webhook e2e tests share: subscribing a local receiver, and waiting for what it receives. */
import { startWebhookReceiver, type ReceivedDelivery, type WebhookReceiver } from '../../bin/webhook-receiver.js';
import { generateWebhookSecret } from '../../shared/webhooks/signing.js';
import { call, type CallOptions } from './http.js';

export interface Subscribed {
  receiver: WebhookReceiver;
  subscriptionId: string;
  secret: string;
}

/**
 * A receiver verifying with `standardwebhooks`, subscribed to `eventTypes`;
 * the receiver starts with a throwaway secret and learns the real one from
 * the create answer (the URL has to exist before the subscription does).
 */
export async function subscribedReceiver(
  eventTypes: string[],
  options: { description?: string; call?: Pick<CallOptions, 'baseUrl'>; senderClock?: { now: number; timeScale: number } } = {},
): Promise<Subscribed> {
  const receiver = await startWebhookReceiver({
    secrets: [generateWebhookSecret()],
    log: () => undefined,
    ...(options.senderClock ? { senderClock: options.senderClock } : {}),
  });
  const created = await call('POST', '/api/v1/webhooks/subscriptions', {
    ...options.call,
    json: { url: receiver.url, eventTypes, description: options.description ?? 'e2e receiver' },
  });
  if (created.status !== 201) throw new Error(`subscribing failed: ${created.status} ${created.text}`);
  receiver.update({ secrets: [created.body.secret as string] });
  return { receiver, subscriptionId: created.body.id as string, secret: created.body.secret as string };
}

/** Polls until `probe` answers something (not undefined), or fails after `timeoutMs`. */
export async function eventually<T>(probe: () => T | undefined | Promise<T | undefined>, timeoutMs: number, what: string): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const value = await probe();
    if (value !== undefined) return value;
    if (Date.now() > deadline) throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}`);
    await new Promise((resolve) => setTimeout(resolve, 100));
  }
}

/** The receiver's deliveries whose CloudEvent data names `receiverId` (other suites ingest on the same stack). */
export function deliveriesAbout(receiver: WebhookReceiver, receiverId: string): ReceivedDelivery[] {
  return receiver.deliveries.filter((d) => {
    try {
      return (JSON.parse(d.body) as { data?: { receiverId?: string } }).data?.receiverId === receiverId;
    } catch {
      return false;
    }
  });
}
