import fc from 'fast-check';
import { beforeEach, describe, expect, it } from 'vitest';
import {
  CreateWebhookSubscriptionBody,
  RotateSecretBody,
  UpdateWebhookSubscriptionBody,
  WebhookDeliveryDetailSchema,
  WebhookSubscriptionSchema,
} from '../../../shared/api/schemas.js';
import {
  NotFoundError,
  PreconditionFailedError,
  RuleViolationError,
  ValidationError,
  VersionConflictError,
} from '../../../shared/domain/errors.js';
import type { Page } from '../../../shared/domain/model.js';
import {
  activeSecrets,
  MAX_LIVE_SECRETS,
  beginAttempt,
  deliveryConfig,
  matchesEventType,
  nextStep,
  rotateSecrets,
  subscriptionWants,
  SubscriptionService,
  validateEventTypes,
  type SubscriptionChange,
  type SubscriptionHealth,
  type SubscriptionQuery,
  type SubscriptionStore,
  type WebhookDelivery,
  type WebhookSecret,
  type WebhookSubscription,
} from '../../../shared/domain/webhooks.js';

const KNOWN = ['receiver.created', 'receiver.deleted', 'deployment.rolled_back', 'deployment.completed', 'edge.unhealthy', 'webhook.test'];
const T0 = '2026-11-23T10:00:00.000Z';
const at = (seconds: number) => new Date(Date.parse(T0) + seconds * 1000).toISOString();

describe('eventTypes matching', () => {
  const table: Array<[pattern: string, type: string, matches: boolean]> = [
    ['*', 'deployment.rolled_back', true],
    ['*', 'webhook.test', true],
    ['deployment.*', 'deployment.rolled_back', true],
    ['deployment.*', 'deployment.completed', true],
    ['deployment.*', 'deployments.completed', false],
    ['deployment.*', 'deployment', false],
    ['deployment.*', 'edge.unhealthy', false],
    ['deployment.rolled_back', 'deployment.rolled_back', true],
    ['deployment.rolled_back', 'deployment.rolled_back_x', false],
    ['deployment.rolled_back', 'deployment.completed', false],
    ['Deployment.rolled_back', 'deployment.rolled_back', false],
    ['edge.*', 'edge.unhealthy', true],
  ];
  it.each(table)('%s selects %s: %s', (pattern, type, matches) => {
    expect(matchesEventType(pattern, type)).toBe(matches);
  });

  it('a subscription wants a type when it is enabled and any pattern selects it', () => {
    expect(subscriptionWants({ enabled: true, eventTypes: ['edge.unhealthy', 'deployment.*'] }, 'deployment.completed')).toBe(true);
    expect(subscriptionWants({ enabled: true, eventTypes: ['edge.unhealthy'] }, 'deployment.completed')).toBe(false);
    expect(subscriptionWants({ enabled: false, eventTypes: ['*'] }, 'deployment.completed')).toBe(false);
  });

  it('property: a validated list selects exactly the known types some pattern names', () => {
    const pattern = fc.constantFrom('*', 'receiver.*', 'deployment.*', 'edge.*', ...KNOWN);
    fc.assert(
      fc.property(fc.array(pattern, { minLength: 1, maxLength: 8 }), (patterns) => {
        const list = validateEventTypes(patterns, KNOWN);
        expect(new Set(list)).toEqual(new Set(patterns));
        for (const type of KNOWN) {
          const expected = patterns.includes('*') || patterns.includes(type) || patterns.includes(`${type.split('.')[0]}.*`);
          expect(subscriptionWants({ enabled: true, eventTypes: list }, type)).toBe(expected);
        }
      }),
    );
  });
});

describe('eventTypes validation', () => {
  const errorsOf = (patterns: string[]) => {
    try {
      validateEventTypes(patterns, KNOWN);
    } catch (err) {
      expect(err).toBeInstanceOf(ValidationError);
      return (err as ValidationError).errors!.map((e) => e.path);
    }
    return [];
  };

  it('accepts exact types, known areas and *, dropping duplicates in order', () => {
    expect(validateEventTypes(['edge.*', 'receiver.created', 'edge.*', '*'], KNOWN)).toEqual(['edge.*', 'receiver.created', '*']);
  });

  it('refuses an empty or oversized list, unknown types and areas, and stray wildcards, naming each entry', () => {
    expect(errorsOf([])).toEqual(['body.eventTypes']);
    expect(errorsOf(Array.from({ length: 51 }, () => '*'))).toEqual(['body.eventTypes']);
    expect(errorsOf(['receiver.created', 'receiver.exploded', 'widget.*', 'deploy*', '*.created', 'deployment.*.x'])).toEqual([
      'body.eventTypes.1',
      'body.eventTypes.2',
      'body.eventTypes.3',
      'body.eventTypes.4',
      'body.eventTypes.5',
    ]);
  });
});

describe('secret rotation', () => {
  it('keeps the old secret signing for the overlap, then only the new one', () => {
    const secrets = rotateSecrets([{ value: 'whsec_old', createdAt: T0 }], 'whsec_new', at(10), 3600);
    expect(secrets).toEqual([
      { value: 'whsec_new', createdAt: at(10) },
      { value: 'whsec_old', createdAt: T0, expiresAt: at(3610) },
    ]);
    expect(activeSecrets({ secrets }, at(3609))).toEqual(['whsec_new', 'whsec_old']);
    expect(activeSecrets({ secrets }, at(3610))).toEqual(['whsec_new']);
  });

  it('drops expired secrets, and a rotation during an overlap drops the oldest: never more than two sign', () => {
    let secrets: WebhookSecret[] = [{ value: 's0', createdAt: T0 }];
    secrets = rotateSecrets(secrets, 's1', at(0), 100);
    expect(secrets.map((s) => [s.value, s.expiresAt])).toEqual([
      ['s1', undefined],
      ['s0', at(100)],
    ]);
    secrets = rotateSecrets(secrets, 's2', at(50), 1000);
    expect(secrets.map((s) => [s.value, s.expiresAt])).toEqual([
      ['s2', undefined],
      ['s1', at(1050)],
    ]);
    secrets = rotateSecrets(secrets, 's3', at(2000), 1000);
    expect(secrets.map((s) => s.value)).toEqual(['s3', 's2']);
    for (let i = 4; i < 12; i++) secrets = rotateSecrets(secrets, `s${i}`, at(3000), 1000);
    expect(secrets).toHaveLength(MAX_LIVE_SECRETS);
    expect(rotateSecrets(secrets, 'now', at(3000), 0).map((s) => s.value)).toEqual(['now']);
  });
});

class MemoryStore implements SubscriptionStore {
  readonly subscriptions = new Map<string, WebhookSubscription>();
  readonly health = new Map<string, SubscriptionHealth>();
  readonly deliveries: WebhookDelivery[] = [];
  readonly changes: SubscriptionChange[] = [];

  createSubscription(subscription: WebhookSubscription, health: SubscriptionHealth, change: SubscriptionChange) {
    this.subscriptions.set(subscription.id, structuredClone(subscription));
    this.health.set(subscription.id, health);
    this.changes.push(change);
    return Promise.resolve();
  }
  getSubscription(id: string) {
    const found = this.subscriptions.get(id);
    return Promise.resolve(found && structuredClone(found));
  }
  replaceSubscription(
    subscription: WebhookSubscription,
    expectedRevision: number,
    change: SubscriptionChange,
    health?: SubscriptionHealth,
  ) {
    const current = this.subscriptions.get(subscription.id);
    if (!current || current.revision !== expectedRevision)
      return Promise.reject(new VersionConflictError('WebhookSubscription', subscription.id, expectedRevision));
    this.subscriptions.set(subscription.id, structuredClone(subscription));
    if (health) this.health.set(subscription.id, health);
    this.changes.push(change);
    return Promise.resolve();
  }
  deleteSubscription(id: string, expectedRevision: number, change: SubscriptionChange) {
    if (this.subscriptions.get(id)?.revision !== expectedRevision)
      return Promise.reject(new VersionConflictError('WebhookSubscription', id, expectedRevision));
    this.subscriptions.delete(id);
    this.health.delete(id);
    this.changes.push(change);
    return Promise.resolve();
  }
  listSubscriptions(query: SubscriptionQuery): Promise<Page<WebhookSubscription>> {
    const all = [...this.subscriptions.values()].filter((s) => query.enabled === undefined || s.enabled === query.enabled);
    return Promise.resolve({ items: all.slice(0, query.limit) });
  }
  createDelivery(delivery: WebhookDelivery) {
    this.deliveries.push(delivery);
    return Promise.resolve();
  }
}

describe('SubscriptionService', () => {
  let store: MemoryStore;
  let now: string;
  let service: SubscriptionService;
  let checkedUrls: string[];

  beforeEach(() => {
    store = new MemoryStore();
    now = T0;
    checkedUrls = [];
    let id = 0;
    let secret = 0;
    service = new SubscriptionService(
      store,
      { now: () => now },
      { next: () => `00000000-0000-4000-8000-${String(++id).padStart(12, '0')}` },
      { generate: () => `whsec_secret${++secret}` },
      {
        check: (url) => {
          checkedUrls.push(url);
          return url.includes('169.254.169.254')
            ? Promise.reject(new RuleViolationError('link-local address refused', 'URL_LINK_LOCAL'))
            : Promise.resolve();
        },
      },
      { knownEventTypes: KNOWN },
    );
  });

  const create = () => service.create({ url: 'https://hooks.example.com/in', eventTypes: ['deployment.*'], description: 'ops' });

  it('creates an enabled subscription, shows the secret once and never again', async () => {
    const created = await create();
    expect(created).toMatchObject({
      url: 'https://hooks.example.com/in',
      eventTypes: ['deployment.*'],
      enabled: true,
      revision: 1,
      secret: 'whsec_secret1',
    });
    expect(checkedUrls).toEqual(['https://hooks.example.com/in']);
    expect(store.changes).toEqual(['subscription.created']);
    expect(store.health.get(created.id)).toEqual({ subscriptionId: created.id, consecutiveFailedDeliveries: 0 });
    const read = await service.get(created.id);
    expect(read).not.toHaveProperty('secret');
    expect(read).not.toHaveProperty('secrets');
    expect((await service.list({ limit: 10 })).items[0]).not.toHaveProperty('secrets');
    expect(WebhookSubscriptionSchema.parse(read)).toEqual(read);
  });

  it('refuses bad input before storing anything', async () => {
    await expect(service.create({ url: 'https://hooks.example.com', eventTypes: ['nope.*'] })).rejects.toThrow(ValidationError);
    await expect(service.create({ url: 'https://hooks.example.com', eventTypes: ['*'], description: 'x'.repeat(2001) })).rejects.toThrow(
      ValidationError,
    );
    await expect(service.create({ url: 'ftp://hooks.example.com', eventTypes: ['*'] })).rejects.toThrow(ValidationError);
    await expect(service.create({ url: 'https://user:pw@hooks.example.com', eventTypes: ['*'] })).rejects.toThrow(ValidationError);
    await expect(service.create({ url: 'http://169.254.169.254/latest', eventTypes: ['*'] })).rejects.toThrow(RuleViolationError);
    expect(store.subscriptions.size).toBe(0);
  });

  it('updates with optimistic locking and re-checks a changed URL only', async () => {
    const { id } = await create();
    const updated = await service.update(id, { revision: 1, description: 'on call' });
    expect(updated).toMatchObject({ description: 'on call', revision: 2, updatedAt: T0 });
    expect(checkedUrls).toHaveLength(1);
    await service.update(id, { url: 'https://other.example.com/in' }, '"2"');
    expect(checkedUrls).toEqual(['https://hooks.example.com/in', 'https://other.example.com/in']);
    await expect(service.update(id, { revision: 2, description: 'stale' })).rejects.toThrow(VersionConflictError);
    await expect(service.update(id, { description: 'x' }, '"1"')).rejects.toThrow(PreconditionFailedError);
    await expect(service.update(id, { description: 'no revision' })).rejects.toThrow(ValidationError);
    await expect(service.update(id, { revision: 3, eventTypes: ['edge.nope'] })).rejects.toThrow(ValidationError);
    expect(store.changes).toEqual(['subscription.created', 'subscription.updated', 'subscription.updated']);
  });

  it('disables and enables idempotently; enabling starts the failure counters afresh', async () => {
    const { id } = await create();
    store.health.set(id, { subscriptionId: id, consecutiveFailedDeliveries: 49, failingSince: T0 });
    now = at(5);
    expect(await service.disable(id)).toMatchObject({ enabled: false, disabledReason: 'manual', disabledAt: at(5), revision: 2 });
    expect(await service.disable(id)).toMatchObject({ revision: 2 });
    const enabled = await service.enable(id, 2);
    expect(enabled).toMatchObject({ enabled: true, revision: 3 });
    expect(enabled).not.toHaveProperty('disabledReason');
    expect(store.health.get(id)).toEqual({ subscriptionId: id, consecutiveFailedDeliveries: 0 });
    await service.enable(id);
    expect(store.changes).toEqual(['subscription.created', 'subscription.disabled', 'subscription.enabled']);
    await expect(service.disable(id, 1)).rejects.toThrow(VersionConflictError);
  });

  it('auto-disables once with the reason, and not a subscription that is already off or gone', async () => {
    const { id } = await create();
    // A 410 on a delivery says so.
    const config = deliveryConfig();
    const step = nextStep(
      beginAttempt({ ...(await service.test(id)), kind: 'event' }, config, T0),
      { kind: 'response', statusCode: 410, latencyMs: 5 },
      config,
      T0,
    );
    expect(await service.autoDisable(id, step.disableSubscription!)).toMatchObject({ enabled: false, disabledReason: 'endpoint-gone' });
    expect(await service.autoDisable(id, 'failing-too-long')).toBeUndefined();
    expect(await service.autoDisable('missing', 'failing-too-long')).toBeUndefined();
    expect(store.changes.filter((c) => c === 'subscription.disabled')).toHaveLength(1);
  });

  it('rotates the secret: returned once, the old one signing beside it for 24 h by default', async () => {
    const { id } = await create();
    now = at(60);
    const rotated = await service.rotateSecret(id);
    expect(rotated).toMatchObject({ secret: 'whsec_secret2', previousSecretsExpireAt: at(60 + 86400), revision: 2 });
    const stored = store.subscriptions.get(id)!;
    expect(activeSecrets(stored, at(61))).toEqual(['whsec_secret2', 'whsec_secret1']);
    expect(activeSecrets(stored, at(60 + 86400))).toEqual(['whsec_secret2']);
    await service.rotateSecret(id, { overlapSeconds: 0 });
    expect(activeSecrets(store.subscriptions.get(id)!, at(60))).toEqual(['whsec_secret3']);
    await expect(service.rotateSecret(id, { overlapSeconds: -1 })).rejects.toThrow(ValidationError);
    await expect(service.rotateSecret(id, { revision: 1 })).rejects.toThrow(VersionConflictError);
    expect(store.changes).toEqual(['subscription.created', 'subscription.secret_rotated', 'subscription.secret_rotated']);
  });

  it('queues a webhook.test delivery carrying a CloudEvent, even while disabled', async () => {
    const { id } = await create();
    await service.disable(id);
    const delivery = await service.test(id);
    expect(delivery).toMatchObject({ subscriptionId: id, eventType: 'webhook.test', kind: 'test', status: 'PENDING', attemptsInRun: 0 });
    expect(JSON.parse(delivery.body)).toMatchObject({
      specversion: '1.0',
      type: 'webhook.test',
      source: 'switchyard/webhooks',
      id: delivery.eventId,
      subject: id,
    });
    expect(store.deliveries).toEqual([delivery]);
    expect(WebhookDeliveryDetailSchema.parse({ ...delivery, attempts: [] })).toMatchObject({ id: delivery.id });
  });

  it('deletes at a revision, and answers 404 afterwards', async () => {
    const { id } = await create();
    await expect(service.delete(id, undefined)).rejects.toThrow(ValidationError);
    await service.delete(id, 1);
    await expect(service.get(id)).rejects.toThrow(NotFoundError);
    expect(store.health.has(id)).toBe(false);
    expect(store.changes.at(-1)).toBe('subscription.deleted');
  });
});

describe('API schemas', () => {
  it('accept the documented bodies and refuse unknown fields and non-http URLs', () => {
    expect(CreateWebhookSubscriptionBody.safeParse({ url: 'https://h.example.com/x', eventTypes: ['*'] }).success).toBe(true);
    expect(CreateWebhookSubscriptionBody.safeParse({ url: 'https://h.example.com/x', eventTypes: [] }).success).toBe(false);
    expect(CreateWebhookSubscriptionBody.safeParse({ url: 'file:///etc/passwd', eventTypes: ['*'] }).success).toBe(false);
    expect(CreateWebhookSubscriptionBody.safeParse({ url: 'https://h.example.com', eventTypes: ['*'], secret: 'x' }).success).toBe(false);
    expect(UpdateWebhookSubscriptionBody.safeParse({ revision: 2 }).success).toBe(false);
    expect(UpdateWebhookSubscriptionBody.safeParse({ revision: 2, enabled: false }).success).toBe(false); // enable/disable have their own routes
    expect(RotateSecretBody.safeParse({ overlapSeconds: 3600 }).success).toBe(true);
    expect(RotateSecretBody.safeParse({ overlapSeconds: 8 * 86400 }).success).toBe(false);
  });
});
