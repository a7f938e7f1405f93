/** Hostile tokens for the authentication tests: each must be refused with a bare 401. */
import { createHmac, randomUUID } from 'node:crypto';
import { SignJWT, type JWK } from 'jose';
import { generateSigningKey, importPrivateKey, type SigningKeySet } from '../../shared/auth/signing-keys.js';

const b64 = (value: unknown) => Buffer.from(typeof value === 'string' ? value : JSON.stringify(value)).toString('base64url');

export interface BadTokenInput {
  keys: SigningKeySet;
  issuer: string;
  audience: string;
  subject: string;
  valid: string;
}

/** Named bad tokens, built from a valid one and the real key set. */
export async function badTokens(input: BadTokenInput): Promise<Record<string, string>> {
  const key = input.keys.keys.at(-1);
  if (!key) throw new Error('no key');
  const now = Math.floor(Date.now() / 1000);
  const claims = { roles: ['admin'], name: 'mallory' };
  const realKey = await importPrivateKey(key);
  const signed = async (
    edit: (jwt: SignJWT) => SignJWT,
    signingKey: Awaited<ReturnType<typeof importPrivateKey>> = realKey,
    kid = key.kid,
  ) =>
    edit(
      new SignJWT(claims)
        .setProtectedHeader({ alg: 'RS256', kid, typ: 'JWT' })
        .setSubject(input.subject)
        .setIssuer(input.issuer)
        .setAudience(input.audience)
        .setIssuedAt(now)
        .setNotBefore(now)
        .setExpirationTime(now + 600)
        .setJti(randomUUID()),
    ).sign(signingKey);
  const [header, payload] = input.valid.split('.');
  const stranger = await generateSigningKey(new Date());
  return {
    malformed: 'not.a.jwt',
    garbage: 'x',
    expired: await signed((j) =>
      j
        .setIssuedAt(now - 3600)
        .setNotBefore(now - 3600)
        .setExpirationTime(now - 1800),
    ),
    notYetValid: await signed((j) => j.setNotBefore(now + 3600)),
    wrongAudience: await signed((j) => j.setAudience('someone-else')),
    wrongIssuer: await signed((j) => j.setIssuer('https://evil.example')),
    tampered: `${header}.${b64({ ...JSON.parse(Buffer.from(payload as string, 'base64url').toString()), roles: ['admin', 'operator'], name: 'mallory' })}.${input.valid.split('.')[2]}`,
    algNone: `${b64({ alg: 'none', typ: 'JWT' })}.${b64({ sub: input.subject, iss: input.issuer, aud: input.audience, iat: now, nbf: now, exp: now + 600, jti: randomUUID(), roles: ['admin'] })}.`,
    hs256WithPublicKey: (() => {
      const h = b64({ alg: 'HS256', typ: 'JWT', kid: key.kid });
      const p = b64({
        sub: input.subject,
        iss: input.issuer,
        aud: input.audience,
        iat: now,
        nbf: now,
        exp: now + 600,
        jti: randomUUID(),
        roles: ['admin'],
      });
      const secret = JSON.stringify(key.publicJwk as JWK);
      return `${h}.${p}.${createHmac('sha256', secret).update(`${h}.${p}`).digest('base64url')}`;
    })(),
    unknownKid: await signed((j) => j, await importPrivateKey(stranger), stranger.kid),
    strangerKeyKnownKid: await signed((j) => j, await importPrivateKey(stranger), key.kid),
  };
}
