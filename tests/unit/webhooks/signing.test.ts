/** Standard Webhooks signing: the specification's vector, the reference library verifying what we sign, rotation overlap, sealed storage. */
import { Webhook, WebhookVerificationError } from 'standardwebhooks';
import { afterEach, describe, expect, it, vi } from 'vitest';
import { activeSecrets, rotateSecrets, DEFAULT_ROTATION_OVERLAP_SECONDS } from '../../../shared/domain/webhooks.js';
import {
  generateWebhookSecret,
  generateWrappingKey,
  isWebhookSecret,
  openWebhookSecret,
  parseWrappingKeyRing,
  sealWebhookSecret,
  signatureHeaders,
  webhookSecretKey,
} from '../../../shared/webhooks/signing.js';

/** The test vector every Standard Webhooks library checks (libraries/{go,javascript,python} tests, `sign`). */
const VECTOR = {
  secret: 'whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw',
  id: 'msg_p5jXN8AQM9LWM0D4loKWxJek',
  timestamp: 1614265330,
  body: '{"test": 2432232314}',
  signature: 'v1,g0hM9SsE+OTPJTGt/tmIKtSyZlE3uFJELVlNIOLJ1OE=',
};

const NOW = new Date('2026-11-23T12:00:00.000Z');
const body = JSON.stringify({ specversion: '1.0', id: 'e1', type: 'deployment.rolled_back', subject: 'd1', data: { ok: true } });

/** The library checks the timestamp against Date.now(): pin it. */
function at(date: Date) {
  vi.useFakeTimers({ now: date, toFake: ['Date'] });
}
afterEach(() => {
  vi.useRealTimers();
});

const verifies = (secret: string, payload: string, headers: Record<string, string>) => {
  try {
    new Webhook(secret).verify(payload, headers, { jsonParse: false });
    return true;
  } catch (error) {
    if (error instanceof WebhookVerificationError) return false;
    throw error;
  }
};

describe('the specification test vector', () => {
  it('signs to the expected v1 signature', () => {
    const headers = signatureHeaders({
      id: VECTOR.id,
      timestamp: new Date(VECTOR.timestamp * 1000),
      body: VECTOR.body,
      secrets: [VECTOR.secret],
    });
    expect(headers).toEqual({
      'webhook-id': VECTOR.id,
      'webhook-timestamp': String(VECTOR.timestamp),
      'webhook-signature': VECTOR.signature,
    });
  });

  it('signs bytes the same as the string they encode, and drops sub-second precision', () => {
    const headers = signatureHeaders({
      id: VECTOR.id,
      timestamp: new Date(VECTOR.timestamp * 1000 + 999),
      body: Buffer.from(VECTOR.body, 'utf8'),
      secrets: [VECTOR.secret],
    });
    expect(headers['webhook-signature']).toBe(VECTOR.signature);
    expect(headers['webhook-timestamp']).toBe(String(VECTOR.timestamp));
  });

  it('is what the reference library verifies at that time, and refuses five minutes and a second later', () => {
    const headers = signatureHeaders({
      id: VECTOR.id,
      timestamp: new Date(VECTOR.timestamp * 1000),
      body: VECTOR.body,
      secrets: [VECTOR.secret],
    });
    at(new Date(VECTOR.timestamp * 1000 + 60_000));
    expect(new Webhook(VECTOR.secret).verify(VECTOR.body, headers)).toEqual({ test: 2432232314 });
    at(new Date((VECTOR.timestamp + 301) * 1000));
    expect(() => new Webhook(VECTOR.secret).verify(VECTOR.body, headers)).toThrow(/too old/);
  });
});

describe('secrets', () => {
  it('are whsec_ + base64 of 32 random bytes, never twice the same', () => {
    const secrets = Array.from({ length: 50 }, generateWebhookSecret);
    for (const secret of secrets) {
      expect(secret).toMatch(/^whsec_[A-Za-z0-9+/]{43}=$/);
      expect(webhookSecretKey(secret)).toHaveLength(32);
      expect(() => new Webhook(secret)).not.toThrow();
    }
    expect(new Set(secrets).size).toBe(50);
  });

  it('outside 24–64 bytes, without the prefix or not base64 are refused, and the error never quotes the secret', () => {
    const bad = [
      'MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw', // no prefix
      `whsec_${Buffer.alloc(23, 7).toString('base64')}`,
      `whsec_${Buffer.alloc(65, 7).toString('base64')}`,
      'whsec_not*base64*at*all*but*long*enough*for*it',
    ];
    for (const secret of bad) {
      expect(isWebhookSecret(secret)).toBe(false);
      expect(() => webhookSecretKey(secret)).toThrow(TypeError);
      try {
        webhookSecretKey(secret);
      } catch (error) {
        expect((error as Error).message).not.toContain(secret.slice(6, 20));
      }
    }
    expect(isWebhookSecret(`whsec_${Buffer.alloc(24, 1).toString('base64')}`)).toBe(true);
    expect(isWebhookSecret(`whsec_${Buffer.alloc(64, 1).toString('base64')}`)).toBe(true);
  });
});

describe('signatureHeaders', () => {
  it('gives one v1 signature per active secret, each verifying with its own secret alone', () => {
    const [a, b] = [generateWebhookSecret(), generateWebhookSecret()] as [string, string];
    const headers = signatureHeaders({ id: 'dlv_1', timestamp: NOW, body, secrets: [a, b] });
    const signatures = headers['webhook-signature'].split(' ');
    expect(signatures).toHaveLength(2);
    at(NOW);
    for (const [secret, signature] of [
      [a, signatures[0]],
      [b, signatures[1]],
    ] as const) {
      expect(signature).toMatch(/^v1,[A-Za-z0-9+/]{43}=$/);
      expect(verifies(secret, body, { ...headers, 'webhook-signature': signature! })).toBe(true);
      expect(verifies(secret, body, headers)).toBe(true);
    }
    // Each signature is its own secret's: swapped, neither verifies.
    expect(verifies(a, body, { ...headers, 'webhook-signature': signatures[1]! })).toBe(false);
    expect(verifies(b, body, { ...headers, 'webhook-signature': signatures[0]! })).toBe(false);
    expect(verifies(generateWebhookSecret(), body, headers)).toBe(false);
  });

  it('a tampered body, timestamp or id fails verification', () => {
    const secret = generateWebhookSecret();
    const headers = signatureHeaders({ id: 'dlv_1', timestamp: NOW, body, secrets: [secret] });
    at(NOW);
    expect(verifies(secret, body, headers)).toBe(true);
    expect(verifies(secret, body.replace('"ok":true', '"ok":false'), headers)).toBe(false);
    expect(verifies(secret, `${body} `, headers)).toBe(false);
    expect(verifies(secret, body, { ...headers, 'webhook-timestamp': String(Number(headers['webhook-timestamp']) - 1) })).toBe(false);
    expect(verifies(secret, body, { ...headers, 'webhook-id': 'dlv_2' })).toBe(false);
  });

  it('the same delivery retried later keeps its id and gets a new timestamp and signature', () => {
    const secret = generateWebhookSecret();
    const first = signatureHeaders({ id: 'dlv_1', timestamp: NOW, body, secrets: [secret] });
    const retry = signatureHeaders({ id: 'dlv_1', timestamp: new Date(NOW.getTime() + 30_000), body, secrets: [secret] });
    expect(retry['webhook-id']).toBe(first['webhook-id']);
    expect(Number(retry['webhook-timestamp']) - Number(first['webhook-timestamp'])).toBe(30);
    expect(retry['webhook-signature']).not.toBe(first['webhook-signature']);
  });

  it('signs a secret listed twice once, and refuses no secret or an id that could shift the signed content', () => {
    const secret = generateWebhookSecret();
    expect(signatureHeaders({ id: 'dlv_1', timestamp: NOW, body, secrets: [secret, secret] })['webhook-signature'].split(' ')).toHaveLength(
      1,
    );
    expect(() => signatureHeaders({ id: 'dlv_1', timestamp: NOW, body, secrets: [] })).toThrow(/no active secret/);
    for (const id of ['', 'a.b', 'a b']) expect(() => signatureHeaders({ id, timestamp: NOW, body, secrets: [secret] })).toThrow(TypeError);
    expect(() => signatureHeaders({ id: 'dlv_1', timestamp: new Date(Number.NaN), body, secrets: [secret] })).toThrow(TypeError);
  });
});

describe('rotation overlap (a subscription keeps its secrets: shared/domain/webhooks.ts)', () => {
  const hours = (n: number) => new Date(NOW.getTime() + n * 3_600_000);

  it('signs with the new and the old secret for 24 h, then with the new one only', () => {
    const [old, next] = [generateWebhookSecret(), generateWebhookSecret()] as [string, string];
    const secrets = rotateSecrets(
      [{ value: old, createdAt: NOW.toISOString() }],
      next,
      NOW.toISOString(),
      DEFAULT_ROTATION_OVERLAP_SECONDS,
    );
    const sign = (when: Date) =>
      signatureHeaders({ id: 'dlv_1', timestamp: when, body, secrets: activeSecrets({ secrets }, when.toISOString()) });

    const during = sign(hours(23.99));
    at(hours(23.99));
    expect(during['webhook-signature'].split(' ')).toHaveLength(2);
    expect(verifies(old, body, during)).toBe(true);
    expect(verifies(next, body, during)).toBe(true);

    const after = sign(hours(24));
    at(hours(24));
    expect(after['webhook-signature'].split(' ')).toHaveLength(1);
    expect(verifies(next, body, after)).toBe(true);
    expect(verifies(old, body, after)).toBe(false);
  });
});

describe('sealed storage', () => {
  const ring = { keys: [generateWrappingKey('k1')] };

  it('opens to the secret it sealed, for the same subscription only, and never shows it', () => {
    const secret = generateWebhookSecret();
    const sealed = sealWebhookSecret(secret, 'sub_1', ring);
    expect(sealed).toMatch(/^wsk1\.k1\.[A-Za-z0-9_-]+$/);
    expect(sealed).not.toContain(secret.slice(6));
    expect(sealWebhookSecret(secret, 'sub_1', ring)).not.toBe(sealed); // a fresh IV each time
    expect(openWebhookSecret(sealed, 'sub_1', ring)).toBe(secret);
    expect(() => openWebhookSecret(sealed, 'sub_2', ring)).toThrow(/another subscription/);
  });

  it('an altered sealed secret, an unknown key or a foreign format does not open', () => {
    const sealed = sealWebhookSecret(generateWebhookSecret(), 'sub_1', ring);
    const last = sealed.at(-2) === 'A' ? 'B' : 'A';
    expect(() => openWebhookSecret(`${sealed.slice(0, -2)}${last}${sealed.at(-1)}`, 'sub_1', ring)).toThrow(TypeError);
    expect(() => openWebhookSecret(sealed, 'sub_1', { keys: [generateWrappingKey('k2')] })).toThrow(/no wrapping key k1/);
    expect(() => openWebhookSecret('whsec_abc', 'sub_1', ring)).toThrow(/unknown format/);
    expect(() => sealWebhookSecret('not-a-secret', 'sub_1', ring)).toThrow(TypeError);
  });

  it('a new wrapping key seals while the old one still opens what it sealed', () => {
    const secret = generateWebhookSecret();
    const before = sealWebhookSecret(secret, 'sub_1', ring);
    const rotated = { keys: [...ring.keys, generateWrappingKey('k2')] };
    expect(sealWebhookSecret(secret, 'sub_1', rotated)).toMatch(/^wsk1\.k2\./);
    expect(openWebhookSecret(before, 'sub_1', rotated)).toBe(secret);
  });

  it('sealed secrets rotate and sign once opened: the dispatcher opens only the active ones', () => {
    const [old, next] = [generateWebhookSecret(), generateWebhookSecret()] as [string, string];
    const stored = rotateSecrets(
      [{ value: sealWebhookSecret(old, 'sub_1', ring), createdAt: NOW.toISOString() }],
      sealWebhookSecret(next, 'sub_1', ring),
      NOW.toISOString(),
      DEFAULT_ROTATION_OVERLAP_SECONDS,
    );
    const secrets = activeSecrets({ secrets: stored }, NOW.toISOString()).map((sealed) => openWebhookSecret(sealed, 'sub_1', ring));
    expect(secrets).toEqual([next, old]);
    const headers = signatureHeaders({ id: 'dlv_1', timestamp: NOW, body, secrets });
    at(NOW);
    expect(verifies(old, body, headers) && verifies(next, body, headers)).toBe(true);
  });

  it('reads the key ring as Secrets Manager generates it (one key) or as a ring, and never quotes a key when refusing one', () => {
    const generated = { kid: 'k1', key: 'q8Vd3ZkR0mW1xT7pLbN4sYcH6eJ2uA9fGiKoPzQrStUvWxYz0123456789abcdEF' };
    const one = parseWrappingKeyRing(generated);
    expect(one).toEqual({ keys: [generated] });
    const secret = generateWebhookSecret();
    expect(openWebhookSecret(sealWebhookSecret(secret, 'sub_1', one), 'sub_1', one)).toBe(secret);
    const k2 = generateWrappingKey('k2');
    expect(parseWrappingKeyRing({ keys: [generated, k2], extra: true })).toEqual({ keys: [generated, k2] });

    const short = 'tooShortToBeAKey';
    const refused: unknown[] = [
      undefined,
      { kid: 'k1' },
      { kid: 'k1', key: short },
      { kid: 'a.b', key: generated.key },
      { keys: [] },
      { keys: [generated, { ...k2, kid: 'k1' }] },
    ];
    for (const value of refused) {
      expect(() => parseWrappingKeyRing(value)).toThrow(TypeError);
      try {
        parseWrappingKeyRing(value);
      } catch (error) {
        expect((error as Error).message).not.toMatch(new RegExp(`${short}|${generated.key}|${k2.key.replace(/[+/=]/g, '.')}`));
      }
    }
  });
});
