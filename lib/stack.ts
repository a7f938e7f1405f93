import { CfnOutput, Stack, type StackProps } from 'aws-cdk-lib';
import { Secret } from 'aws-cdk-lib/aws-secretsmanager';
import type { Construct } from 'constructs';
import { allRoutes } from '../shared/api/routes.js';
import type { ApiFunctionName } from '../shared/http/route.js';
import { SwitchyardApi } from './api.js';
import { Auth } from './auth.js';
import { DataTable } from './data.js';
import { EventBackbone } from './events.js';
import { SwitchyardFunction } from './function.js';
import { grantTableAccess, TABLE_ACCESS } from './grants.js';
import { edgeHealthEnvironment, Jobs } from './jobs.js';
import { acknowledgeNagFindings } from './nag.js';
import { Rollouts } from './rollouts.js';
import { WebhookPipeline, type WebhookUrlPolicyName } from './webhooks.js';

export interface SwitchyardStackProps extends StackProps {
  /** CORS allow-list; empty means no browser origin is allowed. */
  allowedOrigins: string[];
  serviceVersion: string;
  maxBodyBytes?: number;
  /** How long the authorizer caches a checked credential (default 30 s). */
  authorizerCacheSeconds?: number;
  /** Requests per window by tier (seed 004 §3.2 defaults). */
  rateLimits?: Partial<{ windowSeconds: number; anonymous: number; authenticated: number; admin: number; login: number }>;
  /** Webhook retry waits in seconds (default 30, 60, 120, 300, 900). */
  webhookRetrySeconds?: readonly number[];
  /** `local` lets webhooks reach http and loopback URLs (the local runtime's default); deployed stacks keep `deployed`. */
  webhookUrlPolicy?: WebhookUrlPolicyName;
  /** How often the edge-health job runs, in minutes (default 1). */
  edgeHealthMinutes?: number;
  /** The edges' heartbeat interval in seconds (default 10): the edges API and the edge-health job judge health by it. */
  edgeHeartbeatSeconds?: number;
  /** How soon a rollout hears promote, pause and resume (default 5 s; `-c switchyard:rolloutPollSeconds`). */
  rolloutPollSeconds?: number;
}

function rateLimitEnvironment(limits: SwitchyardStackProps['rateLimits'] = {}): Record<string, string> {
  const { windowSeconds = 60, anonymous = 10, authenticated = 100, admin = 1000, login = 5 } = limits;
  return {
    RATE_LIMIT_WINDOW_SECONDS: String(windowSeconds),
    RATE_LIMIT_ANONYMOUS: String(anonymous),
    RATE_LIMIT_AUTHENTICATED: String(authenticated),
    RATE_LIMIT_ADMIN: String(admin),
    RATE_LIMIT_LOGIN: String(login),
  };
}

const API_FUNCTIONS: Record<ApiFunctionName, string> = {
  health: 'Liveness and readiness probes',
  receivers: 'Release-event receivers',
  groups: 'Receiver groups and membership',
  events: 'Release-event ingest and query',
  auth: 'Login, token refresh, logout and JWKS',
  users: 'User administration',
  apikeys: 'API key administration',
  audit: 'Audit trail of writes',
  webhooks: 'Webhook subscriptions and deliveries',
  // ---- edge locations (issue 10) ----
  edges: 'Edge locations, their keys, heartbeats and desired configuration',
  // ---- rollouts (issue 10): configurations ----
  configurations: 'Edge configurations and their immutable versions',
  deployments: 'Deployments: start rollouts, follow them, promote, pause, resume, roll back',
};

/** Token settings shared by the functions that issue or verify tokens. */
const TOKEN_ENVIRONMENT = {
  JWT_ISSUER: 'switchyard',
  JWT_AUDIENCE: 'switchyard-api',
  ACCESS_TOKEN_SECONDS: '900',
  REFRESH_TOKEN_SECONDS: '604800',
};

export class SwitchyardStack extends Stack {
  constructor(scope: Construct, id: string, props: SwitchyardStackProps) {
    super(scope, id, props);
    const data = new DataTable(this, 'Data');
    const auth = new Auth(this, 'Auth', {
      table: data.table,
      routes: allRoutes,
      serviceVersion: props.serviceVersion,
      tokenEnvironment: TOKEN_ENVIRONMENT,
      ...(props.authorizerCacheSeconds !== undefined ? { authorizerCacheSeconds: props.authorizerCacheSeconds } : {}),
    });

    // HMAC key of page cursors (shared/store/cursor.ts): an edited or foreign cursor is a 400, never a query.
    const cursorKey = new Secret(this, 'CursorKey', {
      description: 'Switchyard page-cursor HMAC key; replacing it invalidates outstanding cursors (clients restart from page one)',
      generateSecretString: { excludePunctuation: true, passwordLength: 64 },
    });
    const events = new EventBackbone(this, 'Events', { table: data.table, serviceVersion: props.serviceVersion });
    const webhooks = new WebhookPipeline(this, 'Webhooks', {
      table: data.table,
      bus: events.bus,
      serviceVersion: props.serviceVersion,
      ...(props.webhookRetrySeconds ? { retrySeconds: props.webhookRetrySeconds } : {}),
      ...(props.webhookUrlPolicy ? { urlPolicy: props.webhookUrlPolicy } : {}),
    });

    new Jobs(this, 'Jobs', {
      table: data.table,
      serviceVersion: props.serviceVersion,
      ...(props.edgeHealthMinutes !== undefined ? { edgeHealthMinutes: props.edgeHealthMinutes } : {}),
      ...(props.edgeHeartbeatSeconds !== undefined ? { edgeHeartbeatSeconds: props.edgeHeartbeatSeconds } : {}),
    });
    const rollouts = new Rollouts(this, 'Rollouts', {
      table: data.table,
      serviceVersion: props.serviceVersion,
      ...(props.rolloutPollSeconds ? { pollSeconds: props.rolloutPollSeconds } : {}),
    });

    const functions = {} as Record<ApiFunctionName, SwitchyardFunction>;
    for (const [name, description] of Object.entries(API_FUNCTIONS) as Array<[ApiFunctionName, string]>) {
      const fn = new SwitchyardFunction(this, `${name[0]?.toUpperCase()}${name.slice(1)}Function`, {
        name,
        description,
        serviceVersion: props.serviceVersion,
        environment: {
          TABLE_NAME: data.table.tableName,
          CORS_ALLOWED_ORIGINS: props.allowedOrigins.join(','),
          MAX_BODY_BYTES: String(props.maxBodyBytes ?? 1_048_576),
          ...rateLimitEnvironment(props.rateLimits),
          CURSOR_KEY_SECRET_ARN: cursorKey.secretArn,
          ...(name === 'auth' ? { SIGNING_KEYS_SECRET_ARN: auth.signingKeys.secretArn, ...TOKEN_ENVIRONMENT } : {}),
          ...(name === 'webhooks' ? webhooks.apiEnvironment : {}),
          // The same interval as the edge-health job, so the computed health on read and the recorded one agree.
          ...(name === 'edges' ? edgeHealthEnvironment(props.edgeHeartbeatSeconds) : {}),
          ...(name === 'deployments' ? rollouts.workflowEnvironment : {}),
        },
      });
      if (name === 'deployments') rollouts.grantWorkflows(fn);
      if (name === 'auth') auth.signingKeys.grantRead(fn);
      if (name === 'webhooks') webhooks.grantApi(fn);
      cursorKey.grantRead(fn);
      // Least privilege per function, the middleware chain's writes included (lib/grants.ts).
      grantTableAccess(data.table, fn, TABLE_ACCESS[name]);
      functions[name] = fn;
    }

    const api = new SwitchyardApi(this, 'Api', {
      routes: allRoutes,
      functions,
      allowedOrigins: props.allowedOrigins,
      authorizerFunction: auth.authorizerFunction,
    });

    new CfnOutput(this, 'ApiUrl', { value: api.api.url, description: 'Base URL of the REST API' });
    new CfnOutput(this, 'TableName', { value: data.table.tableName });
    new CfnOutput(this, 'EventBusName', { value: events.bus.eventBusName, description: 'The bus every Switchyard CloudEvent is put on' });
    acknowledgeNagFindings(this, data.table);
  }
}
