import { App, Validations, type AppProps } from 'aws-cdk-lib';
import { AwsSolutionsChecks } from 'cdk-nag';
import { readFileSync } from 'node:fs';
import { SwitchyardStack } from './stack.js';
import { edgeHealthMinutesFromContext, edgeHeartbeatSecondsFromContext } from './jobs.js';
import { pollSecondsFromContext } from './rollouts.js';
import { retrySecondsFromContext } from './webhooks.js';

export const STACK_NAME = 'Switchyard';

const packageVersion = (JSON.parse(readFileSync(new URL('../package.json', import.meta.url), 'utf8')) as { version: string }).version;

/**
 * Builds the CDK app: used by bin/app.ts (cdk synth/deploy), by the local
 * runtime (which synthesizes in-process and runs the template) and by the CDK tests.
 */
export function buildApp(props: AppProps = {}): { app: App; stack: SwitchyardStack } {
  const app = new App(props);
  const origins = app.node.tryGetContext('switchyard:allowedOrigins') as string | string[] | undefined;
  const allowedOrigins = (Array.isArray(origins) ? origins : (origins ?? '').split(',')).map((o) => o.trim()).filter(Boolean);
  const rateWindow = app.node.tryGetContext('switchyard:rateLimitWindowSeconds') as string | number | undefined;
  const authorizerCache = app.node.tryGetContext('switchyard:authorizerCacheSeconds') as string | number | undefined;
  const webhookRetrySeconds = retrySecondsFromContext(app.node.tryGetContext('switchyard:webhookRetrySeconds'));
  const webhookUrlPolicy = app.node.tryGetContext('switchyard:webhookUrlPolicy') as unknown;
  if (webhookUrlPolicy !== undefined && webhookUrlPolicy !== 'local' && webhookUrlPolicy !== 'deployed') {
    throw new Error(`switchyard:webhookUrlPolicy must be local or deployed; got ${String(webhookUrlPolicy)}`);
  }
  // Validated here, at synth: a bad value is a clear error, never a broken schedule or health rule.
  const edgeHealthMinutes = edgeHealthMinutesFromContext(app.node.tryGetContext('switchyard:edgeHealthMinutes'));
  const edgeHeartbeatSeconds = edgeHeartbeatSecondsFromContext(app.node.tryGetContext('switchyard:edgeHeartbeatSeconds'));
  const rolloutPollSeconds = pollSecondsFromContext(app.node.tryGetContext('switchyard:rolloutPollSeconds'));
  const stack = new SwitchyardStack(app, STACK_NAME, {
    allowedOrigins,
    ...(rateWindow !== undefined ? { rateLimits: { windowSeconds: Number(rateWindow) } } : {}),
    ...(authorizerCache !== undefined ? { authorizerCacheSeconds: Number(authorizerCache) } : {}),
    ...(webhookRetrySeconds ? { webhookRetrySeconds } : {}),
    ...(webhookUrlPolicy ? { webhookUrlPolicy } : {}),
    ...(edgeHealthMinutes !== undefined ? { edgeHealthMinutes } : {}),
    ...(edgeHeartbeatSeconds !== undefined ? { edgeHeartbeatSeconds } : {}),
    ...(rolloutPollSeconds ? { rolloutPollSeconds } : {}),
    serviceVersion: packageVersion,
    description: 'Switchyard: serverless release-control plane',
  });
  Validations.of(app).addPlugins(new AwsSolutionsChecks(app));
  return { app, stack };
}
