/**
 * Bootstrap and key management, run as a CloudFormation custom resource on
 * every deploy (and by the local runtime on start):
 * - creates the token signing key set if the secret holds none;
 * - creates the `admin` user from the AdminCredentials secret if absent;
 * - registers the admin API key from its secret if absent.
 * Invoked with `{"action":"rotate-signing-key"}` it rotates the signing key
 * (the previous one keeps verifying for the grace period).
 */
import { GetSecretValueCommand, PutSecretValueCommand, SecretsManagerClient } from '@aws-sdk/client-secrets-manager';
import { SDK_TIMEOUTS } from '../../shared/sdk-timeouts.js';
import type { CloudFormationCustomResourceEvent } from 'aws-lambda';
import { sessionConfigFromEnv } from '../../shared/auth/config.js';
import { hashApiKey } from '../../shared/auth/secrets.js';
import { parseSigningKeySet, rotateSigningKeys, type SigningKeySet } from '../../shared/auth/signing-keys.js';
import { sendCustomResourceResponse } from '../../shared/custom-resource.js';
import { ApiKeyService } from '../../shared/domain/api-keys.js';
import { UserService } from '../../shared/domain/users.js';
import { withAudit } from '../../shared/store/audit-scope.js';
import { identityStore, systemClock, uuidIds } from '../../shared/store/index.js';
import { logger, tracer } from '../../shared/telemetry.js';

const secrets = tracer.captureAWSv3Client(new SecretsManagerClient({ requestHandler: SDK_TIMEOUTS }));

function env(name: string): string {
  const value = process.env[name];
  if (!value) throw new Error(`${name} is not set`);
  return value;
}

async function readSecret(secretId: string): Promise<string> {
  const out = await secrets.send(new GetSecretValueCommand({ SecretId: secretId }));
  return out.SecretString ?? '';
}

async function signingKeys(): Promise<SigningKeySet> {
  const raw = await readSecret(env('SIGNING_KEYS_SECRET_ARN'));
  const value: unknown = raw ? JSON.parse(raw) : { keys: [] };
  try {
    return parseSigningKeySet(value);
  } catch {
    return { keys: [] };
  }
}

/** Grace: a replaced key verifies for one access-token lifetime plus clock skew. */
async function rotate(): Promise<number> {
  const next = await rotateSigningKeys(await signingKeys(), new Date(), sessionConfigFromEnv().accessTokenSeconds + 300);
  await secrets.send(new PutSecretValueCommand({ SecretId: env('SIGNING_KEYS_SECRET_ARN'), SecretString: JSON.stringify(next) }));
  return next.keys.length;
}

async function bootstrap(): Promise<Record<string, string>> {
  const result: Record<string, string> = {};
  if ((await signingKeys()).keys.length === 0) {
    await rotate();
    result.signingKey = 'created';
  }
  const store = identityStore();
  const admin = JSON.parse(await readSecret(env('ADMIN_CREDENTIALS_SECRET_ARN'))) as { username: string; password: string };
  if (!(await store.getUserByUsername(admin.username))) {
    await new UserService(store, systemClock, uuidIds).create({ username: admin.username, password: admin.password, roles: ['admin'] });
    result.adminUser = 'created';
  }
  const adminKey = (await readSecret(env('ADMIN_API_KEY_SECRET_ARN'))).trim();
  if (adminKey && !(await store.findApiKeyByHash(hashApiKey(adminKey)))) {
    await new ApiKeyService(store, systemClock, uuidIds).create({ name: 'bootstrap admin key', role: 'admin' }, 'bootstrap', adminKey);
    result.adminApiKey = 'created';
  }
  return result;
}

type BootstrapEvent = CloudFormationCustomResourceEvent | { action: 'rotate-signing-key' };

export const handler = async (event: BootstrapEvent): Promise<unknown> => {
  if ('action' in event) {
    if (event.action !== 'rotate-signing-key') throw new Error(`unknown action ${String(event.action)}`);
    const keys = await rotate();
    logger.info('signing key rotated', { keys });
    return { rotated: true, keys };
  }
  const physicalResourceId = 'switchyard-bootstrap';
  try {
    // The admin user and key it creates are changes like any other: audited, by the deployment that ran it.
    const audit = {
      actor: { id: 'bootstrap', kind: 'system', name: 'bootstrap' },
      action: 'bootstrap',
      method: 'CLOUDFORMATION',
      path: event.StackId,
      requestId: event.RequestId,
      sourceIp: 'cloudformation',
    };
    const data = event.RequestType === 'Delete' ? {} : await withAudit(audit, bootstrap);
    logger.info('bootstrap done', { requestType: event.RequestType, ...data });
    await sendCustomResourceResponse(event, { status: 'SUCCESS', physicalResourceId, data });
  } catch (error) {
    logger.error('bootstrap failed', error as Error);
    await sendCustomResourceResponse(event, { status: 'FAILED', physicalResourceId, reason: (error as Error).message });
  }
  return undefined;
};
