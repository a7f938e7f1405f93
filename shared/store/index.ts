import { randomUUID } from 'node:crypto';
import type { Clock, IdGenerator } from '../domain/ports.js';
import { dynamoDocumentClient, tableNameFromEnv } from './client.js';
import { DynamoReleaseStore } from './release-store.js';

let store: DynamoReleaseStore | undefined;

/** The one store, per execution environment. */
export function releaseStore(): DynamoReleaseStore {
  store ??= new DynamoReleaseStore(dynamoDocumentClient(), tableNameFromEnv());
  return store;
}

export const systemClock: Clock = { now: () => new Date().toISOString() };
export const uuidIds: IdGenerator = { next: () => randomUUID() };
