import type { CfnResource } from 'aws-cdk-lib';
import { CustomResource, Duration } from 'aws-cdk-lib';
import type { Table } from 'aws-cdk-lib/aws-dynamodb';
import { Secret } from 'aws-cdk-lib/aws-secretsmanager';
import { Construct } from 'constructs';
import { EDGE_ROUTES_ENV, edgeRouteKeys, encodeRouteAccess, ROUTE_ACCESS_ENV, routeAccessTable } from '../shared/auth/route-access.js';
import type { RouteSpec } from '../shared/http/route.js';
import { SwitchyardFunction } from './function.js';
import { grantTableAccess, TABLE_ACCESS } from './grants.js';

/**
 * Lambda allows 4 KB of environment per function (names and values); keep
 * the route table well inside it. It is deflated (shared/auth/route-access.ts
 * encodeRouteAccess); the authorizer's other variables (table name, secret
 * ARN, token settings, Powertools, the edge-key routes) take about 700 bytes
 * deployed. Past this, switch to a module generated from the contract.
 */
const MAX_ROUTE_TABLE_BYTES = 2048;

export interface AuthProps {
  table: Table;
  /** The route contract; the authorizer gets its role table from it. */
  routes: RouteSpec[];
  serviceVersion: string;
  tokenEnvironment: Record<string, string>;
  /** How long the authorizer trusts a credential it has checked (API-key revocation delay). */
  authorizerCacheSeconds?: number;
}

/**
 * Secrets and functions of authentication: the signing key set, the initial
 * admin credentials and API key (generated into Secrets Manager; the local
 * runtime lets SWITCHYARD_ADMIN_PASSWORD / SWITCHYARD_ADMIN_API_KEY fix them),
 * the bootstrap custom resource that turns them into a key pair, a user and a
 * key, and the Lambda REQUEST authorizer.
 */
export class Auth extends Construct {
  readonly signingKeys: Secret;
  readonly authorizerFunction: SwitchyardFunction;
  readonly bootstrapFunction: SwitchyardFunction;

  constructor(scope: Construct, id: string, props: AuthProps) {
    super(scope, id);
    this.signingKeys = new Secret(this, 'SigningKeys', {
      description: 'Switchyard JWT signing key set (RS256 JWKs by kid); written by the bootstrap function',
      // An empty key set; the generated field only satisfies Secrets Manager and is ignored.
      generateSecretString: {
        secretStringTemplate: JSON.stringify({ keys: [] }),
        generateStringKey: 'placeholder',
        excludePunctuation: true,
      },
    });
    const adminCredentials = new Secret(this, 'AdminCredentials', {
      description: 'Initial password of the Switchyard admin user',
      generateSecretString: {
        secretStringTemplate: JSON.stringify({ username: 'admin' }),
        generateStringKey: 'password',
        excludePunctuation: true,
        passwordLength: 24,
      },
    });
    (adminCredentials.node.defaultChild as CfnResource).addMetadata('switchyard:local:valueFromEnv', 'SWITCHYARD_ADMIN_PASSWORD');
    const adminApiKey = new Secret(this, 'AdminApiKey', {
      description: 'Initial Switchyard admin API key (send as X-API-Key; revoke it once real keys exist)',
      generateSecretString: { excludePunctuation: true, passwordLength: 43 },
    });
    (adminApiKey.node.defaultChild as CfnResource).addMetadata('switchyard:local:valueFromEnv', 'SWITCHYARD_ADMIN_API_KEY');

    this.bootstrapFunction = new SwitchyardFunction(this, 'BootstrapFunction', {
      name: 'bootstrap',
      description: 'Creates the signing keys, admin user and admin API key; rotates the signing key',
      serviceVersion: props.serviceVersion,
      timeout: Duration.seconds(30),
      environment: {
        TABLE_NAME: props.table.tableName,
        SIGNING_KEYS_SECRET_ARN: this.signingKeys.secretArn,
        ADMIN_CREDENTIALS_SECRET_ARN: adminCredentials.secretArn,
        ADMIN_API_KEY_SECRET_ARN: adminApiKey.secretArn,
        ...props.tokenEnvironment,
      },
    });
    grantTableAccess(props.table, this.bootstrapFunction, TABLE_ACCESS.bootstrap);
    this.signingKeys.grantRead(this.bootstrapFunction);
    this.signingKeys.grantWrite(this.bootstrapFunction);
    adminCredentials.grantRead(this.bootstrapFunction);
    adminApiKey.grantRead(this.bootstrapFunction);
    new CustomResource(this, 'Bootstrap', {
      serviceToken: this.bootstrapFunction.functionArn,
      resourceType: 'Custom::SwitchyardBootstrap',
      // A new version re-runs the (idempotent) bootstrap.
      properties: { serviceVersion: props.serviceVersion },
    });

    const routeAccess = encodeRouteAccess(routeAccessTable(props.routes));
    if (Buffer.byteLength(routeAccess) > MAX_ROUTE_TABLE_BYTES) {
      throw new Error(
        `The authorizer's route table is ${Buffer.byteLength(routeAccess)} bytes, too close to Lambda's 4 KB environment limit`,
      );
    }
    this.authorizerFunction = new SwitchyardFunction(this, 'AuthorizerFunction', {
      name: 'authorizer',
      description: 'Lambda REQUEST authorizer: JWT or API key, then RBAC from the route contract',
      serviceVersion: props.serviceVersion,
      environment: {
        TABLE_NAME: props.table.tableName,
        SIGNING_KEYS_SECRET_ARN: this.signingKeys.secretArn,
        AUTHORIZER_CACHE_SECONDS: String(props.authorizerCacheSeconds ?? 30),
        // Which role each route needs, generated from the contract: the authorizer bundles no zod schemas.
        [ROUTE_ACCESS_ENV]: routeAccess,
        // ---- edge keys (issue 10): the routes an edge key may call for its own edge ----
        [EDGE_ROUTES_ENV]: JSON.stringify(edgeRouteKeys(props.routes)),
        ...props.tokenEnvironment,
      },
    });
    grantTableAccess(props.table, this.authorizerFunction, TABLE_ACCESS.authorizer);
    this.signingKeys.grantRead(this.authorizerFunction);
  }
}
