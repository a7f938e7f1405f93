/** What the benchmarks share: a concurrency-limited load loop, order statistics, the stack's own table definition, and a tap on the bus. */
import type { EventBridgeClient } from '@aws-sdk/client-eventbridge';
import { DeleteRuleCommand, PutRuleCommand, PutTargetsCommand, RemoveTargetsCommand } from '@aws-sdk/client-eventbridge';
import type { SQSClient } from '@aws-sdk/client-sqs';
import {
  CreateQueueCommand,
  DeleteMessageBatchCommand,
  DeleteQueueCommand,
  GetQueueAttributesCommand,
  ReceiveMessageCommand,
} from '@aws-sdk/client-sqs';
import { App, Stack } from 'aws-cdk-lib';
import { randomUUID } from 'node:crypto';
import { startRuntimeProcess, type RuntimeProcess } from '../tests/support/runtime-process.js';
import { Template } from 'aws-cdk-lib/assertions';
import { DataTable } from '../lib/data.js';
import { standaloneTableInputs } from '../local/providers/dynamodb-table.js';
import type { CfnTemplate } from '../local/types.js';

/** The audit context of a bench's own writes: stores refuse a change without one. */
export const BENCH_AUDIT = {
  actor: { id: 'bench', kind: 'system', name: 'bench' },
  action: 'bench',
  method: 'BENCH',
  path: '/bench',
  requestId: 'bench',
  sourceIp: '127.0.0.1',
};

/** Runs `count` calls of `task`, `concurrency` at a time; answers calls per second. */
export async function throughput(count: number, concurrency: number, task: (n: number) => Promise<unknown>): Promise<number> {
  let next = 0;
  const started = performance.now();
  await Promise.all(
    Array.from({ length: concurrency }, async () => {
      while (next < count) await task(next++);
    }),
  );
  return count / ((performance.now() - started) / 1000);
}

export const median = (xs: readonly number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)] as number;
/** The q-quantile of an ascending list. */
export const quantile = (sorted: readonly number[], q: number) =>
  sorted[Math.min(sorted.length - 1, Math.floor(sorted.length * q))] as number;

/** The CreateTable input of the stack's DataTable construct (not a copy of its key schema), and its TTL attribute. */
export function dataTableInput() {
  const stack = new Stack(new App(), 'Bench');
  new DataTable(stack, 'Data');
  const [table] = standaloneTableInputs(Template.fromStack(stack).toJSON() as CfnTemplate, {
    stackName: 'Bench',
    region: 'us-east-1',
    accountId: '000000000000',
  });
  if (!table) throw new Error('DataTable synthesized no table');
  return table;
}

/** One `event.created` seen on a bus tap: its CloudEvent id, the release event's id, and when (performance.now()). */
export interface TapArrival {
  cloudEventId: string;
  eventId: string;
  at: number;
}

export interface BusTap {
  /** Every arrival so far, in order; duplicates kept. */
  arrivals: TapArrival[];
  /** Waits until every id arrived (or the deadline); answers the ids still missing. */
  awaitArrival(ids: readonly string[], deadlineMs: number): Promise<string[]>;
  close(): Promise<void>;
}

/**
 * The `event.created` events of one release receiver, read off the bus as an
 * operator would: a rule on `switchyard` to a queue of the bench's own, long
 * polled in the background. The rule and queue are removed on close.
 */
export async function openBusTap(sqs: SQSClient, eventBridge: EventBridgeClient, receiverId: string): Promise<BusTap> {
  const name = `bench-tap-${randomUUID().slice(0, 8)}`;
  const url = (await sqs.send(new CreateQueueCommand({ QueueName: name }))).QueueUrl as string;
  const arn = (await sqs.send(new GetQueueAttributesCommand({ QueueUrl: url, AttributeNames: ['QueueArn'] }))).Attributes?.QueueArn;
  await eventBridge.send(
    new PutRuleCommand({
      Name: name,
      EventBusName: 'switchyard',
      EventPattern: JSON.stringify({
        source: ['switchyard.events'],
        'detail-type': ['event.created'],
        detail: { data: { receiverId: [receiverId] } },
      }),
    }),
  );
  await eventBridge.send(new PutTargetsCommand({ Rule: name, EventBusName: 'switchyard', Targets: [{ Id: 'queue', Arn: arn }] }));
  const arrivals: TapArrival[] = [];
  let tapping = true;
  const loop = (async () => {
    while (tapping) {
      const { Messages = [] } = await sqs.send(new ReceiveMessageCommand({ QueueUrl: url, MaxNumberOfMessages: 10, WaitTimeSeconds: 1 }));
      const at = performance.now();
      for (const message of Messages) {
        const detail = (JSON.parse(message.Body as string) as { detail: { id: string; data: { id: string } } }).detail;
        arrivals.push({ cloudEventId: detail.id, eventId: detail.data.id, at });
      }
      if (Messages.length > 0) {
        await sqs.send(
          new DeleteMessageBatchCommand({
            QueueUrl: url,
            Entries: Messages.map((m, i) => ({ Id: String(i), ReceiptHandle: m.ReceiptHandle as string })),
          }),
        );
      }
    }
  })();
  return {
    arrivals,
    async awaitArrival(ids, deadlineMs) {
      const deadline = Date.now() + deadlineMs;
      const missing = () => {
        const seen = new Set(arrivals.map((a) => a.eventId));
        return ids.filter((id) => !seen.has(id));
      };
      while (missing().length > 0 && Date.now() < deadline) await new Promise((r) => setTimeout(r, 100));
      return missing();
    },
    async close() {
      tapping = false;
      await loop.catch(() => undefined);
      await eventBridge.send(new RemoveTargetsCommand({ Rule: name, EventBusName: 'switchyard', Ids: ['queue'] })).catch(() => undefined);
      await eventBridge.send(new DeleteRuleCommand({ Name: name, EventBusName: 'switchyard' })).catch(() => undefined);
      await sqs.send(new DeleteQueueCommand({ QueueUrl: url })).catch(() => undefined);
    },
  };
}

/** p50/p95/p99/max of a list of milliseconds, for console.table. */
export function latencyRow(values: readonly number[]): Record<string, string> {
  const sorted = [...values].sort((a, b) => a - b);
  const at = (q: number) => (sorted.length ? quantile(sorted, q).toFixed(0) : '-');
  return { n: String(sorted.length), p50: at(0.5), p95: at(0.95), p99: at(0.99), max: sorted.length ? sorted.at(-1)!.toFixed(0) : '-' };
}

/** An answer of the bench stack's API: status and parsed JSON body. */
export interface BenchReply {
  status: number;
  body: { id?: string } & Record<string, unknown>;
}

/**
 * The stack a bench drives: `switchyard local` in memory with a known admin
 * key and a 1-second rate-limit window (the admin limit, 1 000 per window,
 * out of the way: benches measure the write path, not the limiter), and a
 * JSON client for its API as that admin. `context` adds CDK context (e.g.
 * `switchyard:rolloutPollSeconds`).
 */
export async function startBenchStack(context: Record<string, string> = {}): Promise<{
  runtime: RuntimeProcess;
  api: (method: string, path: string, body?: unknown) => Promise<BenchReply>;
}> {
  const adminKey = 'sy_bench_admin_key_0123456789abcdef';
  process.env.AWS_SDK_JS_NODE_VERSION_SUPPORT_WARNING_DISABLED ??= 'true';
  const runtime = await startRuntimeProcess({
    env: { SWITCHYARD_ADMIN_API_KEY: adminKey },
    context: { 'switchyard:rateLimitWindowSeconds': '1', ...context },
    timeoutMs: 300_000,
  });
  const api = async (method: string, path: string, body?: unknown): Promise<BenchReply> => {
    const res = await fetch(`${runtime.url}${path}`, {
      method,
      headers: { 'X-API-Key': adminKey, ...(body ? { 'Content-Type': 'application/json' } : {}) },
      ...(body ? { body: JSON.stringify(body) } : {}),
    });
    const text = await res.text();
    return { status: res.status, body: text ? (JSON.parse(text) as BenchReply['body']) : {} };
  };
  return { runtime, api };
}
