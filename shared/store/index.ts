import { randomUUID } from 'node:crypto';
import type { Clock, IdGenerator } from '../domain/ports.js';
import type { DeliveryStore, EndpointStore, SubscriptionHealthStore, SubscriptionStore } from '../domain/webhooks.js';
import { dynamoDocumentClient, tableNameFromEnv } from './client.js';
import { DynamoEdgeStore } from './edge-store.js';
import { DynamoConfigurationStore } from './configuration-store.js';
import { DynamoDeploymentStore } from './deployment-store.js';
import { DynamoIdentityStore } from './identity-store.js';
import { DynamoReleaseStore } from './release-store.js';
import { DynamoWebhookStore } from './webhook-store.js';

let store: DynamoReleaseStore | undefined;

/** The stores over the one table, one instance each per execution environment. */
export function releaseStore(): DynamoReleaseStore {
  store ??= new DynamoReleaseStore(dynamoDocumentClient(), tableNameFromEnv());
  return store;
}

let identity: DynamoIdentityStore | undefined;

export function identityStore(): DynamoIdentityStore {
  identity ??= new DynamoIdentityStore(dynamoDocumentClient(), tableNameFromEnv());
  return identity;
}

let webhooks: DynamoWebhookStore | undefined;

/** Subscriptions, deliveries, health and endpoint circuits; seals secrets with the WEBHOOK_KEYS_SECRET_ARN key ring. */
export function webhookStore(): DynamoWebhookStore {
  webhooks ??= new DynamoWebhookStore(dynamoDocumentClient(), tableNameFromEnv());
  return webhooks;
}

let edges: DynamoEdgeStore | undefined;

/** Edge locations, their key lookup, heartbeats and assignments (also reads configuration content for desired-config). */
export function edgeStore(): DynamoEdgeStore {
  edges ??= new DynamoEdgeStore(dynamoDocumentClient(), tableNameFromEnv());
  return edges;
}

// ---- rollouts (issue 10): configurations ----
let configurations: DynamoConfigurationStore | undefined;

/** Configurations and their immutable versions. */
export function configurationStore(): DynamoConfigurationStore {
  configurations ??= new DynamoConfigurationStore(dynamoDocumentClient(), tableNameFromEnv());
  return configurations;
}

// ---- rollouts (issue 10): deployments ----
let deployments: DynamoDeploymentStore | undefined;

/** Deployment records, the edges' assignments and the heartbeats a stage's evaluation reads. */
export function deploymentStore(): DynamoDeploymentStore {
  deployments ??= new DynamoDeploymentStore(dynamoDocumentClient(), tableNameFromEnv());
  return deployments;
}

export const systemClock: Clock = { now: () => new Date().toISOString() };
export const uuidIds: IdGenerator = { next: () => randomUUID() };

/** Every port the webhook pipeline reads and writes, over the one table. */
export type WebhookStore = SubscriptionStore & DeliveryStore & SubscriptionHealthStore & EndpointStore;
