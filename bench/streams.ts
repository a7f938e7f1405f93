/**
 * What a DynamoDB Streams event source mapping costs; prints figures, asserts nothing.
 *
 * 1. Idle: CPU of this process and of DynamoDB Local's JVM over a quiet
 *    interval, without a poller and with one (the poll back-off at its 1 s ceiling).
 * 2. Latency from PutItem returning to the function being invoked, for writes
 *    spaced 0–2 s apart (so some land while the poller is at its idle pace).
 *
 *   npx tsx bench/streams.ts [--idle-seconds 10] [--writes 30] [--max-poll-ms 1000]
 */
import { execFileSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import { CreateTableCommand, PutItemCommand } from '@aws-sdk/client-dynamodb';
import { startDynamoDbLocal } from '../local/aws/dynamodb/local-process.js';
import { Clock } from '../local/clock.js';
import { Dispatcher } from '../local/dispatch.js';
import { StreamsPoller } from '../local/esm/streams.js';
import { LambdaService } from '../local/lambda/service.js';

const { values } = parseArgs({
  options: {
    'idle-seconds': { type: 'string', default: '10' },
    writes: { type: 'string', default: '30' },
    'max-poll-ms': { type: 'string', default: '1000' },
  },
});
const idleSeconds = Number(values['idle-seconds']);
const writes = Number(values.writes);

/** CPU seconds (user + system) a process has used, from /proc (Linux). */
function processCpuSeconds(pid: number): number {
  const fields = readFileSync(`/proc/${pid}/stat`, 'utf8').split(') ')[1]?.split(' ') ?? [];
  const ticks = Number(fields[11]) + Number(fields[12]);
  return ticks / Number(execFileSync('getconf', ['CLK_TCK']).toString().trim());
}

const jvmPid = () =>
  Number(
    execFileSync('pgrep', ['-P', String(process.pid), 'java'])
      .toString()
      .trim()
      .split('\n')[0],
  );

async function cpuOver(seconds: number): Promise<{ node: number; jvm: number }> {
  const pid = jvmPid();
  const jvmBefore = processCpuSeconds(pid);
  const nodeBefore = process.cpuUsage();
  await new Promise((resolve) => setTimeout(resolve, seconds * 1000));
  const node = process.cpuUsage(nodeBefore);
  return { node: (node.user + node.system) / 1e6 / seconds, jvm: (processCpuSeconds(pid) - jvmBefore) / seconds };
}

const percent = (share: number) => `${(share * 100).toFixed(2)} %`;

const dynamodb = await startDynamoDbLocal();
const lambda = new LambdaService(
  [
    {
      logicalId: 'Trivial',
      functionName: 'trivial',
      assetDir: fileURLToPath(new URL('../tests/fixtures/lambda/trivial', import.meta.url)),
      handler: 'index.handler',
      runtime: 'nodejs22.x',
      timeoutSeconds: 5,
      memorySizeMb: 128,
      environment: {},
    },
  ],
  { baseEnvironment: { AWS_REGION: 'us-east-1' } },
);
const created = await dynamodb.client.send(
  new CreateTableCommand({
    TableName: 'bench-streams',
    KeySchema: [{ AttributeName: 'pk', KeyType: 'HASH' }],
    AttributeDefinitions: [{ AttributeName: 'pk', AttributeType: 'S' }],
    BillingMode: 'PAY_PER_REQUEST',
    StreamSpecification: { StreamEnabled: true, StreamViewType: 'NEW_AND_OLD_IMAGES' },
  }),
);
await lambda.invoke('trivial', { Records: [] }); // warm

const baseline = await cpuOver(idleSeconds);
console.log(`idle without a poller: node ${percent(baseline.node)}, DynamoDB Local ${percent(baseline.jvm)} of a core`);

const invokedAt = new Map<string, number>();
const recording = {
  async invoke(name: string, event: unknown) {
    for (const record of (event as { Records: Array<{ dynamodb: { Keys: { pk: { S: string } } } }> }).Records) {
      invokedAt.set(record.dynamodb.Keys.pk.S, performance.now());
    }
    return lambda.invoke(name, event);
  },
};
const poller = new StreamsPoller(
  {
    uuid: 'bench',
    functionName: 'trivial',
    functionArn: lambda.functionArn('trivial'),
    eventSourceArn: created.TableDescription?.LatestStreamArn as string,
    enabled: true,
    batchSize: 100,
    maximumBatchingWindowInSeconds: 0,
    filterPatterns: [],
    reportBatchItemFailures: false,
    startingPosition: 'LATEST',
  },
  {
    lambda: recording as unknown as LambdaService,
    dispatcher: new Dispatcher(),
    clock: new Clock(),
    env: { stackName: 'Bench', region: 'us-east-1', accountId: '000000000000' },
    warn: console.warn,
    log: () => undefined,
  },
  dynamodb,
  { maxPollIntervalMs: Number(values['max-poll-ms']) },
);
poller.start();
await poller.reading();
await new Promise((resolve) => setTimeout(resolve, 3000)); // let the back-off reach its ceiling
const polling = await cpuOver(idleSeconds);
console.log(
  `idle with a poller (idle pace ${values['max-poll-ms']} ms): node ${percent(polling.node)}, DynamoDB Local ${percent(polling.jvm)} of a core`,
);

const latencies: number[] = [];
for (let i = 0; i < writes; i++) {
  await new Promise((resolve) => setTimeout(resolve, Math.random() * 2000));
  const key = `item-${i}`;
  await dynamodb.client.send(new PutItemCommand({ TableName: 'bench-streams', Item: { pk: { S: key } } }));
  const written = performance.now();
  while (!invokedAt.has(key)) await new Promise((resolve) => setTimeout(resolve, 1));
  latencies.push((invokedAt.get(key) as number) - written);
}
latencies.sort((a, b) => a - b);
const at = (q: number) => latencies[Math.min(latencies.length - 1, Math.floor(q * latencies.length))]?.toFixed(0);
console.log(`write → invoke over ${writes} writes 0–2 s apart: p50 ${at(0.5)} ms, p95 ${at(0.95)} ms, max ${at(1)} ms`);

await poller.stop();
await lambda.stop();
await dynamodb.stop();
