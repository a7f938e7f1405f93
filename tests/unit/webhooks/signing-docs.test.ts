/** docs/webhooks.md's openssl recipe, run as written: it verifies what Switchyard signs and refuses what it should. */
import { execFileSync, spawnSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { generateWebhookSecret, signatureHeaders } from '../../../shared/webhooks/signing.js';

const docs = readFileSync(path.join(import.meta.dirname, '../../../docs/webhooks.md'), 'utf8');
const script = /<!-- verify-webhook\.sh[^>]*-->\s*```sh\n([\s\S]*?)```/.exec(docs)?.[1];

const dir = mkdtempSync(path.join(tmpdir(), 'verify-webhook-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));
const scriptFile = path.join(dir, 'verify-webhook.sh');

let bodies = 0;
function run(secret: string, headers: Record<string, string>, body: string, env: Record<string, string> = {}) {
  const bodyFile = path.join(dir, `body-${++bodies}.json`);
  writeFileSync(bodyFile, body);
  const result = spawnSync(
    'sh',
    [scriptFile, headers['webhook-id']!, headers['webhook-timestamp']!, headers['webhook-signature']!, bodyFile],
    {
      encoding: 'utf8',
      env: { PATH: process.env.PATH ?? '/usr/bin:/bin', WEBHOOK_SECRET: secret, ...env },
    },
  );
  return { code: result.status, out: `${result.stdout}${result.stderr}`.trim() };
}

const hasOpenssl = spawnSync('openssl', ['version']).status === 0;

describe.runIf(hasOpenssl)('the shell recipe in docs/webhooks.md', () => {
  it('is in the docs', () => {
    expect(script).toContain('openssl dgst -sha256 -mac HMAC');
    writeFileSync(scriptFile, script!);
    execFileSync('sh', ['-n', scriptFile]);
  });

  it('verifies the specification test vector, as the docs example shows', () => {
    const headers = {
      'webhook-id': 'msg_p5jXN8AQM9LWM0D4loKWxJek',
      'webhook-timestamp': '1614265330',
      'webhook-signature': 'v1,g0hM9SsE+OTPJTGt/tmIKtSyZlE3uFJELVlNIOLJ1OE=',
    };
    const secret = 'whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw';
    expect(run(secret, headers, '{"test": 2432232314}', { WEBHOOK_TOLERANCE_SECONDS: '999999999' })).toEqual({ code: 0, out: 'verified' });
    // The same vector without the tolerance: a 2021 timestamp is a replay.
    expect(run(secret, headers, '{"test": 2432232314}')).toMatchObject({ code: 1, out: expect.stringMatching(/more than 300 s away/) });
  });

  it('verifies a delivery signed now by two secrets with either one, bytes beyond ASCII and newlines included', () => {
    const [a, b] = [generateWebhookSecret(), generateWebhookSecret()] as [string, string];
    const body = `${JSON.stringify({ type: 'deployment.rolled_back', subject: 'Zürich — 東京', data: { note: 'line\nbreak' } }, null, 2)}\n`;
    const headers = signatureHeaders({ id: 'dlv_1', timestamp: new Date(), body, secrets: [a, b] });
    expect(run(a, headers, body)).toEqual({ code: 0, out: 'verified' });
    expect(run(b, headers, body)).toEqual({ code: 0, out: 'verified' });
    expect(run(generateWebhookSecret(), headers, body)).toEqual({ code: 1, out: 'no signature matches' });
    expect(run(a, headers, body.trimEnd())).toEqual({ code: 1, out: 'no signature matches' });
    expect(run(a, { ...headers, 'webhook-timestamp': String(Number(headers['webhook-timestamp']) - 1) }, body)).toMatchObject({ code: 1 });
  });
});
