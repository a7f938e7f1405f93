import { DynamoDBClient } from '@aws-sdk/client-dynamodb';
import { DynamoDBDocumentClient, ScanCommand } from '@aws-sdk/lib-dynamodb';
import { App, Stack } from 'aws-cdk-lib';
import { Template } from 'aws-cdk-lib/assertions';
import { randomUUID } from 'node:crypto';
import { inject } from 'vitest';
import { DataTable } from '../../lib/data.js';
import { LOCAL_CREDENTIALS } from '../../local/aws/dynamodb/local-process.js';
import { ensureTable, standaloneTableInputs } from '../../local/providers/dynamodb-table.js';
import type { CfnTemplate } from '../../local/types.js';

/**
 * A fresh table in the shared DynamoDB Local, created from the stack's own
 * DataTable construct (not a copy of its key schema), one per test file.
 */
export async function freshTable(): Promise<{ tableName: string; client: DynamoDBDocumentClient }> {
  const stack = new Stack(new App(), 'TestData');
  new DataTable(stack, 'Data');
  const template = Template.fromStack(stack).toJSON() as CfnTemplate;
  const tableName = `test-${randomUUID()}`;
  const [table] = standaloneTableInputs(template, { stackName: 'TestData', region: 'us-east-1', accountId: '000000000000' });
  if (!table) throw new Error('DataTable synthesized no table');
  const raw = new DynamoDBClient({ endpoint: inject('dynamoEndpoint'), region: 'us-east-1', credentials: LOCAL_CREDENTIALS });
  await ensureTable(raw, { ...table.input, TableName: tableName }, table.ttlAttribute);
  return { tableName, client: DynamoDBDocumentClient.from(raw, { marshallOptions: { removeUndefinedValues: true } }) };
}

/** The audit context of changes the integration tests make outside a request (stores refuse changes without one). */
export const TEST_AUDIT = {
  actor: { id: 'integration-test', kind: 'system', name: 'integration test' },
  action: 'test',
  method: 'TEST',
  path: '/test',
  requestId: 'integration-test',
  sourceIp: '127.0.0.1',
};

/** Every item of the table, all pages (tests look for audit and outbox items a change must or must not have written). */
export async function scanTable(client: DynamoDBDocumentClient, tableName: string): Promise<Record<string, unknown>[]> {
  const items: Record<string, unknown>[] = [];
  let startKey: Record<string, unknown> | undefined;
  do {
    const out = await client.send(new ScanCommand({ TableName: tableName, ExclusiveStartKey: startKey }));
    items.push(...(out.Items ?? []));
    startKey = out.LastEvaluatedKey;
  } while (startKey);
  return items;
}
