/** A GSI added to the stack later reaches a table that already exists (a local data folder), through the provider's ensureTable. */
import type { DynamoDBClient } from '@aws-sdk/client-dynamodb';
import { DescribeTableCommand, type CreateTableCommandInput } from '@aws-sdk/client-dynamodb';
import { randomUUID } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startDynamoDbLocal, type DynamoDbLocal } from '../../local/aws/dynamodb/local-process.js';
import { ensureTable } from '../../local/providers/dynamodb-table.js';

// Its own DynamoDB Local: in the shared one, a new index can stay CREATING for over a minute
// while the other suites (the fuzz above all) keep it busy; alone it is ACTIVE in about a second.
let dynamoLocal: DynamoDbLocal;
beforeAll(async () => {
  dynamoLocal = await startDynamoDbLocal();
}, 120_000);
afterAll(async () => {
  await dynamoLocal.stop();
});
const client = (): DynamoDBClient => dynamoLocal.client;

const gsi = (name: string) => ({
  IndexName: name,
  KeySchema: [
    { AttributeName: `${name}pk`, KeyType: 'HASH' as const },
    { AttributeName: `${name}sk`, KeyType: 'RANGE' as const },
  ],
  Projection: { ProjectionType: 'ALL' as const },
});
const attrs = (...names: string[]) => names.map((n) => ({ AttributeName: n, AttributeType: 'S' as const }));

function tableInput(tableName: string, indexes: string[]): CreateTableCommandInput {
  return {
    TableName: tableName,
    KeySchema: [
      { AttributeName: 'pk', KeyType: 'HASH' },
      { AttributeName: 'sk', KeyType: 'RANGE' },
    ],
    AttributeDefinitions: attrs('pk', 'sk', ...indexes.flatMap((i) => [`${i}pk`, `${i}sk`])),
    BillingMode: 'PAY_PER_REQUEST',
    ...(indexes.length ? { GlobalSecondaryIndexes: indexes.map(gsi) } : {}),
  };
}

describe('ensureTable on an existing table', () => {
  it('adds the GSIs the template gained, one at a time, ACTIVE on return, and warns about removed ones', async () => {
    const dynamo = client();
    const name = `idx-${randomUUID()}`;
    await ensureTable(dynamo, tableInput(name, ['gsi1']));

    const warnings: string[] = [];
    const table = await ensureTable(dynamo, tableInput(name, ['gsi2', 'gsi3']), undefined, { warn: (m) => warnings.push(m) });

    const described = (await dynamo.send(new DescribeTableCommand({ TableName: name }))).Table;
    const indexes = (described?.GlobalSecondaryIndexes ?? []).map((i) => [i.IndexName, i.IndexStatus]).sort();
    expect(indexes).toEqual([
      ['gsi1', 'ACTIVE'],
      ['gsi2', 'ACTIVE'],
      ['gsi3', 'ACTIVE'],
    ]);
    expect(table?.GlobalSecondaryIndexes?.map((i) => i.IndexName).sort()).toEqual(['gsi1', 'gsi2', 'gsi3']);
    expect(warnings).toEqual([expect.stringContaining('gsi1')]);

    // Nothing to do the next time: no UpdateTable, no warning beyond the removed index.
    warnings.length = 0;
    await ensureTable(dynamo, tableInput(name, ['gsi1', 'gsi2', 'gsi3']), undefined, { warn: (m) => warnings.push(m) });
    expect(warnings).toEqual([]);
  }, 120_000);
});
