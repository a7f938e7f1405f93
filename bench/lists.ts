/**
 * The write-sharded event list (issue 7): write throughput and page cost with
 * 1 shard (the old single `EVENTS` partition) and 8, in one run against one
 * DynamoDB Local, beside DynamoDB Local's own TransactWriteItems ceiling.
 * Prints figures, asserts nothing.
 *
 * DynamoDB Local does not throttle a hot partition (AWS caps one at about
 * 1 000 writes/s), so locally the two layouts should write alike: this shows
 * sharding costs nothing on the write path, and what it costs on reads (one
 * Query per shard per page).
 */
import { DynamoDBClient } from '@aws-sdk/client-dynamodb';
import { DynamoDBDocumentClient, TransactWriteCommand } from '@aws-sdk/lib-dynamodb';
import { randomUUID } from 'node:crypto';
import { parseArgs } from 'node:util';
import { LOCAL_CREDENTIALS, startDynamoDbLocal } from '../local/aws/dynamodb/local-process.js';
import { ensureTable } from '../local/providers/dynamodb-table.js';
import { BENCH_AUDIT, dataTableInput, median, throughput } from './support.js';
import { ReceiverService } from '../shared/domain/receivers.js';
import { systemClock, uuidIds } from '../shared/store/index.js';
import { keys } from '../shared/store/keys.js';
import { DynamoReleaseStore } from '../shared/store/release-store.js';

const { values } = parseArgs({
  options: {
    events: { type: 'string', default: '1600' },
    concurrency: { type: 'string', default: '16' },
    rounds: { type: 'string', default: '4' },
  },
});
const perLayout = Number(values.events);
const concurrency = Number(values.concurrency);
const rounds = Number(values.rounds);
process.env.AWS_SDK_JS_NODE_VERSION_SUPPORT_WARNING_DISABLED ??= 'true';
const dynamo = await startDynamoDbLocal();
try {
  const table = dataTableInput();
  let queries = 0;
  const raw = new DynamoDBClient({ endpoint: dynamo.endpoint, region: 'us-east-1', credentials: LOCAL_CREDENTIALS });
  raw.middlewareStack.add(
    (next, context) => (args) => {
      if (context.commandName === 'QueryCommand') queries++;
      return next(args);
    },
    { step: 'initialize' },
  );
  const client = DynamoDBDocumentClient.from(raw, { marshallOptions: { removeUndefinedValues: true } });

  const layouts = await Promise.all(
    [1, 8].map(async (shards) => {
      const tableName = `bench-${shards}-shards`;
      await ensureTable(dynamo.client, { ...table.input, TableName: tableName }, table.ttlAttribute);
      const store = new DynamoReleaseStore(client, tableName, { audit: BENCH_AUDIT, listShards: shards });
      const receiver = await new ReceiverService(store, systemClock, uuidIds).create({
        name: `r${shards}`,
        type: 'ci',
        version: '1.0.0',
        schema: { type: 'object' },
      });
      return { shards, tableName, store, receiver, rates: [] as number[] };
    }),
  );
  await ensureTable(dynamo.client, { ...table.input, TableName: 'bench-ceiling' }, table.ttlAttribute);
  const ceilingReceiver = await new ReceiverService(
    new DynamoReleaseStore(client, 'bench-ceiling', { audit: BENCH_AUDIT }),
    systemClock,
    uuidIds,
  ).create({
    name: 'ceiling',
    type: 'ci',
    version: '1.0.0',
    schema: { type: 'object' },
  });
  const ceiling: number[] = [];

  const event = (receiverId: string, n: number) => {
    const at = new Date(Date.UTC(2026, 10, 1) + n * 1000).toISOString();
    return {
      id: randomUUID(),
      receiverId,
      name: 'api',
      version: '1.0.0',
      release: '1.0',
      platformId: 'linux',
      package: 'api',
      description: '',
      payload: {},
      success: n % 2 === 0,
      eventStart: at,
      eventEnd: at,
      createdAt: at,
    };
  };
  // Interleaved rounds, so drift on this shared machine hits every layout alike.
  const perRound = Math.ceil(perLayout / rounds);
  for (let round = 0; round < rounds; round++) {
    for (const layout of layouts) {
      layout.rates.push(
        await throughput(perRound, concurrency, (n) => layout.store.createEvent(event(layout.receiver.id, round * perRound + n), 1)),
      );
    }
    // The ceiling: the transaction createEvent sends (event, receiver check, audit record; same keys and indexes), sent raw.
    const receiverKey = keys.receiver(ceilingReceiver.id);
    ceiling.push(
      await throughput(perRound, concurrency, (n) => {
        const id = randomUUID();
        const at = `${event(ceilingReceiver.id, round * perRound + n).eventStart}#${id}`;
        return client.send(
          new TransactWriteCommand({
            TransactItems: [
              {
                Put: {
                  TableName: 'bench-ceiling',
                  Item: {
                    ...keys.event(id),
                    gsi1pk: keys.eventsOfReceiver(ceilingReceiver.id),
                    gsi1sk: at,
                    gsi2pk: keys.eventsShard(id, 8),
                    gsi2sk: at,
                    data: { id },
                  },
                  ConditionExpression: 'attribute_not_exists(pk)',
                },
              },
              {
                ConditionCheck: {
                  TableName: 'bench-ceiling',
                  Key: receiverKey,
                  ConditionExpression: 'version = :v',
                  ExpressionAttributeValues: { ':v': 1 },
                },
              },
              {
                Put: {
                  TableName: 'bench-ceiling',
                  Item: {
                    ...keys.audit(id),
                    gsi1pk: keys.auditOfActor('bench'),
                    gsi1sk: at,
                    gsi2pk: keys.auditShard(id, 8),
                    gsi2sk: at,
                    data: BENCH_AUDIT,
                  },
                  ConditionExpression: 'attribute_not_exists(pk)',
                },
              },
            ],
          }),
        );
      }),
    );
  }

  const rows: Record<string, Record<string, string | number>> = {};
  const ceilingRate = median(ceiling);
  rows['DynamoDB Local TransactWriteItems ceiling'] = { 'writes/s': ceilingRate.toFixed(0), 'vs ceiling': '1.00' };
  for (const layout of layouts) {
    const rate = median(layout.rates);
    rows[`createEvent, ${layout.shards} shard${layout.shards > 1 ? 's' : ''}`] = {
      'writes/s': rate.toFixed(0),
      'vs ceiling': (rate / ceilingRate).toFixed(2),
    };
  }
  console.log(`\nEvent-list writes (${perLayout} events per layout, ${concurrency} concurrent, median of ${rounds} interleaved rounds):`);
  console.table(rows);

  const pages: Record<string, Record<string, string | number>> = {};
  for (const layout of layouts) {
    for (const filtered of [false, true]) {
      const times: number[] = [];
      queries = 0;
      let pageCount = 0;
      for (let i = 0; i < 5; i++) {
        let cursor: string | undefined;
        for (let p = 0; p < 10; p++) {
          const started = performance.now();
          const page = await layout.store.listEvents({ limit: 50, ...(filtered ? { success: true } : {}), ...(cursor ? { cursor } : {}) });
          times.push(performance.now() - started);
          pageCount++;
          cursor = page.nextCursor;
          if (!cursor) break;
        }
      }
      pages[`${layout.shards} shard${layout.shards > 1 ? 's' : ''}${filtered ? ', success=true' : ''}`] = {
        'ms/page (median)': median(times).toFixed(1),
        'Queries/page': (queries / pageCount).toFixed(1),
      };
    }
  }
  console.log('\nEvent-list pages of 50, newest first:');
  console.table(pages);
} finally {
  await dynamo.stop();
}
