/**
 * Signed webhooks under load, through the local runtime (`switchyard local`,
 * a child process, quiet) to receivers in this process that verify every
 * delivery with `standardwebhooks`. Prints figures, asserts nothing.
 *
 * 1. Latency: event accepted (the API's 201) → signed POST received, p50/p95/
 *    p99, one event at a time (closed loop: the path's latency, not a
 *    backlog's), beside the same events' arrival on the bus (a tap rule to a queue):
 *    the difference is the webhook pipeline's own share (rule → fan-out queue
 *    → fan-out → delivery queue → dispatcher → POST).
 * 2. Throughput: deliveries per second sustained to local receivers (one
 *    event to several subscriptions), against the ingest rate of the same
 *    run times the subscriptions: the reference says whether the pipeline
 *    keeps up with what the API takes in.
 * 3. Chaos: PutEvents failing half the time and the receivers answering 503
 *    for the first seconds; events, deliveries expected, delivered,
 *    duplicates (same subscription and event twice, always the same
 *    webhook-id), lost.
 *
 *   tsx bench/webhooks.ts [--latency 100] [--events 200] [--subscriptions 4] [--concurrency 8] [--chaos 40] [--down 5]
 */
import { EventBridgeClient } from '@aws-sdk/client-eventbridge';
import { SQSClient } from '@aws-sdk/client-sqs';
import { randomUUID } from 'node:crypto';
import { parseArgs } from 'node:util';
import { startWebhookReceiver, type WebhookReceiver } from '../bin/webhook-receiver.js';
import { LOCAL_CREDENTIALS } from '../local/aws/dynamodb/local-process.js';
import { generateWebhookSecret } from '../shared/webhooks/signing.js';
import { latencyRow, openBusTap, startBenchStack, throughput } from './support.js';

const { values } = parseArgs({
  options: {
    latency: { type: 'string', default: '100' },
    events: { type: 'string', default: '200' },
    subscriptions: { type: 'string', default: '4' },
    concurrency: { type: 'string', default: '8' },
    chaos: { type: 'string', default: '40' },
    down: { type: 'string', default: '5' },
    'chaos-deadline': { type: 'string', default: '240' },
  },
});
const latencyEvents = Number(values.latency);
const loadEvents = Number(values.events);
const subscriptionCount = Number(values.subscriptions);
const concurrency = Number(values.concurrency);
const chaosEvents = Number(values.chaos);
const downSeconds = Number(values.down);
const chaosDeadlineMs = Number(values['chaos-deadline']) * 1000;

const { runtime, api } = await startBenchStack();
const aws = { endpoint: runtime.awsEndpoint, region: 'us-east-1', credentials: LOCAL_CREDENTIALS };
const sqs = new SQSClient(aws);
const eventBridge = new EventBridgeClient(aws);
const receivers: WebhookReceiver[] = [];

/** A receiver verifying with standardwebhooks, subscribed to `event.created`. */
async function subscribedReceiver(): Promise<{ receiver: WebhookReceiver; subscriptionId: string }> {
  const receiver = await startWebhookReceiver({ secrets: [generateWebhookSecret()], log: () => undefined });
  const created = await api('POST', '/api/v1/webhooks/subscriptions', { url: receiver.url, eventTypes: ['event.created'] });
  if (created.status !== 201) throw new Error(`subscription not created: ${created.status} ${JSON.stringify(created.body)}`);
  receiver.update({ secrets: [created.body.secret as string] });
  receivers.push(receiver);
  return { receiver, subscriptionId: created.body.id as string };
}

/** Release event id → the first verified 2xx arrival (Date ms) at a receiver, for the events of one release receiver. */
function firstArrivals(receiver: WebhookReceiver, releaseReceiverId: string): Map<string, number> {
  const first = new Map<string, number>();
  for (const d of receiver.deliveries) {
    if (!d.verified || d.status >= 300) continue;
    const data = (JSON.parse(d.body) as { data?: { id?: string; receiverId?: string } }).data;
    if (data?.receiverId !== releaseReceiverId || !data.id || first.has(data.id)) continue;
    first.set(data.id, d.receivedAt.getTime());
  }
  return first;
}

/** How the deliveries of these subscriptions ended, from the deliveries API: `STATUS×attempts` → count. */
async function deliveryStates(subscriptionIds: readonly string[]): Promise<Record<string, number>> {
  const states: Record<string, number> = {};
  for (const subscriptionId of subscriptionIds) {
    let cursor: string | undefined;
    do {
      const page = await api(
        'GET',
        `/api/v1/webhooks/deliveries?subscriptionId=${subscriptionId}&limit=100${cursor ? `&cursor=${encodeURIComponent(cursor)}` : ''}`,
      );
      for (const d of page.body.items as Array<{ status: string; totalAttempts: number }>) {
        const key = `${d.status}×${d.totalAttempts}`;
        states[key] = (states[key] ?? 0) + 1;
      }
      cursor = page.body.nextCursor as string | undefined;
    } while (cursor);
  }
  return states;
}

async function waitUntil(done: () => boolean, deadlineMs: number): Promise<boolean> {
  const deadline = Date.now() + deadlineMs;
  while (!done() && Date.now() < deadline) await new Promise((r) => setTimeout(r, 50));
  return done();
}

let closeTap = async () => undefined as void;
try {
  const newReleaseReceiver = async () => {
    const created = await api('POST', '/api/v1/receivers', {
      name: `bench-${randomUUID().slice(0, 8)}`,
      type: 'ci',
      version: '1.0.0',
      schema: { type: 'object' },
    });
    if (created.status !== 201) throw new Error(`receiver not created: ${created.status}`);
    return created.body.id as string;
  };
  /** One POST /api/v1/events; answers the event id and when (Date ms and performance.now) the 201 came back. */
  const ingest = async (releaseReceiverId: string, n: number) => {
    const created = await api('POST', '/api/v1/events', {
      receiverId: releaseReceiverId,
      name: 'api-server',
      version: '2.3.0',
      release: '2.3',
      platformId: 'linux-arm64',
      package: `bench-${n}`,
      description: 'release build',
      payload: { commit: 'abc1234' },
      success: true,
      eventStart: '2026-11-20T10:00:00Z',
      eventEnd: '2026-11-20T10:05:00Z',
    });
    if (created.status !== 201) throw new Error(`event not created: ${created.status} ${JSON.stringify(created.body)}`);
    return { id: created.body.id as string, wall: Date.now(), mono: performance.now() };
  };

  // ---- 1: latency, beside the bus -------------------------------------------------------------------
  const latencyReceiver = await newReleaseReceiver();
  const tap = await openBusTap(sqs, eventBridge, latencyReceiver);
  closeTap = () => tap.close();
  const single = await subscribedReceiver();
  // Warm-up: environments of every function on the path started.
  for (let n = 0; n < 5; n++) await ingest(latencyReceiver, n);
  await waitUntil(() => firstArrivals(single.receiver, latencyReceiver).size >= 5, 60_000);

  // One at a time: the next event is sent once this one has arrived (or 10 s passed), so this is the path's own latency, not a queue's.
  const sent: Array<{ id: string; wall: number; mono: number }> = [];
  for (let n = 0; n < latencyEvents; n++) {
    const one = await ingest(latencyReceiver, 1000 + n);
    sent.push(one);
    await waitUntil(() => firstArrivals(single.receiver, latencyReceiver).has(one.id), 10_000);
  }
  await tap.awaitArrival(
    sent.map((s) => s.id),
    10_000,
  );
  const posted = firstArrivals(single.receiver, latencyReceiver);
  const onBus = new Map<string, number>();
  for (const a of tap.arrivals) if (!onBus.has(a.eventId)) onBus.set(a.eventId, a.at);
  console.log(`\n## 1. Latency: event accepted (201) → arrival (${latencyEvents} events, each sent once the previous one arrived)`);
  console.table({
    'on the bus (tap queue), ms': latencyRow(sent.flatMap((s) => (onBus.has(s.id) ? [onBus.get(s.id)! - s.mono] : []))),
    'signed POST received, ms': latencyRow(sent.flatMap((s) => (posted.has(s.id) ? [posted.get(s.id)! - s.wall] : []))),
  });
  console.log("  The bus figure includes the tap queue's long-poll return; the POST figure is read by the receiver itself.");

  // ---- 2: throughput ---------------------------------------------------------------------------------
  const loadReceiver = await newReleaseReceiver();
  const fleet = [single, ...(await Promise.all(Array.from({ length: subscriptionCount - 1 }, subscribedReceiver)))];
  const started = performance.now();
  const ingestRate = await throughput(loadEvents, concurrency, (n) => ingest(loadReceiver, 10_000 + n));
  const expected = loadEvents * fleet.length;
  const delivered = () => fleet.reduce((sum, s) => sum + firstArrivals(s.receiver, loadReceiver).size, 0);
  await waitUntil(() => delivered() >= expected, 300_000);
  const lastArrival = Math.max(...fleet.flatMap((s) => [...firstArrivals(s.receiver, loadReceiver).values()]));
  const elapsedS = (lastArrival - (Date.now() - (performance.now() - started))) / 1000;
  const deliveryRate = delivered() / elapsedS;
  console.log(
    `\n## 2. Throughput: ${loadEvents} events × ${fleet.length} subscriptions (${concurrency} concurrent POSTs), each on its own receiver`,
  );
  console.table({
    'POST /api/v1/events (201)': { 'per s': ingestRate.toFixed(1) },
    'deliveries needed to keep up (ingest × subscriptions)': { 'per s': (ingestRate * fleet.length).toFixed(1) },
    'signed deliveries received': {
      'per s': deliveryRate.toFixed(1),
      'vs needed': (deliveryRate / (ingestRate * fleet.length)).toFixed(2),
    },
  });
  console.log(`  ${delivered()} of ${expected} delivered, the last ${elapsedS.toFixed(1)} s after the first POST.`);
  console.log('  deliveries by status and attempts:', await deliveryStates(fleet.map((s) => s.subscriptionId)));

  // ---- 3: chaos ----------------------------------------------------------------------------------------
  const chaosReceiver = await newReleaseReceiver();
  const pair = fleet.slice(0, 2);
  for (const { receiver } of pair) receiver.update({ status: 503, failRate: 1 });
  const put = await fetch(`${runtime.awsEndpoint}/_switchyard/chaos`, {
    method: 'PUT',
    body: JSON.stringify({ seed: 42, rules: [{ service: 'events', operation: 'PutEvents', probability: 0.5, error: 'InternalFailure' }] }),
  });
  if (put.status !== 200) throw new Error(`chaos not set: ${put.status}`);
  const chaosStarted = performance.now();
  const chaosSent: string[] = [];
  const heal = setTimeout(() => {
    for (const { receiver } of pair) receiver.update({ failRate: 0 });
  }, downSeconds * 1000);
  for (let n = 0; n < chaosEvents; n++) chaosSent.push((await ingest(chaosReceiver, 20_000 + n)).id);
  const chaosExpected = chaosEvents * pair.length;
  const chaosDelivered = () => pair.reduce((sum, s) => sum + firstArrivals(s.receiver, chaosReceiver).size, 0);
  await waitUntil(() => chaosDelivered() >= chaosExpected, chaosDeadlineMs);
  clearTimeout(heal);
  await new Promise((r) => setTimeout(r, 3000)); // a late duplicate would show up here
  const status = (await (await fetch(`${runtime.awsEndpoint}/_switchyard/chaos`)).json()) as {
    rules: Array<{ service: string; operation: string; calls: number; faults: number }>;
  };
  await fetch(`${runtime.awsEndpoint}/_switchyard/chaos`, { method: 'DELETE' });
  let duplicates = 0;
  let sameWebhookId = true;
  let played = 0;
  for (const { receiver } of pair) {
    const ok = receiver.deliveries.filter((d) => d.verified && d.status < 300 && chaosSent.includes(JSON.parse(d.body).data?.id));
    const perEvent = new Map<string, Set<string>>();
    const counts = new Map<string, number>();
    for (const d of ok) {
      const eventId = JSON.parse(d.body).data.id as string;
      perEvent.set(eventId, (perEvent.get(eventId) ?? new Set()).add(d.id));
      counts.set(eventId, (counts.get(eventId) ?? 0) + 1);
    }
    duplicates += [...counts.values()].filter((n) => n > 1).length;
    sameWebhookId &&= [...perEvent.values()].every((ids) => ids.size === 1);
    played += receiver.deliveries.filter((d) => d.status === 503 && chaosSent.includes(JSON.parse(d.body).data?.id)).length;
  }
  const allIn = Math.max(...pair.flatMap((s) => [...firstArrivals(s.receiver, chaosReceiver).values()]));
  console.log(
    `\n## 3. Chaos: PutEvents fails with p = 0.5 (seed 42); ${pair.length} receivers answer 503 for the first ${downSeconds} s; ${chaosEvents} events, sequential`,
  );
  console.table({
    webhooks: {
      events: chaosEvents,
      'deliveries expected': chaosExpected,
      delivered: chaosDelivered(),
      duplicates,
      lost: chaosExpected - chaosDelivered(),
      'duplicates share webhook-id': sameWebhookId ? 'yes' : 'NO',
      '503s answered': played,
      'all in after (s)': ((allIn - (Date.now() - (performance.now() - chaosStarted))) / 1000).toFixed(1),
    },
  });
  console.table(
    Object.fromEntries(status.rules.map((r) => [`${r.service}:${r.operation}`, { calls: r.calls, 'faults injected': r.faults }])),
  );
} finally {
  await closeTap();
  await Promise.all(receivers.map((r) => r.close()));
  for (const client of [sqs, eventBridge]) client.destroy();
  await runtime.stop();
}
