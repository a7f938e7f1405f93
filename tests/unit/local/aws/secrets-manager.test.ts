import {
  CreateSecretCommand,
  DescribeSecretCommand,
  GetRandomPasswordCommand,
  GetSecretValueCommand,
  ListSecretsCommand,
  PutSecretValueCommand,
  ResourceExistsException,
  ResourceNotFoundException,
  SecretsManagerClient,
} from '@aws-sdk/client-secrets-manager';
import { mkdtempSync, readFileSync, rmSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterAll, afterEach, beforeAll, describe, expect, it, vi } from 'vitest';
import { startLocalAwsEndpoint, type LocalAwsEndpoint } from '../../../../local/aws/endpoint.js';
import { generatePassword, SECRETS_FILE, secretArn, SecretsManagerService } from '../../../../local/aws/secrets-manager/service.js';
import { seedSecretsFromTemplate } from '../../../../local/providers/secret.js';
import { TemplateResolver } from '../../../../local/template/resolver.js';
import { ADMIN_PASSWORD_ENV, ENV, synthSecretsFixture, type SecretsFixture } from '../../../fixtures/aws/cdk-stacks.js';

const REGION = 'us-east-1';
const ALNUM = /^[A-Za-z0-9]+$/;

let fixture: SecretsFixture;
let resolver: TemplateResolver;
beforeAll(() => {
  fixture = synthSecretsFixture();
  resolver = new TemplateResolver(fixture.template, { stackName: fixture.stackName, region: ENV.region, accountId: ENV.account });
});

const running: Array<{ endpoint: LocalAwsEndpoint; client: SecretsManagerClient }> = [];
const dirs: string[] = [];
afterEach(async () => {
  for (const { endpoint, client } of running.splice(0)) {
    client.destroy();
    await endpoint.stop();
  }
});
afterAll(() => {
  for (const dir of dirs) rmSync(dir, { recursive: true, force: true });
});

function tempDir(): string {
  const dir = mkdtempSync(path.join(tmpdir(), 'switchyard-secrets-'));
  dirs.push(dir);
  return dir;
}

async function start(options: { dataDir?: string; env?: Record<string, string | undefined> } = {}) {
  const service = new SecretsManagerService({
    region: ENV.region,
    accountId: ENV.account,
    ...(options.dataDir ? { dataDir: options.dataDir } : {}),
  });
  const secrets = seedSecretsFromTemplate(service, resolver, { env: options.env ?? {} });
  const seeded = { secrets, created: secrets.filter((s) => s.created).map((s) => s.name) };
  const endpoint = await startLocalAwsEndpoint({ services: [service] });
  const client = new SecretsManagerClient({
    endpoint: endpoint.endpoint,
    region: REGION,
    credentials: { accessKeyId: 'dummy', secretAccessKey: 'dummy' },
    maxAttempts: 1,
  });
  running.push({ endpoint, client });
  const arnOf = (logicalId: string) => seeded.secrets.find((s) => s.logicalId === logicalId)?.arn as string;
  return { service, seeded, endpoint, client, arnOf };
}

describe('local AWS endpoint', () => {
  it('answers an unknown target and bad JSON the way the SDK reads errors', async () => {
    const { endpoint } = await start();
    const unknown = await fetch(endpoint.endpoint, {
      method: 'POST',
      headers: { 'X-Amz-Target': 'AmazonSQS.SendMessage', 'Content-Type': 'application/x-amz-json-1.0' },
      body: '{}',
    });
    expect(unknown.status).toBe(400);
    expect(unknown.headers.get('content-type')).toBe('application/x-amz-json-1.0');
    expect(unknown.headers.get('x-amzn-errortype')).toBe('UnknownOperationException');
    expect(await unknown.json()).toMatchObject({ __type: 'UnknownOperationException' });

    const bad = await fetch(endpoint.endpoint, {
      method: 'POST',
      headers: { 'X-Amz-Target': 'secretsmanager.GetSecretValue', 'Content-Type': 'application/x-amz-json-1.1' },
      body: '{not json',
    });
    expect(bad.status).toBe(400);
    expect(await bad.json()).toMatchObject({ __type: 'SerializationException' });

    const noRoute = await fetch(`${endpoint.endpoint}/nowhere`);
    expect(noRoute.status).toBe(404);
  });

  it('serves plain routes by longest prefix, until unregistered', async () => {
    const { endpoint } = await start();
    const off = endpoint.addRoute('/a/', () => ({ statusCode: 200, body: 'a' }));
    endpoint.addRoute('/a/b/', ({ method, body }) => ({ statusCode: 201, body: `${method} ${body.toString()}` }));
    expect(await (await fetch(`${endpoint.endpoint}/a/x`)).text()).toBe('a');
    const put = await fetch(`${endpoint.endpoint}/a/b/c?q=1`, { method: 'PUT', body: 'hi' });
    expect([put.status, await put.text()]).toEqual([201, 'PUT hi']);
    off();
    expect((await fetch(`${endpoint.endpoint}/a/x`)).status).toBe(404);
  });
});

describe('local Secrets Manager through the real SDK client', () => {
  it('seeds the template secrets with CloudFormation names, ARNs and values', async () => {
    const { client, seeded, arnOf } = await start();
    expect(seeded.created).toHaveLength(3);
    const admin = seeded.secrets.find((s) => s.logicalId === fixture.adminPassword);
    expect(admin?.name).toBe(`SecretsFixture-${fixture.adminPassword}`);
    expect(admin?.arn).toMatch(
      new RegExp(`^arn:aws:secretsmanager:us-east-1:123456789012:secret:SecretsFixture-${fixture.adminPassword}-[A-Za-z0-9]{6}$`),
    );

    const out = await client.send(new GetSecretValueCommand({ SecretId: arnOf(fixture.adminPassword) }));
    const value = JSON.parse(out.SecretString as string) as { username: string; password: string };
    expect(value.username).toBe('admin');
    expect(value.password).toHaveLength(32);
    expect(value.password).toMatch(ALNUM);
    expect(out.VersionStages).toEqual(['AWSCURRENT']);
    expect(out.CreatedDate).toBeInstanceOf(Date);

    const apiKey = await client.send(new GetSecretValueCommand({ SecretId: arnOf(fixture.apiKey) }));
    expect(apiKey.SecretString).toHaveLength(43);
    expect(apiKey.SecretString).toMatch(ALNUM);

    // By name, and by the ARN without its random suffix, as AWS allows.
    const plain = await client.send(new GetSecretValueCommand({ SecretId: 'switchyard/plain' }));
    expect(plain.SecretString).toBe('hello');
    expect(plain.ARN).toBe(secretArn(ENV.region, ENV.account, 'switchyard/plain'));
    const partial = await client.send(new GetSecretValueCommand({ SecretId: (plain.ARN as string).slice(0, -7) }));
    expect(partial.SecretString).toBe('hello');
  });

  it('puts versions: the new one becomes AWSCURRENT, the old one AWSPREVIOUS', async () => {
    const { client, arnOf } = await start();
    const secretId = arnOf(fixture.apiKey);
    const before = await client.send(new GetSecretValueCommand({ SecretId: secretId }));

    const put = await client.send(new PutSecretValueCommand({ SecretId: secretId, SecretString: 'second' }));
    expect(put.VersionStages).toEqual(['AWSCURRENT']);
    expect(put.VersionId).toBeTruthy();
    expect((await client.send(new GetSecretValueCommand({ SecretId: secretId }))).SecretString).toBe('second');
    const previous = await client.send(new GetSecretValueCommand({ SecretId: secretId, VersionStage: 'AWSPREVIOUS' }));
    expect(previous.SecretString).toBe(before.SecretString);
    expect(previous.VersionId).toBe(before.VersionId);
    const byId = await client.send(new GetSecretValueCommand({ SecretId: secretId, VersionId: before.VersionId }));
    expect(byId.SecretString).toBe(before.SecretString);

    await client.send(
      new PutSecretValueCommand({ SecretId: secretId, SecretString: 'third', ClientRequestToken: 'token-third-000000000000000000000000' }),
    );
    // The same token again is an idempotent retry; with another value it is a conflict.
    await client.send(
      new PutSecretValueCommand({ SecretId: secretId, SecretString: 'third', ClientRequestToken: 'token-third-000000000000000000000000' }),
    );
    await expect(
      client.send(
        new PutSecretValueCommand({
          SecretId: secretId,
          SecretString: 'other',
          ClientRequestToken: 'token-third-000000000000000000000000',
        }),
      ),
    ).rejects.toBeInstanceOf(ResourceExistsException);

    const described = await client.send(new DescribeSecretCommand({ SecretId: secretId }));
    expect(described.ARN).toBe(secretId);
    expect(described.VersionIdsToStages).toEqual({
      [before.VersionId as string]: [],
      [put.VersionId as string]: ['AWSPREVIOUS'],
      'token-third-000000000000000000000000': ['AWSCURRENT'],
    });
    expect(described.LastChangedDate).toBeInstanceOf(Date);
    const admin = await client.send(new DescribeSecretCommand({ SecretId: arnOf(fixture.adminPassword) }));
    expect(admin.Description).toBe('Initial admin password');
  });

  it('answers ResourceNotFoundException as the SDK expects', async () => {
    const { client, arnOf } = await start();
    const missing = client.send(new GetSecretValueCommand({ SecretId: 'nope' }));
    await expect(missing).rejects.toBeInstanceOf(ResourceNotFoundException);
    await expect(missing).rejects.toMatchObject({
      name: 'ResourceNotFoundException',
      message: "Secrets Manager can't find the specified secret.",
      $metadata: { httpStatusCode: 400 },
    });
    await expect(
      client.send(new GetSecretValueCommand({ SecretId: arnOf(fixture.plain), VersionStage: 'AWSPREVIOUS' })),
    ).rejects.toBeInstanceOf(ResourceNotFoundException);
    await expect(client.send(new PutSecretValueCommand({ SecretId: 'nope', SecretString: 'x' }))).rejects.toBeInstanceOf(
      ResourceNotFoundException,
    );
  });

  it('creates and lists secrets', async () => {
    const { client } = await start();
    const created = await client.send(
      new CreateSecretCommand({ Name: 'app/extra', SecretString: 'v1', Tags: [{ Key: 'team', Value: 'core' }] }),
    );
    expect(created.ARN).toBe(secretArn(ENV.region, ENV.account, 'app/extra'));
    await expect(client.send(new CreateSecretCommand({ Name: 'app/extra', SecretString: 'v2' }))).rejects.toBeInstanceOf(
      ResourceExistsException,
    );
    expect((await client.send(new GetSecretValueCommand({ SecretId: 'app/extra' }))).SecretString).toBe('v1');

    const all = await client.send(new ListSecretsCommand({}));
    expect(all.SecretList?.map((s) => s.Name)).toEqual(expect.arrayContaining(['switchyard/plain', 'app/extra']));
    expect(all.SecretList).toHaveLength(4);
    const filtered = await client.send(new ListSecretsCommand({ Filters: [{ Key: 'name', Values: ['app/'] }] }));
    expect(filtered.SecretList?.map((s) => s.Name)).toEqual(['app/extra']);
    const paged = await client.send(new ListSecretsCommand({ MaxResults: 3 }));
    expect(paged.SecretList).toHaveLength(3);
    const rest = await client.send(new ListSecretsCommand({ MaxResults: 3, NextToken: paged.NextToken }));
    expect(rest.SecretList).toHaveLength(1);
    expect(rest.NextToken).toBeUndefined();

    const random = await client.send(new GetRandomPasswordCommand({ PasswordLength: 20, ExcludePunctuation: true }));
    expect(random.RandomPassword).toMatch(/^[A-Za-z0-9]{20}$/);
  });

  it('keeps values across a restart with the same data dir, and seeds only what is missing', async () => {
    const dataDir = tempDir();
    const first = await start({ dataDir });
    const adminArn = first.arnOf(fixture.adminPassword);
    const original = (await first.client.send(new GetSecretValueCommand({ SecretId: adminArn }))).SecretString;
    await first.client.send(new PutSecretValueCommand({ SecretId: first.arnOf(fixture.apiKey), SecretString: 'rotated' }));
    expect(statSync(path.join(dataDir, SECRETS_FILE)).mode & 0o777).toBe(0o600);

    // Same data dir, and an env override that must not replace the stored value.
    const second = await start({ dataDir, env: { [ADMIN_PASSWORD_ENV]: 'from-env' } });
    expect(second.seeded.created).toEqual([]);
    expect((await second.client.send(new GetSecretValueCommand({ SecretId: adminArn }))).SecretString).toBe(original);
    expect((await second.client.send(new GetSecretValueCommand({ SecretId: second.arnOf(fixture.apiKey) }))).SecretString).toBe('rotated');

    // A fresh data dir generates anew.
    const third = await start({ dataDir: tempDir() });
    expect((await third.client.send(new GetSecretValueCommand({ SecretId: adminArn }))).SecretString).not.toBe(original);
    const stored = JSON.parse(readFileSync(path.join(dataDir, SECRETS_FILE), 'utf8')) as { secrets: unknown[] };
    expect(stored.secrets).toHaveLength(3);
  });

  it('uses the valueFromEnv variable instead of a generated value', async () => {
    const { client, arnOf } = await start({ env: { [ADMIN_PASSWORD_ENV]: 'correct horse battery staple' } });
    const out = await client.send(new GetSecretValueCommand({ SecretId: arnOf(fixture.adminPassword) }));
    expect(JSON.parse(out.SecretString as string)).toEqual({ username: 'admin', password: 'correct horse battery staple' });
    // An empty variable counts as unset.
    const other = await start({ env: { [ADMIN_PASSWORD_ENV]: '' } });
    const generated = await other.client.send(new GetSecretValueCommand({ SecretId: other.arnOf(fixture.adminPassword) }));
    expect((JSON.parse(generated.SecretString as string) as { password: string }).password).toMatch(/^[A-Za-z0-9]{32}$/);
  });

  it('serves Powertools getSecret through AWS_ENDPOINT_URL_SECRETS_MANAGER', async () => {
    const { endpoint } = await start();
    vi.stubEnv('AWS_ENDPOINT_URL_SECRETS_MANAGER', endpoint.endpoint);
    vi.stubEnv('AWS_REGION', REGION);
    vi.stubEnv('AWS_ACCESS_KEY_ID', 'dummy');
    vi.stubEnv('AWS_SECRET_ACCESS_KEY', 'dummy');
    try {
      const { getSecret } = await import('@aws-lambda-powertools/parameters/secrets');
      expect(await getSecret('switchyard/plain')).toBe('hello');
    } finally {
      vi.unstubAllEnvs();
    }
  });
});

describe('generatePassword (GenerateSecretString semantics)', () => {
  it('defaults to 32 characters with each type included', () => {
    for (let i = 0; i < 50; i += 1) {
      const p = generatePassword();
      expect(p).toHaveLength(32);
      expect(p).toMatch(/[a-z]/);
      expect(p).toMatch(/[A-Z]/);
      expect(p).toMatch(/[0-9]/);
      expect(p).toMatch(/[^A-Za-z0-9]/);
      expect(p).not.toContain(' ');
    }
  });

  it('honours the exclusions, IncludeSpace and RequireEachIncludedType', () => {
    for (let i = 0; i < 50; i += 1) {
      expect(generatePassword({ PasswordLength: 12, ExcludeUppercase: true, ExcludeLowercase: true, ExcludePunctuation: true })).toMatch(
        /^[0-9]{12}$/,
      );
      expect(
        generatePassword({ PasswordLength: 40, ExcludeCharacters: 'abcdefghijklmnopqrstuvwxyz0123456789', ExcludePunctuation: true }),
      ).toMatch(/^[A-Z]{40}$/);
      const spaced = generatePassword({
        PasswordLength: 5,
        ExcludeLowercase: true,
        ExcludeUppercase: true,
        ExcludeNumbers: true,
        ExcludePunctuation: true,
        IncludeSpace: true,
      });
      expect(spaced).toBe('     ');
      expect(generatePassword({ PasswordLength: 4, ExcludePunctuation: true, IncludeSpace: true })).toMatch(
        /^(?=.*[a-z])(?=.*[A-Z])(?=.*[0-9])(?=.* ).{4}$/,
      );
    }
    // Without RequireEachIncludedType one character is possible even with four types.
    expect(generatePassword({ PasswordLength: 1, RequireEachIncludedType: false })).toHaveLength(1);
    expect(() => generatePassword({ PasswordLength: 3 })).toThrow(/too short/);
    expect(() =>
      generatePassword({ ExcludeLowercase: true, ExcludeUppercase: true, ExcludeNumbers: true, ExcludePunctuation: true }),
    ).toThrow(/exclude every character/);
  });
});
