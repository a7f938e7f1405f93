import { DynamoDBClient } from '@aws-sdk/client-dynamodb';
import { DynamoDBDocumentClient } from '@aws-sdk/lib-dynamodb';
import { tracer } from '../telemetry.js';

/**
 * One document client per execution environment, created lazily so module
 * load stays cheap; every call is traced as an X-Ray subsegment. The endpoint
 * comes from the SDK's own AWS_ENDPOINT_URL_DYNAMODB variable when set (local
 * runtime, LocalStack), so no code path differs between them and AWS.
 */
let documentClient: DynamoDBDocumentClient | undefined;

/**
 * The SDK waits forever by default. A DynamoDB call answers in milliseconds,
 * so a second to connect and two to answer mean the service is in trouble;
 * with the SDK's 3 attempts a hung call gives up within ~7 s, inside an API
 * function's 10 s (lib/function.ts). Without throwOnRequestTimeout the SDK
 * only logs a warning when requestTimeout passes.
 */
export const SDK_TIMEOUTS = { connectionTimeout: 1_000, requestTimeout: 2_000, throwOnRequestTimeout: true } as const;

export function dynamoDocumentClient(): DynamoDBDocumentClient {
  documentClient ??= DynamoDBDocumentClient.from(tracer.captureAWSv3Client(new DynamoDBClient({ requestHandler: SDK_TIMEOUTS })), {
    marshallOptions: { removeUndefinedValues: true, convertEmptyValues: false },
  });
  return documentClient;
}

export function tableNameFromEnv(env: NodeJS.ProcessEnv = process.env): string {
  const name = env.TABLE_NAME;
  if (!name) throw new Error('TABLE_NAME is not set: the stack sets it on every function that uses the table');
  return name;
}
