import type { ITable } from 'aws-cdk-lib/aws-dynamodb';
import { Effect, PolicyStatement, type IGrantable } from 'aws-cdk-lib/aws-iam';
import type { ApiFunctionName } from '../shared/http/route.js';

/**
 * Least-privilege access to the single table, per function. Items are told
 * apart by their partition key (shared/store/keys.ts), so writes are limited
 * with `dynamodb:LeadingKeys` to the key prefixes a function writes; the
 * middleware chain's own writes count too (shared/http/middleware.ts):
 * rate-limit counters on every rate-limited route, audit lines and
 * Idempotency-Key records on the functions that serve writes.
 * tests/cdk/grants.test.ts checks each pattern against the key layout and
 * each function's policy against this table.
 */

/** Partition-key patterns (IAM StringLike) of the items, as shared/store/keys.ts builds them. */
export const ITEM_KEYS = {
  health: 'HEALTH',
  user: 'USER#*',
  username: 'USERNAME#*',
  apiKey: 'APIKEY#*',
  apiKeyHash: 'APIKEYHASH#*',
  refreshFamily: 'REFRESH#*',
  revokedToken: 'REVOKED#*',
  audit: 'AUDIT#*',
  rateCount: 'RATE#*',
  idempotency: 'IDEMPOTENCY',
  outbox: 'OUTBOX#*',
  /** A webhook subscription and its health record. */
  subscription: 'SUBSCRIPTION#*',
  /** A webhook delivery and its attempts. */
  delivery: 'DELIVERY#*',
  /** A webhook endpoint's circuit breaker and in-flight leases. */
  endpoint: 'ENDPOINT#*',
  // ---- edge locations (issue 10) ----
  /** An edge location, its heartbeats and its assignment. */
  edge: 'EDGE#*',
  /** An edge key's lookup item (by hash). */
  edgeKeyHash: 'EDGEKEYHASH#*',
  // ---- rollouts (issue 10): configurations ----
  /** A configuration and its versions (one partition per configuration). */
  configuration: 'CONFIG#*',
  // ---- rollouts (issue 10): deployments ----
  /** A deployment record. */
  deployment: 'DEPLOYMENT#*',
  /** The markers of the active deployments (their edges), one partition. */
  activeDeployments: 'DEPLOYMENTS#ACTIVE',
  /** The lock every deployment create is conditional on. */
  deploymentsLock: 'DEPLOYMENTS#LOCK',
} as const;

const {
  health,
  user,
  username,
  apiKey,
  apiKeyHash,
  refreshFamily,
  revokedToken,
  audit,
  rateCount,
  idempotency,
  outbox,
  subscription,
  delivery,
  endpoint,
  edge,
  edgeKeyHash,
  configuration,
  deployment,
  activeDeployments,
  deploymentsLock,
} = ITEM_KEYS;

/** Items only the identity functions (users, API keys, sessions; edges for their own keys) may change: whoever writes them can mint credentials. */
export const IDENTITY_ITEMS = [user, username, apiKey, apiKeyHash, refreshFamily, revokedToken, edgeKeyHash];

export interface TableAccess {
  /**
   * `table`: every read action on the table and its indexes (Query, GetItem…);
   * a list: GetItem and BatchGetItem only, of items with these partition keys.
   */
  read: 'table' | readonly string[];
  /**
   * A list: put/update/delete items with these partition keys only;
   * `all-but-identity`: any item except the identity items (the release
   * functions, whose entity keys belong to the store); empty: read-only.
   */
  write: readonly string[] | 'all-but-identity';
}

/** Every API function writes rate-limit counters (health is never limited); functions serving writes add audit and idempotency. */
const servesWrites = [rateCount, audit, idempotency];

/** Every change writes its audit record and its outbox event in the same transaction (shared/store/table-store.ts commit). */
const changes = [audit, outbox];
export const TABLE_ACCESS: Record<
  | ApiFunctionName
  | 'authorizer'
  | 'bootstrap'
  | 'relay'
  | 'outbox-sweeper'
  | 'webhook-fanout'
  | 'webhook-dispatcher'
  | 'edge-health'
  | 'rollout-tasks'
  | 'deployment-reconciler',
  TableAccess
> = {
  // GET /health/ready reads one item; health routes are never rate limited.
  health: { read: [health], write: [] },
  // GET only: its one write is the caller's rate-limit counter.
  audit: { read: 'table', write: [rateCount] },
  // Login, refresh and logout: refresh families and revoked token ids.
  auth: { read: 'table', write: [refreshFamily, revokedToken, ...servesWrites] },
  users: { read: 'table', write: [user, username, outbox, ...servesWrites] },
  apikeys: { read: 'table', write: [apiKey, apiKeyHash, outbox, ...servesWrites] },
  receivers: { read: 'table', write: 'all-but-identity' },
  groups: { read: 'table', write: 'all-but-identity' },
  events: { read: 'table', write: 'all-but-identity' },
  // Subscriptions (with their health records) and the deliveries of test pings and manual retries.
  webhooks: { read: 'table', write: [subscription, delivery, ...changes, rateCount, idempotency] },
  // ---- rollouts (issue 10): configurations ----
  // A configuration and its versions (an approval is an update of a version), with their audit and outbox.
  configurations: { read: 'table', write: [configuration, ...changes, rateCount, idempotency] },
  // Per decision: the key by hash, the revoked-token id and the user (its session generation); an edge key by its hash. Never writes.
  authorizer: { read: [user, revokedToken, apiKeyHash, edgeKeyHash], write: [] },
  // Creates the admin user and API key (with their audit lines) on deploy.
  bootstrap: { read: 'table', write: [user, username, apiKey, apiKeyHash, ...changes] },
  // Reads outbox items by key (already relayed?) and marks them relayed.
  relay: { read: [outbox], write: [outbox] },
  // Queries the pending index, then does what the relay does.
  'outbox-sweeper': { read: 'table', write: [outbox] },
  // Queries the enabled subscriptions; writes one delivery per match.
  'webhook-fanout': { read: 'table', write: [delivery] },
  // Reads a delivery, its subscription and its endpoint's circuit by key; writes the delivery and its attempts,
  // the circuit and leases, the subscription's health, and an auto-disable (a change: audit and outbox).
  'webhook-dispatcher': { read: [delivery, subscription, endpoint], write: [delivery, endpoint, subscription, ...changes] },
  // ---- edge locations (issue 10) ----
  // Edges with their key lookup items (changes: audit and outbox), heartbeats on the edge's partition; reads configuration
  // versions (CONFIG#…) for desired-config, hence the whole table.
  edges: { read: 'table', write: [edge, edgeKeyHash, ...changes, rateCount, idempotency] },
  // The edge-health job queries the EDGES partition (gsi2), hence the table; updates only edge items (their recorded
  // health) and writes the audit and outbox of each change. No key items: it never touches credentials.
  'edge-health': { read: 'table', write: [edge, ...changes] },
  // ---- rollouts (issue 10): deployments ----
  // Creates deployments (with the active marker and the create lock) and the operator's transitions; reads edges and versions.
  deployments: { read: 'table', write: [deployment, activeDeployments, deploymentsLock, ...changes, rateCount, idempotency] },
  // The workflow's transitions (a final one releases the active marker), and each edge's ASSIGNMENT item (on the edge's
  // partition); reads heartbeats.
  'rollout-tasks': { read: 'table', write: [deployment, activeDeployments, edge, ...changes] },
  // Records a restarted execution on the deployment (no event).
  'deployment-reconciler': { read: 'table', write: [deployment] },
};

const WRITE_ACTIONS = ['dynamodb:PutItem', 'dynamodb:UpdateItem', 'dynamodb:DeleteItem', 'dynamodb:BatchWriteItem'];

const leadingKeys = (patterns: readonly string[]) => ({ 'ForAllValues:StringLike': { 'dynamodb:LeadingKeys': [...patterns] } });

export function grantTableAccess(table: ITable, grantee: IGrantable, access: TableAccess): void {
  if (access.read === 'table') {
    table.grantReadData(grantee);
  } else {
    grantee.grantPrincipal.addToPrincipalPolicy(
      new PolicyStatement({
        actions: ['dynamodb:GetItem', 'dynamodb:BatchGetItem'],
        resources: [table.tableArn],
        conditions: leadingKeys(access.read),
      }),
    );
  }
  if (access.write === 'all-but-identity') {
    table.grantWriteData(grantee);
    // An explicit deny wins over the grant above: a compromised release function cannot mint users, keys or sessions.
    grantee.grantPrincipal.addToPrincipalPolicy(
      new PolicyStatement({
        effect: Effect.DENY,
        actions: WRITE_ACTIONS,
        resources: [table.tableArn],
        conditions: { 'ForAnyValue:StringLike': { 'dynamodb:LeadingKeys': IDENTITY_ITEMS } },
      }),
    );
  } else if (access.write.length > 0) {
    grantee.grantPrincipal.addToPrincipalPolicy(
      new PolicyStatement({ actions: WRITE_ACTIONS, resources: [table.tableArn], conditions: leadingKeys(access.write) }),
    );
  }
}
