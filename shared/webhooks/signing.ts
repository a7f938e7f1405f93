/**
 * Webhook signing as the Standard Webhooks specification draws it (DESIGN.md §5):
 * headers `webhook-id`, `webhook-timestamp` (Unix seconds) and
 * `webhook-signature`, a space-separated list of `v1,<base64 HMAC-SHA256 of
 * id.timestamp.body>`, one per active secret. Secrets are `whsec_<base64 of
 * 24–64 random bytes>`; Switchyard makes them from 32 bytes.
 *
 * Signing uses node:crypto, not the `standardwebhooks` library: the library
 * signs with one secret per `Webhook` instance and has no multi-secret
 * signer, its HMAC is pure JavaScript (fast-sha256) where node:crypto's is
 * OpenSSL's, and the dispatcher signs every attempt. The library verifies
 * everything this module signs in the tests (an independent implementation
 * checking this one) and in the receiver users run.
 *
 * Rotation: a subscription keeps `{ current, previous?, previousUntil? }`.
 * Rotating makes a new `current` and keeps the old one as `previous` until
 * `previousUntil` (24 h by default); both sign meanwhile, so a receiver can
 * switch to the new secret at any moment of the overlap. A rotation during an
 * overlap drops the older `previous` (never more than two secrets sign). An
 * overlap of 0 revokes the old secret at once (a leaked secret).
 *
 * Storage (decision). The dispatcher must sign, so a secret must be
 * recoverable: a hash (as for API keys, shared/auth/secrets.ts) will not do.
 * - Secrets Manager per subscription: USD 0.40 a month each plus a call per
 *   cold start and subscription; cost grows with subscriptions for nothing
 *   a single key does not give. Rejected.
 * - KMS Encrypt/Decrypt per secret: a KMS call (and its latency and quota)
 *   per subscription per cold start; no local emulation of KMS in the
 *   embedded runtime. Rejected for now.
 * - Plain in the table: every function that reads the table (the API, the
 *   stream consumers, a table export, a backup) would hold every secret.
 *   Rejected.
 * - Chosen: sealed in the table with AES-256-GCM under a wrapping key ring
 *   (`{ keys: [{ kid, key }] }`, the newest seals, every one opens) kept in ONE
 *   Secrets Manager secret, which the local runtime already emulates. The
 *   subscription id is the additional authenticated data, so a sealed secret
 *   copied onto another subscription does not open. Only the subscriptions
 *   API (create/rotate) and the dispatcher may read the key ring; reading the
 *   table alone reveals no secret. Adding a key to the ring and re-sealing
 *   rotates the wrapping key without touching any webhook secret. A key is
 *   any high-entropy text of 32+ characters and the AES key is its
 *   HKDF-SHA256, so the stack can let Secrets Manager generate it
 *   (`generateSecretString` with template `{"kid":"k1"}`, key `key`, 64
 *   characters) with no bootstrap step; `parseWrappingKeyRing` reads that
 *   one-key form as well as `{ keys: [...] }`.
 *
 * A plain secret is shown once, in the create or rotate answer, and is never
 * logged: errors here never quote it, and nothing here returns it except
 * `generateWebhookSecret` and `openWebhookSecret`.
 */
import { createCipheriv, createDecipheriv, createHmac, hkdfSync, randomBytes } from 'node:crypto';

export const WEBHOOK_SECRET_PREFIX = 'whsec_';
/** Bytes of randomness in a secret Switchyard generates (the specification allows 24–64). */
export const WEBHOOK_SECRET_BYTES = 32;

/** A plain `whsec_` secret that signs now. */
export type ActiveSecret = string;

export interface WebhookHeaders {
  'webhook-id': string;
  'webhook-timestamp': string;
  'webhook-signature': string;
  [name: string]: string;
}

export function generateWebhookSecret(): string {
  return `${WEBHOOK_SECRET_PREFIX}${randomBytes(WEBHOOK_SECRET_BYTES).toString('base64')}`;
}

const BASE64 = /^(?:[A-Za-z0-9+/]{4})*(?:[A-Za-z0-9+/]{2}==|[A-Za-z0-9+/]{3}=)?$/;

/** The HMAC key of a `whsec_` secret; throws (without quoting the secret) when it is not one. */
export function webhookSecretKey(secret: string): Buffer {
  if (!secret.startsWith(WEBHOOK_SECRET_PREFIX)) throw new TypeError('webhook secret: not a whsec_ secret');
  const encoded = secret.slice(WEBHOOK_SECRET_PREFIX.length);
  if (!BASE64.test(encoded)) throw new TypeError('webhook secret: not base64 after whsec_');
  const key = Buffer.from(encoded, 'base64');
  if (key.length < 24 || key.length > 64) throw new TypeError(`webhook secret: ${key.length} bytes, the specification wants 24–64`);
  return key;
}

export function isWebhookSecret(value: string): boolean {
  try {
    webhookSecretKey(value);
    return true;
  } catch {
    return false;
  }
}

/** `v1,<base64 HMAC-SHA256 of id.timestamp.body>` for one secret. */
export function signatureV1(secret: ActiveSecret, id: string, timestampSeconds: number, body: string | Uint8Array): string {
  const hmac = createHmac('sha256', webhookSecretKey(secret));
  hmac.update(`${id}.${timestampSeconds}.`);
  hmac.update(body);
  return `v1,${hmac.digest('base64')}`;
}

export interface SignatureInput {
  /** The delivery id: the same on every attempt of a delivery. */
  id: string;
  /** When this attempt is made (a new one on every attempt). */
  timestamp: Date;
  /** Exactly the bytes that are sent. */
  body: string | Uint8Array;
  /** Every secret that signs now (shared/domain/webhooks.ts `activeSecrets`: which secrets and for how long is the subscription's rule), newest first. */
  secrets: readonly ActiveSecret[];
}

/** The three Standard Webhooks headers, one `v1` signature per distinct active secret, space-separated. */
export function signatureHeaders({ id, timestamp, body, secrets }: SignatureInput): WebhookHeaders {
  // The specification: the id must not let the signed content be read another way.
  if (id.length === 0 || id.includes('.') || /\s/.test(id)) throw new TypeError('webhook-id must be non-empty without "." or spaces');
  const seconds = Math.floor(timestamp.getTime() / 1000);
  if (!Number.isFinite(seconds)) throw new TypeError('webhook-timestamp: invalid date');
  const distinct = [...new Set(secrets)];
  if (distinct.length === 0) throw new TypeError('webhook signature: no active secret');
  return {
    'webhook-id': id,
    'webhook-timestamp': String(seconds),
    'webhook-signature': distinct.map((secret) => signatureV1(secret, id, seconds, body)).join(' '),
  };
}

// ---- Storage: sealed with AES-256-GCM under a wrapping key ring (see the header) ----

export interface WrappingKey {
  kid: string;
  /** High-entropy text, 32 characters or more (a generated secret string, or base64 of 32 random bytes). */
  key: string;
}

/** The key ring kept in its Secrets Manager secret: the last key seals, every key opens. */
export interface WrappingKeyRing {
  keys: WrappingKey[];
}

const SEALED_PREFIX = 'wsk1';
const IV_BYTES = 12;
const TAG_BYTES = 16;
const MIN_WRAPPING_KEY_CHARS = 32;
const KID = /^[A-Za-z0-9_-]{1,64}$/;

export function generateWrappingKey(kid: string): WrappingKey {
  return { kid, key: randomBytes(32).toString('base64') };
}

function wrappingKey(value: unknown, where: string): WrappingKey {
  const { kid, key } = (typeof value === 'object' && value !== null ? value : {}) as Record<string, unknown>;
  if (typeof kid !== 'string' || !KID.test(kid))
    throw new TypeError(`wrapping key ring: ${where}kid is missing or not [A-Za-z0-9_-]{1,64}`);
  // The message never quotes the key.
  if (typeof key !== 'string' || key.length < MIN_WRAPPING_KEY_CHARS) {
    throw new TypeError(`wrapping key ring: ${where}key of ${kid} is missing or under ${MIN_WRAPPING_KEY_CHARS} characters`);
  }
  return { kid, key };
}

/** The secret's JSON as a key ring: `{ keys: [{ kid, key }, …] }`, or one key `{ kid, key }` as Secrets Manager generates it. */
export function parseWrappingKeyRing(value: unknown): WrappingKeyRing {
  if (typeof value === 'object' && value !== null && 'keys' in value) {
    const { keys } = value as { keys: unknown };
    if (!Array.isArray(keys) || keys.length === 0) throw new TypeError('wrapping key ring: `keys` is not a non-empty array');
    const ring = { keys: keys.map((key, index) => wrappingKey(key, `keys[${index}].`)) };
    if (new Set(ring.keys.map((key) => key.kid)).size !== ring.keys.length) throw new TypeError('wrapping key ring: two keys share a kid');
    return ring;
  }
  return { keys: [wrappingKey(value, '')] };
}

function aesKey(key: WrappingKey): Buffer {
  const { kid, key: material } = wrappingKey(key, '');
  return Buffer.from(hkdfSync('sha256', material, Buffer.alloc(0), `switchyard webhook secret ${kid}`, 32));
}

/** `wsk1.<kid>.<base64url iv‖ciphertext‖tag>`, bound to the subscription id. */
export function sealWebhookSecret(secret: string, subscriptionId: string, ring: WrappingKeyRing): string {
  webhookSecretKey(secret);
  const key = ring.keys.at(-1);
  if (!key) throw new TypeError('wrapping key ring is empty');
  const iv = randomBytes(IV_BYTES);
  const cipher = createCipheriv('aes-256-gcm', aesKey(key), iv);
  cipher.setAAD(Buffer.from(subscriptionId, 'utf8'));
  const ciphertext = Buffer.concat([cipher.update(secret, 'utf8'), cipher.final()]);
  return `${SEALED_PREFIX}.${key.kid}.${Buffer.concat([iv, ciphertext, cipher.getAuthTag()]).toString('base64url')}`;
}

/** The plain secret of a sealed one; throws when the key is gone, the data altered, or it belongs to another subscription. */
export function openWebhookSecret(sealed: string, subscriptionId: string, ring: WrappingKeyRing): string {
  const [prefix, kid, payload, ...rest] = sealed.split('.');
  if (prefix !== SEALED_PREFIX || !kid || !payload || rest.length > 0) throw new TypeError('sealed webhook secret: unknown format');
  const key = ring.keys.find((candidate) => candidate.kid === kid);
  if (!key) throw new TypeError(`sealed webhook secret: no wrapping key ${kid}`);
  const bytes = Buffer.from(payload, 'base64url');
  if (bytes.length <= IV_BYTES + TAG_BYTES) throw new TypeError('sealed webhook secret: too short');
  const decipher = createDecipheriv('aes-256-gcm', aesKey(key), bytes.subarray(0, IV_BYTES));
  decipher.setAAD(Buffer.from(subscriptionId, 'utf8'));
  decipher.setAuthTag(bytes.subarray(bytes.length - TAG_BYTES));
  try {
    return Buffer.concat([decipher.update(bytes.subarray(IV_BYTES, bytes.length - TAG_BYTES)), decipher.final()]).toString('utf8');
  } catch {
    throw new TypeError('sealed webhook secret: does not open (altered, or sealed for another subscription)');
  }
}
