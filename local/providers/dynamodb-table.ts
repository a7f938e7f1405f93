/**
 * `AWS::DynamoDB::Table` in DynamoDB Local: created with its keys, indexes,
 * stream and TTL when it does not exist (a data folder keeps it across
 * restarts). When it exists, GSIs the template gained since are added (a data
 * folder would otherwise never see them); ones it lost are only warned about,
 * since dropping an index is not something a restart should do silently.
 * `Fn::GetAtt StreamArn` is the stream ARN DynamoDB Local assigned.
 */
import {
  CreateTableCommand,
  DescribeTableCommand,
  ResourceNotFoundException,
  UpdateTableCommand,
  UpdateTimeToLiveCommand,
  type CreateTableCommandInput,
  type DynamoDBClient,
  type TableDescription,
} from '@aws-sdk/client-dynamodb';
import type { CfnResource, CfnTemplate } from '../types.js';
import { generatedPhysicalName, TemplateResolver, type LocalEnvironment } from '../template/resolver.js';
import { arn, resolvedProperties, type ProviderContext, type ResourceProvider } from './provider.js';

/** Resolved CloudFormation properties of a table; CDK validated their shape at synth. */
interface TableProperties {
  TableName?: string;
  BillingMode?: string;
  KeySchema: CreateTableCommandInput['KeySchema'];
  AttributeDefinitions: CreateTableCommandInput['AttributeDefinitions'];
  ProvisionedThroughput?: { ReadCapacityUnits: number; WriteCapacityUnits: number };
  GlobalSecondaryIndexes?: Array<{
    IndexName: string;
    KeySchema: CreateTableCommandInput['KeySchema'];
    Projection: { ProjectionType?: 'ALL' | 'KEYS_ONLY' | 'INCLUDE'; NonKeyAttributes?: string[] };
    ProvisionedThroughput?: { ReadCapacityUnits: number; WriteCapacityUnits: number };
  }>;
  LocalSecondaryIndexes?: Array<{
    IndexName: string;
    KeySchema: CreateTableCommandInput['KeySchema'];
    Projection: { ProjectionType?: 'ALL' | 'KEYS_ONLY' | 'INCLUDE'; NonKeyAttributes?: string[] };
  }>;
  StreamSpecification?: { StreamViewType?: 'NEW_IMAGE' | 'OLD_IMAGE' | 'NEW_AND_OLD_IMAGES' | 'KEYS_ONLY' };
  TimeToLiveSpecification?: { AttributeName?: string; Enabled?: boolean | string };
}

const DEFAULT_THROUGHPUT = { ReadCapacityUnits: 5, WriteCapacityUnits: 5 };

/** CreateTable input from a table's resolved properties. */
export function createTableInput(tableName: string, p: TableProperties): { input: CreateTableCommandInput; ttlAttribute?: string } {
  const onDemand = p.BillingMode === 'PAY_PER_REQUEST';
  const input: CreateTableCommandInput = {
    TableName: tableName,
    KeySchema: p.KeySchema,
    AttributeDefinitions: p.AttributeDefinitions,
    BillingMode: onDemand ? 'PAY_PER_REQUEST' : 'PROVISIONED',
    ...(onDemand ? {} : { ProvisionedThroughput: p.ProvisionedThroughput ?? DEFAULT_THROUGHPUT }),
    ...(p.GlobalSecondaryIndexes?.length
      ? {
          GlobalSecondaryIndexes: p.GlobalSecondaryIndexes.map((i) => ({
            IndexName: i.IndexName,
            KeySchema: i.KeySchema,
            Projection: i.Projection,
            ...(onDemand ? {} : { ProvisionedThroughput: i.ProvisionedThroughput ?? DEFAULT_THROUGHPUT }),
          })),
        }
      : {}),
    ...(p.LocalSecondaryIndexes?.length
      ? {
          LocalSecondaryIndexes: p.LocalSecondaryIndexes.map((i) => ({
            IndexName: i.IndexName,
            KeySchema: i.KeySchema,
            Projection: i.Projection,
          })),
        }
      : {}),
    ...(p.StreamSpecification?.StreamViewType
      ? { StreamSpecification: { StreamEnabled: true, StreamViewType: p.StreamSpecification.StreamViewType } }
      : {}),
  };
  const ttl = p.TimeToLiveSpecification;
  const ttlEnabled = ttl?.Enabled === true || ttl?.Enabled === 'true';
  return { input, ...(ttlEnabled && ttl?.AttributeName ? { ttlAttribute: ttl.AttributeName } : {}) };
}

export interface EnsureTableOptions {
  /** Where "an index was removed from the template" goes; the table keeps it. */
  warn?: (message: string) => void;
  /** How long to wait for a new index to become ACTIVE (DynamoDB Local backfills it first). */
  indexTimeoutMs?: number;
}

/**
 * Creates the table unless it exists; if it exists, adds the template's GSIs
 * it lacks. Returns what DescribeTable says of it afterwards.
 */
export async function ensureTable(
  client: DynamoDBClient,
  input: CreateTableCommandInput,
  ttlAttribute?: string,
  options: EnsureTableOptions = {},
): Promise<TableDescription | undefined> {
  let existing: TableDescription | undefined;
  try {
    existing = (await client.send(new DescribeTableCommand({ TableName: input.TableName }))).Table;
  } catch (error) {
    if (!(error instanceof ResourceNotFoundException)) throw error;
  }
  if (existing) return syncIndexes(client, input, existing, options);
  const created = (await client.send(new CreateTableCommand(input))).TableDescription;
  if (ttlAttribute) {
    await client.send(
      new UpdateTimeToLiveCommand({ TableName: input.TableName, TimeToLiveSpecification: { AttributeName: ttlAttribute, Enabled: true } }),
    );
  }
  return created;
}

/**
 * Adds the GSIs `input` declares and `existing` lacks, one UpdateTable per
 * index (DynamoDB allows one GSI creation per call) and waiting for each to
 * be ACTIVE before the next (a second creation while one is still building is
 * refused). Indexes present only in the table are reported, not dropped.
 */
async function syncIndexes(
  client: DynamoDBClient,
  input: CreateTableCommandInput,
  existing: TableDescription,
  options: EnsureTableOptions,
): Promise<TableDescription | undefined> {
  const have = new Set((existing.GlobalSecondaryIndexes ?? []).map((i) => i.IndexName));
  const want = input.GlobalSecondaryIndexes ?? [];
  const warn = options.warn ?? ((message: string) => console.warn(message));
  for (const name of have) {
    if (!want.some((i) => i.IndexName === name)) {
      warn(
        `table ${input.TableName}: index ${name} is no longer in the template; it stays in the local data (delete the data folder to drop it)`,
      );
    }
  }
  const missing = want.filter((i) => !have.has(i.IndexName));
  if (missing.length === 0) return existing;
  const attributes = new Map((input.AttributeDefinitions ?? []).map((a) => [a.AttributeName, a]));
  let table = existing;
  for (const index of missing) {
    // UpdateTable wants the definitions of the attributes the new index keys on (and only known ones).
    const definitions = (index.KeySchema ?? []).map((k) => attributes.get(k.AttributeName)).filter((a) => a !== undefined);
    await client.send(
      new UpdateTableCommand({
        TableName: input.TableName,
        AttributeDefinitions: definitions,
        GlobalSecondaryIndexUpdates: [
          {
            Create: {
              IndexName: index.IndexName,
              KeySchema: index.KeySchema,
              Projection: index.Projection,
              ...(index.ProvisionedThroughput ? { ProvisionedThroughput: index.ProvisionedThroughput } : {}),
            },
          },
        ],
      }),
    );
    table = await waitForIndex(client, input.TableName as string, index.IndexName as string, options.indexTimeoutMs ?? 60_000);
  }
  return table;
}

async function waitForIndex(client: DynamoDBClient, tableName: string, indexName: string, timeoutMs: number): Promise<TableDescription> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const table = (await client.send(new DescribeTableCommand({ TableName: tableName }))).Table;
    const index = table?.GlobalSecondaryIndexes?.find((i) => i.IndexName === indexName);
    if (table && index?.IndexStatus === 'ACTIVE' && table.TableStatus === 'ACTIVE') return table;
    if (Date.now() > deadline) throw new Error(`index ${indexName} of ${tableName} is not ACTIVE after ${timeoutMs} ms`);
    await new Promise((resolve) => setTimeout(resolve, 50));
  }
}

export const dynamoDbTableProvider: ResourceProvider = {
  types: ['AWS::DynamoDB::Table'],
  async create(logicalId: string, resource: CfnResource, context: ProviderContext) {
    const props = resolvedProperties(resource, context) as unknown as TableProperties;
    const tableName = props.TableName ?? generatedPhysicalName(context.env.stackName, logicalId, 255);
    const { input, ttlAttribute } = createTableInput(tableName, props);
    const table = await ensureTable(context.services.dynamodb.client, input, ttlAttribute, { warn: (m) => context.warn(m) });
    const attributes: Record<string, unknown> = { Arn: table?.TableArn ?? arn(context.env, 'dynamodb', `table/${tableName}`) };
    if (table?.LatestStreamArn) attributes.StreamArn = table.LatestStreamArn;
    return { ref: tableName, attributes };
  },
};

/**
 * CreateTable inputs of a template's tables whose properties reference no
 * other resource (tests and benches make a table from the stack's own
 * construct this way, without a runtime).
 */
export function standaloneTableInputs(
  template: CfnTemplate,
  env: LocalEnvironment,
): Array<{ logicalId: string; input: CreateTableCommandInput; ttlAttribute?: string }> {
  const resolver = new TemplateResolver(template, env);
  return resolver.resourcesOfType('AWS::DynamoDB::Table').map(([logicalId, resource]) => {
    const props = resolver.resolve(resource.Properties ?? {}) as TableProperties;
    return { logicalId, ...createTableInput(props.TableName ?? generatedPhysicalName(env.stackName, logicalId, 255), props) };
  });
}
