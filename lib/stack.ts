import { CfnOutput, Stack, type StackProps } from 'aws-cdk-lib';
import type { Construct } from 'constructs';
import { allRoutes } from '../shared/api/routes.js';
import type { ApiFunctionName } from '../shared/http/route.js';
import { SwitchyardApi } from './api.js';
import { DataTable } from './data.js';
import { SwitchyardFunction } from './function.js';
import { acknowledgeNagFindings } from './nag.js';

export interface SwitchyardStackProps extends StackProps {
  /** CORS allow-list; empty means no browser origin is allowed. */
  allowedOrigins: string[];
  serviceVersion: string;
  maxBodyBytes?: number;
}

const API_FUNCTIONS: Record<ApiFunctionName, string> = {
  health: 'Liveness and readiness probes',
  receivers: 'Release-event receivers',
  groups: 'Receiver groups and membership',
  events: 'Release-event ingest and query',
};

export class SwitchyardStack extends Stack {
  constructor(scope: Construct, id: string, props: SwitchyardStackProps) {
    super(scope, id, props);
    const data = new DataTable(this, 'Data');

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
        },
      });
      // Health only reads (readiness probe); the others read and write.
      if (name === 'health') data.table.grantReadData(fn);
      else data.table.grantReadWriteData(fn);
      functions[name] = fn;
    }

    const api = new SwitchyardApi(this, 'Api', { routes: allRoutes, functions, allowedOrigins: props.allowedOrigins });

    new CfnOutput(this, 'ApiUrl', { value: api.api.url, description: 'Base URL of the REST API' });
    new CfnOutput(this, 'TableName', { value: data.table.tableName });
    acknowledgeNagFindings(this, data.table);
  }
}
