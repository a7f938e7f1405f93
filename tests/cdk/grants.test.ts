/** Least-privilege table access per function (lib/grants.ts), read from the synthesized template. */
import { beforeAll, describe, expect, it } from 'vitest';
import { keys } from '../../shared/store/keys.js';
import type { CfnTemplate } from '../../local/types.js';
import { synthTemplate } from '../support/synth.js';

interface Statement {
  Effect: 'Allow' | 'Deny';
  Action: string | string[];
  Resource: unknown;
  Condition?: Record<string, Record<string, string[]>>;
}

const WRITES = ['dynamodb:PutItem', 'dynamodb:UpdateItem', 'dynamodb:DeleteItem', 'dynamodb:BatchWriteItem'];
const READS = ['dynamodb:GetItem', 'dynamodb:Query', 'dynamodb:Scan', 'dynamodb:BatchGetItem'];
// An edge key's lookup item is a credential too (issue 10): the release functions may not write it either.
const IDENTITY = ['USER#*', 'USERNAME#*', 'APIKEY#*', 'APIKEYHASH#*', 'REFRESH#*', 'REVOKED#*', 'EDGEKEYHASH#*'];

let template: CfnTemplate;
beforeAll(() => {
  template = synthTemplate();
});

/** The DynamoDB statements of the role of the function built from functions/<name>/index.ts. */
function tableStatements(name: string): Statement[] {
  const resources = template.Resources as Record<
    string,
    { Type: string; Properties: Record<string, unknown>; Metadata?: Record<string, unknown> }
  >;
  const fn = Object.values(resources).find(
    (r) => r.Type === 'AWS::Lambda::Function' && r.Metadata?.['switchyard:entry'] === `functions/${name}/index.ts`,
  );
  if (!fn) throw new Error(`no function for ${name}`);
  const roleId = (fn.Properties.Role as { 'Fn::GetAtt': [string, string] })['Fn::GetAtt'][0];
  return Object.values(resources)
    .filter((r) => r.Type === 'AWS::IAM::Policy' && (r.Properties.Roles as Array<{ Ref: string }>).some((role) => role.Ref === roleId))
    .flatMap((r) => (r.Properties.PolicyDocument as { Statement: Statement[] }).Statement)
    .filter((s) => [s.Action].flat().some((a) => a.startsWith('dynamodb:')));
}

const actionsOf = (s: Statement) => [s.Action].flat();
const allows = (statements: Statement[], actions: string[]) =>
  statements.filter((s) => s.Effect === 'Allow' && actionsOf(s).some((a) => actions.includes(a)));
const leadingKeys = (s: Statement) => s.Condition?.['ForAllValues:StringLike']?.['dynamodb:LeadingKeys'];

/** The partition-key patterns a function may write, or 'any' for an unconditioned grant. */
function writablePatterns(name: string): string[] | 'any' {
  const writes = allows(tableStatements(name), WRITES);
  if (writes.some((s) => !leadingKeys(s))) return 'any';
  return writes.flatMap((s) => leadingKeys(s) ?? []).sort();
}

describe('table access per function', () => {
  it('health reads only the item /health/ready pings and writes nothing', () => {
    const statements = tableStatements('health');
    expect(writablePatterns('health')).toEqual([]);
    expect(statements).toHaveLength(1);
    expect(actionsOf(statements[0] as Statement)).toEqual(['dynamodb:GetItem', 'dynamodb:BatchGetItem']);
    expect(leadingKeys(statements[0] as Statement)).toEqual([keys.health.pk]);
  });

  it('the authorizer only gets the user, key-hash, edge-key-hash and revoked-token items, and writes nothing', () => {
    const statements = tableStatements('authorizer');
    expect(writablePatterns('authorizer')).toEqual([]);
    expect(statements.flatMap(actionsOf)).toEqual(['dynamodb:GetItem', 'dynamodb:BatchGetItem']);
    expect(leadingKeys(statements[0] as Statement)?.sort()).toEqual(['APIKEYHASH#*', 'EDGEKEYHASH#*', 'REVOKED#*', 'USER#*']);
  });

  // ---- edge locations (issue 10) ----
  it('edges writes its edges (heartbeats and assignments live in their partition) and their key items, audit and events only', () => {
    expect(allows(tableStatements('edges'), READS).length).toBeGreaterThan(0);
    expect(writablePatterns('edges')).toEqual(['AUDIT#*', 'EDGE#*', 'EDGEKEYHASH#*', 'IDEMPOTENCY', 'OUTBOX#*', 'RATE#*']);
  });

  it('the edge-health job queries the table (the EDGES partition) and writes edge items, audit and events only', () => {
    expect(allows(tableStatements('edge-health'), ['dynamodb:Query']).length).toBeGreaterThan(0);
    expect(writablePatterns('edge-health')).toEqual(['AUDIT#*', 'EDGE#*', 'OUTBOX#*']);
  });

  it('audit reads the table and writes only its callers’ rate-limit counters', () => {
    expect(allows(tableStatements('audit'), READS).length).toBeGreaterThan(0);
    expect(writablePatterns('audit')).toEqual(['RATE#*']);
  });

  it.each([
    ['auth', ['REFRESH#*', 'REVOKED#*']],
    // Their changes (users, keys) write their outbox events in the same transaction.
    ['users', ['USER#*', 'USERNAME#*', 'OUTBOX#*']],
    ['apikeys', ['APIKEY#*', 'APIKEYHASH#*', 'OUTBOX#*']],
  ])('%s writes its own items plus rate counters, audit lines and idempotency records only', (name, own) => {
    expect(writablePatterns(name)).toEqual([...own, 'AUDIT#*', 'IDEMPOTENCY', 'RATE#*'].sort());
  });

  it('bootstrap writes only the admin user and API key items, their audit lines and events', () => {
    expect(writablePatterns('bootstrap')).toEqual(['APIKEY#*', 'APIKEYHASH#*', 'AUDIT#*', 'OUTBOX#*', 'USER#*', 'USERNAME#*']);
  });

  it('the relay gets and marks outbox items only; the sweeper reads the table (the pending index) and marks outbox items only', () => {
    expect(writablePatterns('relay')).toEqual(['OUTBOX#*']);
    // Besides the stream reads its event source mapping needs (scoped to the stream's ARN).
    const STREAM_READS = ['dynamodb:DescribeStream', 'dynamodb:GetRecords', 'dynamodb:GetShardIterator', 'dynamodb:ListStreams'];
    expect(tableStatements('relay').flatMap(actionsOf).sort()).toEqual(
      ['dynamodb:BatchGetItem', 'dynamodb:GetItem', ...WRITES, ...STREAM_READS].sort(),
    );
    expect(allows(tableStatements('relay'), ['dynamodb:BatchGetItem']).map(leadingKeys)).toEqual([['OUTBOX#*']]);
    expect(writablePatterns('outbox-sweeper')).toEqual(['OUTBOX#*']);
    expect(allows(tableStatements('outbox-sweeper'), ['dynamodb:Query']).length).toBeGreaterThan(0);
  });

  it.each(['receivers', 'groups', 'events'])('%s writes its entities but is denied every identity item', (name) => {
    const statements = tableStatements(name);
    expect(writablePatterns(name)).toBe('any');
    const deny = statements.find((s) => s.Effect === 'Deny');
    expect(deny).toBeDefined();
    expect(actionsOf(deny as Statement).sort()).toEqual([...WRITES].sort());
    expect(deny?.Condition?.['ForAnyValue:StringLike']?.['dynamodb:LeadingKeys']?.sort()).toEqual([...IDENTITY].sort());
  });

  it('no function but the release ones has an unconditioned write grant', () => {
    const names = [
      'health',
      'audit',
      'auth',
      'users',
      'apikeys',
      'authorizer',
      'bootstrap',
      'relay',
      'outbox-sweeper',
      'edges',
      'edge-health',
    ];
    for (const name of names) expect(writablePatterns(name), name).not.toBe('any');
  });
});

describe('the key patterns', () => {
  const glob = (pattern: string) => new RegExp(`^${pattern.replace(/[.+?^${}()|[\]\\]/g, '\\$&').replace(/\*/g, '.*')}$`);
  it('match the keys shared/store/keys.ts builds, and no other kind', () => {
    const samples: Record<string, string> = {
      HEALTH: keys.health.pk,
      'USER#*': keys.user('u1').pk,
      'USERNAME#*': keys.username('ada').pk,
      'APIKEY#*': keys.apiKey('k1').pk,
      'APIKEYHASH#*': keys.apiKeyHash('h').pk,
      'REFRESH#*': keys.refreshFamily('f').pk,
      'REVOKED#*': keys.revokedJti('j').pk,
      'AUDIT#*': keys.audit('a').pk,
      'RATE#*': keys.rate('admin:u1', 60).pk,
      IDEMPOTENCY: keys.idempotencyPartition,
      'OUTBOX#*': keys.outbox('e1').pk,
      'SUBSCRIPTION#*': keys.subscription('s1').pk,
      'DELIVERY#*': keys.delivery('d1').pk,
      'ENDPOINT#*': keys.endpoint('https://hooks.example.com').pk,
      // ---- edge locations (issue 10) ----
      'EDGE#*': keys.edge('e1').pk,
      'EDGEKEYHASH#*': keys.edgeKeyHash('h').pk,
      // ---- configurations (issue 10) ----
      'CONFIG#*': keys.configuration('c1').pk,
      // ---- deployments (issue 10) ----
      'DEPLOYMENT#*': keys.deployment('d1').pk,
      'DEPLOYMENTS#ACTIVE': keys.activeDeployment('d1').pk,
      'DEPLOYMENTS#LOCK': keys.deploymentsLock.pk,
    };
    // Heartbeats and the assignment share the edge's partition, so EDGE#* covers them.
    expect(keys.heartbeat('e1', '2026-11-23T10:00:00.000Z', 'u').pk).toBe(keys.edge('e1').pk);
    expect(keys.edgeAssignment('e1').pk).toBe(keys.edge('e1').pk);
    for (const [pattern, key] of Object.entries(samples)) {
      expect(key, pattern).toMatch(glob(pattern));
      // Each pattern matches its own kind only (APIKEY#* must not match APIKEYHASH#…).
      for (const [other, otherKey] of Object.entries(samples))
        if (other !== pattern) expect(otherKey, `${pattern} vs ${other}`).not.toMatch(glob(pattern));
    }
  });
});
