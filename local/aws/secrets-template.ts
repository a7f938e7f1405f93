/**
 * The template's `AWS::SecretsManager::Secret` resources, created in the local
 * Secrets Manager as CloudFormation would: physical name, ARN, and the initial
 * value from `SecretString` or `GenerateSecretString`.
 *
 * Local override: resource Metadata `"switchyard:local:valueFromEnv": "VAR"`
 * — when VAR is set (non-empty) in the runtime's environment its value is used
 * instead of a generated one (under `GenerateStringKey` when there is one), so
 * a developer can fix e.g. the admin password. Only secrets not yet in the
 * store are created: a restart keeps values (and ignores a changed template
 * value or override, as CloudFormation keeps a generated value on update).
 */
import type { CfnResource } from '../types.js';
import type { TemplateResolver } from '../template.js';
import { generatePassword, type PasswordOptions, type SecretsManagerService } from './secrets-manager.js';

export const SECRET_TYPE = 'AWS::SecretsManager::Secret';
export const VALUE_FROM_ENV_METADATA = 'switchyard:local:valueFromEnv';

export interface TemplateSecret {
  logicalId: string;
  name: string;
  /** What `Ref` (and `Fn::GetAtt [Secret, Id]`) of the resource is in CloudFormation. */
  arn: string;
}

type SecretProperties = {
  Name?: unknown;
  Description?: unknown;
  KmsKeyId?: unknown;
  SecretString?: unknown;
  GenerateSecretString?: PasswordOptions & { SecretStringTemplate?: unknown; GenerateStringKey?: unknown };
  Tags?: Array<{ Key: unknown; Value: unknown }>;
};

/** Name and ARN of every secret of the template (what TemplateResolver's Ref should give). */
export function templateSecrets(resolver: TemplateResolver): TemplateSecret[] {
  return resolver
    .resourcesOfType(SECRET_TYPE)
    .map(([logicalId]) => ({ logicalId, name: resolver.nameOf(logicalId), arn: resolver.arnOf(logicalId) }));
}

/** The initial value CloudFormation would store: SecretString, else GenerateSecretString (with the local env override). */
export function initialSecretValue(
  logicalId: string,
  resource: CfnResource,
  resolver: TemplateResolver,
  env: Record<string, string | undefined> = process.env,
): string | undefined {
  const props = (resource.Properties ?? {}) as SecretProperties;
  const envVar = resource.Metadata?.[VALUE_FROM_ENV_METADATA];
  const override = typeof envVar === 'string' && env[envVar] ? env[envVar] : undefined;
  if (props.SecretString !== undefined) {
    if (override !== undefined) return override;
    return String(resolver.resolve(props.SecretString));
  }
  const generate = props.GenerateSecretString;
  if (!generate) return undefined;
  const options = resolver.resolve(generate) as NonNullable<SecretProperties['GenerateSecretString']>;
  const { SecretStringTemplate: template, GenerateStringKey: key } = options;
  if ((template === undefined) !== (key === undefined)) {
    throw new Error(`Secret ${logicalId}: GenerateSecretString needs both SecretStringTemplate and GenerateStringKey, or neither`);
  }
  const value = override ?? generatePassword(options);
  if (template === undefined) return value;
  let parsed: unknown;
  try {
    parsed = JSON.parse(String(template));
  } catch {
    throw new Error(`Secret ${logicalId}: SecretStringTemplate is not valid JSON`);
  }
  if (parsed === null || typeof parsed !== 'object' || Array.isArray(parsed)) {
    throw new Error(`Secret ${logicalId}: SecretStringTemplate must be a JSON object`);
  }
  return JSON.stringify({ ...(parsed as Record<string, unknown>), [String(key)]: value });
}

export interface SeedSecretsOptions {
  /** Where `switchyard:local:valueFromEnv` variables are read. Default `process.env`. */
  env?: Record<string, string | undefined>;
}

/**
 * Creates the template's secrets that the store does not have yet. Returns
 * every template secret (name and ARN, for the template resolution) and which
 * were created now.
 */
export function seedSecretsFromTemplate(
  service: SecretsManagerService,
  resolver: TemplateResolver,
  options: SeedSecretsOptions = {},
): { secrets: TemplateSecret[]; created: string[] } {
  const secrets = templateSecrets(resolver);
  const created: string[] = [];
  for (const secret of secrets) {
    if (service.has(secret.name)) continue;
    const resource = resolver.template.Resources[secret.logicalId] as CfnResource;
    const props = (resource.Properties ?? {}) as SecretProperties;
    const value = initialSecretValue(secret.logicalId, resource, resolver, options.env);
    const description = props.Description === undefined ? undefined : String(resolver.resolve(props.Description));
    const kmsKeyId = props.KmsKeyId === undefined ? undefined : String(resolver.resolve(props.KmsKeyId));
    const tags = Array.isArray(props.Tags)
      ? props.Tags.map((t) => ({ Key: String(resolver.resolve(t.Key)), Value: String(resolver.resolve(t.Value)) }))
      : undefined;
    service.createSecret(
      {
        Name: secret.name,
        ...(description !== undefined ? { Description: description } : {}),
        ...(kmsKeyId !== undefined ? { KmsKeyId: kmsKeyId } : {}),
        ...(tags ? { Tags: tags } : {}),
        ...(value !== undefined ? { SecretString: value } : {}),
      },
      secret.arn,
    );
    created.push(secret.name);
  }
  return { secrets, created };
}
