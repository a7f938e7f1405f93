/** The SSRF guard's refusal table (DESIGN.md §5): every refused range, IPv4 and IPv6, as literal URLs and as names resolving to them. */
import { describe, expect, it, vi } from 'vitest';
import { RuleViolationError } from '../../../shared/domain/errors.js';
import { toProblem } from '../../../shared/http/problem.js';
import {
  checkWebhookUrl,
  DEPLOYED_WEBHOOK_POLICY,
  LOCAL_WEBHOOK_POLICY,
  WebhookUrlRefusedError,
  type AddressKind,
  type CheckedAddress,
  type ResolveHost,
} from '../../../shared/webhooks/ssrf.js';

const PUBLIC_V4 = '93.184.215.14';
const PUBLIC_V6 = '2606:4700:4700::1111';

const answer = (...addresses: string[]): ResolveHost =>
  vi.fn(async () => addresses.map((address): CheckedAddress => ({ address, family: address.includes(':') ? 6 : 4 })));

const literalUrl = (address: string) => (address.includes(':') ? `https://[${address}]/hook` : `https://${address}/hook`);

async function refusal(url: string, policy = DEPLOYED_WEBHOOK_POLICY, resolve: ResolveHost = answer(PUBLIC_V4)) {
  const error = await checkWebhookUrl(url, policy, resolve).then(
    () => undefined,
    (e: unknown) => e,
  );
  if (!(error instanceof WebhookUrlRefusedError)) throw new Error(`${url} was not refused`);
  return error;
}

/** [kind, range named in the message, address]: each row refused as a literal and as a resolved name. */
const REFUSED: ReadonlyArray<[AddressKind, string, string]> = [
  ['loopback', '127.0.0.0/8', '127.0.0.1'],
  ['loopback', '127.0.0.0/8', '127.255.255.254'],
  ['loopback', '::1/128', '::1'],
  ['unspecified', '0.0.0.0/8', '0.0.0.0'],
  ['unspecified', '0.0.0.0/8', '0.1.2.3'],
  ['unspecified', '::/128', '::'],
  ['private', '10.0.0.0/8', '10.0.0.1'],
  ['private', '10.0.0.0/8', '10.255.255.255'],
  ['private', '172.16.0.0/12', '172.16.0.1'],
  ['private', '172.16.0.0/12', '172.31.255.255'],
  ['private', '192.168.0.0/16', '192.168.1.1'],
  ['private', 'fc00::/7', 'fc00::1'],
  ['private', 'fc00::/7', 'fdff:ffff::1'],
  ['private', '64:ff9b:1::/48', '64:ff9b:1::a00:1'],
  ['link-local', '169.254.0.0/16', '169.254.0.1'],
  ['link-local', '169.254.0.0/16', '169.254.255.255'],
  ['link-local', 'fe80::/10', 'fe80::1'],
  ['link-local', 'fe80::/10', 'febf::1'],
  ['metadata', '169.254.169.254/32', '169.254.169.254'],
  ['metadata', 'fd00:ec2::254/128', 'fd00:ec2::254'],
  ['carrier-grade NAT', '100.64.0.0/10', '100.64.0.1'],
  ['carrier-grade NAT', '100.64.0.0/10', '100.127.255.254'],
  ['multicast', '224.0.0.0/4', '224.0.0.1'],
  ['multicast', '224.0.0.0/4', '239.255.255.250'],
  ['multicast', 'ff00::/8', 'ff02::1'],
  ['multicast', 'ff00::/8', 'ff05::1:3'],
];

/** IPv6 forms that reach an IPv4 host, judged by the IPv4 address they carry. */
const EMBEDDED: ReadonlyArray<[AddressKind, string, string, string]> = [
  ['private', 'IPv4-mapped', '::ffff:10.0.0.1', '10.0.0.1'],
  ['loopback', 'IPv4-mapped', '::ffff:127.0.0.1', '127.0.0.1'],
  ['metadata', 'IPv4-mapped', '::ffff:169.254.169.254', '169.254.169.254'],
  ['carrier-grade NAT', 'IPv4-mapped', '::ffff:100.64.1.1', '100.64.1.1'],
  ['private', 'IPv4-translated', '::ffff:0:192.168.0.1', '192.168.0.1'],
  ['private', 'IPv4-compatible', '::10.0.0.1', '10.0.0.1'],
  ['unspecified', 'IPv4-compatible', '::2', '0.0.0.2'],
  ['private', 'NAT64', '64:ff9b::10.0.0.1', '10.0.0.1'],
  ['loopback', 'NAT64', '64:ff9b::7f00:1', '127.0.0.1'],
  ['metadata', 'NAT64', '64:ff9b::a9fe:a9fe', '169.254.169.254'],
  ['private', '6to4', '2002:c0a8:101::1', '192.168.1.1'],
  ['metadata', '6to4', '2002:a9fe:a9fe::1', '169.254.169.254'],
  ['unspecified', '6to4', '2002::1', '0.0.0.0'],
];

describe('checkWebhookUrl: refused addresses', () => {
  describe.each(REFUSED)('%s %s: %s', (kind, range, address) => {
    it('is refused as a literal IP URL, naming the range', async () => {
      const error = await refusal(literalUrl(address));
      expect(error.rule).toBe('address');
      expect(error.refusal).toMatchObject({ kind, range });
      expect(error.message).toContain(kind === 'metadata' ? 'metadata' : `${kind} address (${range})`);
    });

    it('is refused when a name resolves to it', async () => {
      const error = await refusal('https://hook.example.com/events', DEPLOYED_WEBHOOK_POLICY, answer(address));
      expect(error.rule).toBe('address');
      expect(error.refusal).toMatchObject({ kind, range, address });
      expect(error.message).toContain(`hook.example.com resolves to ${address}, `);
    });
  });

  describe.each(EMBEDDED)('%s inside %s %s', (kind, form, address, ipv4) => {
    it('is refused as a literal IP URL and as a resolved name, naming the IPv4 address inside', async () => {
      for (const error of [
        await refusal(literalUrl(address)),
        await refusal('https://hook.example.com/', DEPLOYED_WEBHOOK_POLICY, answer(address)),
      ]) {
        expect(error.refusal).toMatchObject({ kind, embedded: { ipv4 } });
        expect(error.refusal?.embedded?.form).toContain(form);
        expect(error.message).toContain(`form of ${ipv4}`);
      }
    });
  });

  it('raises a 422 problem with code WEBHOOK_URL_REFUSED that says which rule refused', async () => {
    const error = await refusal('https://10.1.2.3/');
    expect(error).toBeInstanceOf(RuleViolationError);
    const { problem } = toProblem(error, 'req-1');
    expect(problem).toMatchObject({ status: 422, code: 'WEBHOOK_URL_REFUSED' });
    expect(problem.detail).toBe('Webhook host 10.1.2.3 is a private address (10.0.0.0/8)');
    expect(problem.errors).toEqual([{ path: 'url', message: problem.detail }]);
  });

  it('says which address a name resolved to and, for an embedding form, the IPv4 address inside', async () => {
    expect((await refusal('https://[64:ff9b::a00:1]/')).message).toBe(
      'Webhook host 64:ff9b::a00:1 is the NAT64 (64:ff9b::/96) form of 10.0.0.1, a private address (10.0.0.0/8)',
    );
    expect((await refusal('https://hook.example.com/', DEPLOYED_WEBHOOK_POLICY, answer(PUBLIC_V4, '169.254.169.254'))).message).toBe(
      'Webhook host hook.example.com resolves to 169.254.169.254, the instance metadata address (169.254.169.254/32)',
    );
  });
});

describe('checkWebhookUrl: every notation the URL parser accepts is judged by the address it means', () => {
  it.each([
    ['decimal', 'http://2130706433/', '127.0.0.1'],
    ['hex', 'http://0x7f000001/', '127.0.0.1'],
    ['hex and short', 'http://0x7f.1/', '127.0.0.1'],
    ['octal', 'http://0177.0.0.1/', '127.0.0.1'],
    ['octal whole', 'http://017700000001/', '127.0.0.1'],
    ['short form', 'http://127.1/', '127.0.0.1'],
    ['trailing dot', 'http://127.0.0.1./', '127.0.0.1'],
    ['zero', 'http://0/', '0.0.0.0'],
    ['percent-encoded', 'http://%31%32%37.0.0.1/', '127.0.0.1'],
    ['full-width digits', 'http://１２７.0.0.1/', '127.0.0.1'],
    ['decimal metadata', 'http://2852039166/latest/meta-data/', '169.254.169.254'],
    ['hex private', 'http://0xa000001/', '10.0.0.1'],
    ['IPv6 uncompressed', 'http://[0:0:0:0:0:0:0:1]/', '::1'],
    ['IPv6 mapped dotted', 'http://[::ffff:127.0.0.1]/', '::ffff:7f00:1'],
  ])('%s: %s', async (_notation, url, address) => {
    const resolve = answer(PUBLIC_V4);
    const error = await refusal(url, { allowHttp: true, allowLoopback: false }, resolve);
    expect(error.rule).toBe('address');
    expect(error.refusal?.address).toBe(address);
    expect(resolve).not.toHaveBeenCalled();
  });
});

describe('checkWebhookUrl: names', () => {
  it.each(['localhost', 'LOCALHOST.', 'localhost.', 'api.localhost', 'a.b.localhost.'])(
    'refuses the loopback name %s by name, without asking DNS',
    async (host) => {
      const resolve = answer(PUBLIC_V4);
      const error = await refusal(`https://${host}/hook`, DEPLOYED_WEBHOOK_POLICY, resolve);
      expect(error.rule).toBe('loopback-name');
      expect(resolve).not.toHaveBeenCalled();
    },
  );

  it('judges a trailing-dot name by what it resolves to', async () => {
    expect((await refusal('https://hook.example.com./', DEPLOYED_WEBHOOK_POLICY, answer('10.0.0.1'))).rule).toBe('address');
    const checked = await checkWebhookUrl('https://hook.example.com./', DEPLOYED_WEBHOOK_POLICY, answer(PUBLIC_V4));
    expect(checked.addresses).toEqual([{ address: PUBLIC_V4, family: 4 }]);
  });

  it('refuses a name when any one of its addresses is refused, whatever the order', async () => {
    for (const addresses of [
      [PUBLIC_V4, '10.0.0.1'],
      ['10.0.0.1', PUBLIC_V4],
      [PUBLIC_V4, PUBLIC_V6, 'fe80::1'],
      [PUBLIC_V6, '::ffff:169.254.169.254'],
    ]) {
      const error = await refusal('https://hook.example.com/', DEPLOYED_WEBHOOK_POLICY, answer(...addresses));
      expect(error.refusal?.address).toBe(addresses.find((a) => a !== PUBLIC_V4 && a !== PUBLIC_V6));
    }
  });

  it('refuses a name that does not resolve, or resolves to nothing', async () => {
    const notFound: ResolveHost = async () => {
      throw Object.assign(new Error('getaddrinfo ENOTFOUND nope.example'), { code: 'ENOTFOUND' });
    };
    const error = await refusal('https://nope.example/', DEPLOYED_WEBHOOK_POLICY, notFound);
    expect(error.rule).toBe('unresolved');
    expect(error.message).toBe('Webhook host nope.example does not resolve (ENOTFOUND)');
    expect((await refusal('https://nope.example/', DEPLOYED_WEBHOOK_POLICY, answer())).rule).toBe('unresolved');
  });

  it('resolves the punycode name the URL parser makes of an internationalized one', async () => {
    const resolve = answer(PUBLIC_V4);
    await checkWebhookUrl('https://bücher.example/', DEPLOYED_WEBHOOK_POLICY, resolve);
    expect(resolve).toHaveBeenCalledWith('xn--bcher-kva.example');
  });
});

describe('checkWebhookUrl: allowed', () => {
  it.each([
    ['a name with public IPv4 and IPv6 addresses', 'https://hook.example.com/x?y=1', [PUBLIC_V4, PUBLIC_V6]],
    ['any port', 'https://hook.example.com:8443/', [PUBLIC_V4]],
    [
      'public neighbours of refused ranges',
      'https://hook.example.com/',
      ['172.32.0.1', '100.128.0.1', '169.255.0.1', '11.0.0.1', '192.169.0.1'],
    ],
    ['embedding forms of public addresses', 'https://hook.example.com/', ['::ffff:8.8.8.8', '64:ff9b::808:808', '2002:808:808::1']],
  ])('%s', async (_what, url, addresses) => {
    const checked = await checkWebhookUrl(url, DEPLOYED_WEBHOOK_POLICY, answer(...addresses));
    expect(checked.url.href).toBe(url);
    expect(checked.addresses.map((a) => a.address)).toEqual(addresses);
  });

  it('checks a literal public address without asking DNS', async () => {
    const resolve = answer('10.0.0.1');
    const checked = await checkWebhookUrl(`https://[${PUBLIC_V6}]/`, DEPLOYED_WEBHOOK_POLICY, resolve);
    expect(checked.addresses).toEqual([{ address: PUBLIC_V6, family: 6 }]);
    expect(resolve).not.toHaveBeenCalled();
  });
});

describe('checkWebhookUrl: scheme, credentials and the local runtime', () => {
  it('allows only https in a deployed stack', async () => {
    const error = await refusal('http://hook.example.com/');
    expect(error.rule).toBe('scheme');
    expect(error.message).toBe('Webhook URL must use https, not http');
  });

  it.each([
    'ftp://hook.example.com/',
    'file:///etc/passwd',
    'javascript:alert(1)',
    'ws://hook.example.com/',
    'gopher://hook.example.com:70/',
  ])('refuses %s under either policy', async (url) => {
    expect((await refusal(url, LOCAL_WEBHOOK_POLICY)).rule).toBe('scheme');
  });

  it.each(['not a url', '/relative/path', 'https://'])('refuses %s as invalid', async (url) => {
    expect((await refusal(url)).rule).toBe('invalid-url');
  });

  it.each(['https://user:secret@hook.example.com/', 'https://user@hook.example.com/', 'https://:secret@hook.example.com/'])(
    'refuses credentials in %s',
    async (url) => {
      expect((await refusal(url, LOCAL_WEBHOOK_POLICY)).rule).toBe('credentials');
    },
  );

  it('allows http and loopback in the local runtime, as literals and as names', async () => {
    for (const url of ['http://127.0.0.1:4000/hook', 'http://[::1]:4000/', 'http://2130706433:4000/', 'http://[::ffff:127.0.0.1]/']) {
      await expect(checkWebhookUrl(url, LOCAL_WEBHOOK_POLICY, answer())).resolves.toMatchObject({ url: new URL(url) });
    }
    const checked = await checkWebhookUrl('http://localhost:4000/', LOCAL_WEBHOOK_POLICY, answer('127.0.0.1', '::1'));
    expect(checked.addresses).toEqual([
      { address: '127.0.0.1', family: 4 },
      { address: '::1', family: 6 },
    ]);
  });

  it('allows loopback over https without allowing http', async () => {
    const policy = { allowHttp: false, allowLoopback: true };
    await expect(checkWebhookUrl('https://127.0.0.1/', policy)).resolves.toBeDefined();
    expect((await refusal('http://127.0.0.1/', policy)).rule).toBe('scheme');
  });

  it('refuses everything else on the list in the local runtime', async () => {
    for (const [kind, , address] of REFUSED.filter(([kind]) => kind !== 'loopback')) {
      expect((await refusal(literalUrl(address).replace('https:', 'http:'), LOCAL_WEBHOOK_POLICY)).refusal?.kind).toBe(kind);
      expect((await refusal('http://hook.test/', LOCAL_WEBHOOK_POLICY, answer('127.0.0.1', address))).refusal?.kind).toBe(kind);
    }
    expect((await refusal('http://[64:ff9b::a00:1]/', LOCAL_WEBHOOK_POLICY)).refusal?.kind).toBe('private');
  });
});
