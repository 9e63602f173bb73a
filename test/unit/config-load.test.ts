// parseConfig: an ocserv configuration loads (with warnings for what wolfguard
// does not implement), defaults are ocserv's, values are checked, and every
// failure names the key and the line.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import fc from 'fast-check';
import { CONFIG_DEFAULTS, loadConfigFile, parseConfig } from '../../src/main/config/load';
import { ErrorCodes, isWolfguardError, type ErrorCode } from '../../src/common/errors';

const OPTS = { source: '/etc/ocserv/ocserv.conf', baseDir: '/etc/ocserv' };

/** The uncommented part of a typical ocserv.conf (Debian's package / ocserv's doc/sample.config). */
const OCSERV_SAMPLE = `
# ocserv sample, trimmed
auth = "plain[passwd=./sample.passwd]"
tcp-port = 443
udp-port = 443
run-as-user = nobody
run-as-group = daemon
socket-file = /var/run/ocserv-socket
server-cert = ../tests/certs/server-cert.pem
server-key = ../tests/certs/server-key.pem
ca-cert = ../tests/certs/ca.pem
isolate-workers = true
max-clients = 16
max-same-clients = 2
rate-limit-ms = 100
server-stats-reset-time = 604800
keepalive = 32400
dpd = 90
mobile-dpd = 1800
switch-to-tcp-timeout = 25
try-mtu-discovery = false
cert-user-oid = 0.9.2342.19200300.100.1.1
tls-priorities = "NORMAL:%SERVER_PRECEDENCE:%COMPAT:-VERS-SSL3.0:-VERS-TLS1.0:-VERS-TLS1.1"
auth-timeout = 240
min-reauth-time = 300
max-ban-score = 80
ban-reset-time = 1200
cookie-timeout = 300
deny-roaming = false
rekey-time = 172800
rekey-method = ssl
use-occtl = true
pid-file = /var/run/ocserv.pid
log-level = 1
device = vpns
predictable-ips = true
default-domain = example.com
ipv4-network = 192.168.1.0
ipv4-netmask = 255.255.255.0
dns = 192.168.1.2
ping-leases = false
route = 10.10.10.0/255.255.255.0
route = 192.168.0.0/255.255.0.0
no-route = 192.168.5.0/255.255.255.0
cisco-client-compat = true
dtls-legacy = true
client-bypass-protocol = false

[vhost:www.example.com]
auth = "certificate"
ca-cert = ../tests/certs/ca.pem
server-cert = ../tests/certs/server-cert-secp521r1.pem
server-key = ../tests/certs/server-key-secp521r1.pem
ipv4-network = 192.168.2.0
ipv4-netmask = 255.255.255.0
cert-user-oid = 0.9.2342.19200300.100.1.1
`;

const MINIMAL = ['server-cert = /c.pem', 'server-key = /k.pem', 'auth = "plain[passwd=/etc/ocserv/ocpasswd]"', 'ipv4-network = 10.1.0.0/16'];

function parse(lines: string[]) {
  return parseConfig(lines.join('\n') + '\n', OPTS);
}

test('an ocserv sample configuration loads; unimplemented keys are ignored with a warning each', () => {
  const { config, warnings } = parseConfig(OCSERV_SAMPLE, OPTS);
  assert.equal(config.source, OPTS.source);
  assert.equal(config.tcpPort, 443);
  assert.equal(config.udpPort, 443);
  assert.equal(config.serverCert, '/etc/tests/certs/server-cert.pem', 'relative to the config directory');
  assert.equal(config.serverKey, '/etc/tests/certs/server-key.pem');
  assert.equal(config.caCert, '/etc/tests/certs/ca.pem');
  assert.deepEqual(config.auth, [{ kind: 'plain', passwd: '/etc/ocserv/sample.passwd' }]);
  assert.deepEqual(config.ipv4Pool, { network: '192.168.1.0', prefix: 24 });
  assert.equal(config.ipv6Pool, null);
  assert.deepEqual(config.routes, ['10.10.10.0/24', '192.168.0.0/16']);
  assert.deepEqual(config.noRoutes, ['192.168.5.0/24']);
  assert.deepEqual(config.dns, ['192.168.1.2']);
  assert.equal(config.defaultDomain, 'example.com');
  assert.equal(config.device, 'vpns');
  assert.equal(config.maxClients, 16);
  assert.equal(config.maxSameClients, 2);
  assert.equal(config.rekeyMethod, 'ssl');
  assert.equal(config.adminSocket, '/var/run/occtl.socket', 'use-occtl = true without a socket file: ocserv default');
  // run-as-user/run-as-group are implemented (privilege drop, issue 10).
  assert.equal(config.runAsUser, 'nobody');
  assert.equal(config.runAsGroup, 'daemon');
  for (const k of ['socket-file', 'isolate-workers', 'tls-priorities', 'cisco-client-compat', 'log-level', 'client-bypass-protocol']) {
    assert.ok(config.ignoredKeys.includes(k), k);
    assert.ok(warnings.some((w) => w.includes(`key ${k} is an ocserv option wolfguard does not implement; ignored`)), k);
  }
  assert.ok(warnings.some((w) => /line 8: key socket-file/.test(w)), 'warnings carry the line');
  assert.ok(warnings.some((w) => w.includes('[vhost:www.example.com]')), 'the virtual host is reported');
  assert.ok(!config.ignoredKeys.includes('auth'));
});

test('defaults are ocserv 1.3 defaults', () => {
  const { config, warnings } = parse(MINIMAL);
  assert.deepEqual(warnings, []);
  assert.equal(config.tcpPort, 443);
  assert.equal(config.udpPort, null, 'no udp-port: no DTLS, as ocserv');
  assert.equal(config.dpd, 90);
  assert.equal(config.mobileDpd, 1800);
  assert.equal(config.keepalive, 32400);
  assert.equal(config.cookieTimeout, 300);
  assert.equal(config.authTimeout, 240);
  assert.equal(config.rekeyTime, 172800);
  assert.equal(config.rekeyMethod, 'new-tunnel');
  assert.equal(config.idleTimeout, null);
  assert.equal(config.mobileIdleTimeout, null);
  assert.equal(config.sessionTimeout, null);
  assert.equal(config.mtu, null);
  assert.equal(config.maxClients, 0);
  assert.equal(config.maxSameClients, 0);
  assert.equal(config.device, CONFIG_DEFAULTS.device);
  assert.deepEqual(config.routes, []);
  assert.equal(config.adminSocket, undefined);
  assert.deepEqual(config.ignoredKeys, []);
});

const valueCases: Array<{ name: string; extra: string[]; check: (c: ReturnType<typeof parse>['config'], w: string[]) => void }> = [
  { name: 'ipv4-network with /N', extra: [], check: (c) => assert.deepEqual(c.ipv4Pool, { network: '10.1.0.0', prefix: 16 }) },
  {
    name: 'ipv4-network with ipv4-netmask',
    extra: ['ipv4-network = 172.16.0.0', 'ipv4-netmask = 255.255.240.0'],
    check: (c) => assert.deepEqual(c.ipv4Pool, { network: '172.16.0.0', prefix: 20 }),
  },
  {
    name: 'ipv6 pool with subnet prefix',
    extra: ['ipv6-network = fd00:1234::/48', 'ipv6-subnet-prefix = 64'],
    check: (c) => assert.deepEqual(c.ipv6Pool, { network: 'fd00:1234::', prefix: 48, subnetPrefix: 64 }),
  },
  {
    name: 'ipv6 pool via ipv6-prefix, default subnet prefix 128',
    extra: ['ipv6-network = 2001:db8::', 'ipv6-prefix = 64'],
    check: (c) => assert.deepEqual(c.ipv6Pool, { network: '2001:db8::', prefix: 64, subnetPrefix: 128 }),
  },
  {
    name: 'routes: netmask and /N forms normalize to CIDR; IPv6 kept; duplicates merged',
    extra: ['route = 192.168.1.0/255.255.255.0', 'route = 192.168.1.0/24', 'route = 2001:DB8::/32', 'no-route = 10.1.5.0/255.255.255.0'],
    check: (c) => {
      assert.deepEqual(c.routes, ['192.168.1.0/24', '2001:db8::/32']);
      assert.deepEqual(c.noRoutes, ['10.1.5.0/24']);
    },
  },
  {
    name: 'route = default means full tunnel: every route dropped, with a warning',
    extra: ['route = 10.0.0.0/8', 'route = default'],
    check: (c, w) => {
      assert.deepEqual(c.routes, []);
      assert.ok(w.some((x) => /route = default/.test(x)));
    },
  },
  { name: 'route = 0.0.0.0/0 is default too', extra: ['route = 0.0.0.0/0'], check: (c) => assert.deepEqual(c.routes, []) },
  {
    name: 'dns, ipv4-dns and ipv6-dns merge in file order',
    extra: ['dns = 192.0.2.53', 'ipv6-dns = 2001:DB8::53', 'ipv4-dns = 198.51.100.53'],
    check: (c) => assert.deepEqual(c.dns, ['192.0.2.53', '2001:db8::53', '198.51.100.53']),
  },
  {
    name: 'timeouts: 0 is off; mobile-idle-timeout follows idle-timeout; mobile-dpd 0 follows dpd',
    extra: ['idle-timeout = 1200', 'session-timeout = 0', 'dpd = 30', 'mobile-dpd = 0', 'mtu = 0'],
    check: (c) => {
      assert.equal(c.idleTimeout, 1200);
      assert.equal(c.mobileIdleTimeout, 1200);
      assert.equal(c.sessionTimeout, null);
      assert.equal(c.dpd, 30);
      assert.equal(c.mobileDpd, 30);
      assert.equal(c.mtu, null);
    },
  },
  { name: 'explicit mobile-idle-timeout wins', extra: ['idle-timeout = 1200', 'mobile-idle-timeout = 2400'], check: (c) => assert.equal(c.mobileIdleTimeout, 2400) },
  { name: 'udp-port = 0 turns DTLS off', extra: ['udp-port = 0'], check: (c) => assert.equal(c.udpPort, null) },
  { name: 'no-udp = true turns DTLS off', extra: ['udp-port = 4443', 'no-udp = true'], check: (c) => assert.equal(c.udpPort, null) },
  {
    name: 'plain with otp, relative paths resolved against the config directory',
    extra: ['auth = "certificate"', 'ca-cert = ca.pem'],
    check: (c) => {
      assert.deepEqual(c.auth, [{ kind: 'plain', passwd: '/etc/ocserv/ocpasswd' }, { kind: 'certificate' }]);
      assert.equal(c.caCert, '/etc/ocserv/ca.pem');
    },
  },
  {
    name: 'repeated single key: last wins, with a warning naming both lines',
    extra: ['tcp-port = 8443', 'tcp-port = 9443'],
    check: (c, w) => {
      assert.equal(c.tcpPort, 9443);
      assert.ok(w.some((x) => /line 6: key tcp-port repeated; this value overrides line 5/.test(x)), w.join('|'));
    },
  },
  {
    name: 'ciphers, banner, listen-host, occtl-socket-file (relative)',
    extra: ['ciphers = TLS13-AES128-GCM-SHA256:ECDHE-ECDSA-AES128-GCM-SHA256', 'banner = "Welcome, friend"', 'listen-host = 192.0.2.1', 'occtl-socket-file = run/occtl.socket'],
    check: (c) => {
      assert.equal(c.ciphers, 'TLS13-AES128-GCM-SHA256:ECDHE-ECDSA-AES128-GCM-SHA256');
      assert.equal(c.banner, 'Welcome, friend');
      assert.equal(c.listenHost, '192.0.2.1');
      assert.equal(c.adminSocket, '/etc/ocserv/run/occtl.socket');
    },
  },
  { name: 'use-occtl = false drops the admin socket', extra: ['occtl-socket-file = /run/x.sock', 'use-occtl = false'], check: (c) => assert.equal(c.adminSocket, undefined) },
  { name: 'empty value: ignored with a warning, as ocserv', extra: ['banner = ""'], check: (c, w) => (assert.equal(c.banner, undefined), assert.ok(w.some((x) => /banner has an empty value/.test(x)))) },
];

for (const c of valueCases) {
  test(`values: ${c.name}`, () => {
    // MINIMAL's pool line is dropped when the case sets its own pool.
    const base = c.extra.some((l) => l.startsWith('ipv4-network') || l.startsWith('ipv6-network')) ? MINIMAL.slice(0, 3) : MINIMAL;
    const { config, warnings } = parse([...base, ...c.extra]);
    c.check(config, warnings);
  });
}

// Each case: lines appended to the minimal config (lines 1-4), and the key/line the error must name.
const errorCases: Array<{ name: string; extra: string[]; key: string; line: number; code?: ErrorCode; match?: RegExp; auth?: string }> = [
  { name: 'port 0', extra: ['tcp-port = 0'], key: 'tcp-port', line: 5, match: /outside 1\.\.65535/ },
  { name: 'port too large', extra: ['udp-port = 70000'], key: 'udp-port', line: 5 },
  { name: 'port not a number', extra: ['tcp-port = https'], key: 'tcp-port', line: 5, match: /not a non-negative integer/ },
  { name: 'negative number', extra: ['dpd = -5'], key: 'dpd', line: 5 },
  { name: 'fraction', extra: ['keepalive = 1.5'], key: 'keepalive', line: 5 },
  { name: 'ipv4-network with host bits', extra: ['ipv4-network = 10.1.2.3/16'], key: 'ipv4-network', line: 5, match: /host bits/ },
  { name: 'ipv4-network without mask', extra: ['ipv4-network = 10.1.0.0'], key: 'ipv4-network', line: 5, match: /no netmask/ },
  { name: 'ipv4-netmask not contiguous', extra: ['ipv4-network = 10.1.0.0', 'ipv4-netmask = 255.0.255.0'], key: 'ipv4-netmask', line: 6, match: /not contiguous/ },
  { name: 'ipv4-netmask contradicts /N', extra: ['ipv4-network = 10.1.0.0/16', 'ipv4-netmask = 255.255.255.0'], key: 'ipv4-netmask', line: 6, match: /contradicts/ },
  { name: 'IPv6 text as ipv4-network', extra: ['ipv4-network = fd00::/64'], key: 'ipv4-network', line: 5 },
  { name: 'ipv6 subnet not longer than network', extra: ['ipv6-network = fd00::/64', 'ipv6-subnet-prefix = 64'], key: 'ipv6-subnet-prefix', line: 6, match: /longer than/ },
  { name: 'ipv6-network without prefix', extra: ['ipv6-network = fd00::'], key: 'ipv6-network', line: 5 },
  { name: 'route without prefix', extra: ['route = 10.0.0.0'], key: 'route', line: 5, match: /missing a \/prefix/ },
  { name: 'route with bad netmask', extra: ['route = 10.0.0.0/255.0.255.0'], key: 'route', line: 5 },
  { name: 'route with host bits', extra: ['route = 10.0.0.1/8'], key: 'route', line: 5, match: /did you mean 10\.0\.0\.0\/8/ },
  { name: 'route garbage', extra: ['route = example.com/24'], key: 'route', line: 5 },
  { name: 'no-route default', extra: ['no-route = default'], key: 'no-route', line: 5 },
  { name: 'dns not an address', extra: ['dns = resolver.example'], key: 'dns', line: 5 },
  { name: 'dns local', extra: ['dns = local'], key: 'dns', line: 5, match: /no longer supported/ },
  { name: 'auth pam', extra: ['auth = "pam"'], key: 'auth', line: 5, match: /does not implement/ },
  { name: 'auth unknown method', extra: ['auth = "magic"'], key: 'auth', line: 5, match: /unknown method/ },
  { name: 'auth plain without passwd', extra: [], auth: 'auth = plain', key: 'auth', line: 3, match: /needs a password file/ },
  { name: 'auth plain unknown option', extra: [], auth: 'auth = "plain[file=/x]"', key: 'auth', line: 3, match: /unknown plain option "file"/ },
  { name: 'auth plain unclosed bracket', extra: [], auth: 'auth = "plain[passwd=/x"', key: 'auth', line: 3, match: /closing/ },
  { name: 'second plain auth', extra: ['auth = "plain[passwd=/x]"'], key: 'auth', line: 5, match: /second plain/ },
  { name: 'certificate auth without ca-cert', extra: ['auth = certificate'], key: 'auth', line: 5, match: /ca-cert/ },
  { name: 'rekey-method unknown', extra: ['rekey-method = sometimes'], key: 'rekey-method', line: 5 },
  { name: 'device too long', extra: ['device = a-very-long-interface-name'], key: 'device', line: 5 },
  { name: 'device with a slash', extra: ['device = tun/0'], key: 'device', line: 5 },
  { name: 'mtu too small', extra: ['mtu = 100'], key: 'mtu', line: 5 },
  { name: 'banner too long', extra: [`banner = ${'b'.repeat(300)}`], key: 'banner', line: 5 },
  { name: 'no-udp not boolean', extra: ['no-udp = maybe'], key: 'no-udp', line: 5 },
  { name: 'second server-cert', extra: ['server-cert = /other.pem'], key: 'server-cert', line: 5, match: /one certificate/ },
  { name: 'unknown key', extra: ['frobnicate = 1'], key: 'frobnicate', line: 5, code: ErrorCodes.CONFIG_UNKNOWN_KEY },
  { name: 'typo gets a suggestion', extra: ['keepalve = 30'], key: 'keepalve', line: 5, code: ErrorCodes.CONFIG_UNKNOWN_KEY, match: /did you mean "keepalive"/ },
  { name: 'underscore spelling gets a suggestion', extra: ['tcp_port = 443'], key: 'tcp_port', line: 5, code: ErrorCodes.CONFIG_UNKNOWN_KEY, match: /did you mean "tcp-port"/ },
  { name: 'indented key is a continuation, and the error says so', extra: ['dns = 192.0.2.1', '  tcp-port = 443'], key: 'dns', line: 6, match: /indented/ },
];

for (const c of errorCases) {
  test(`error names key and line: ${c.name}`, () => {
    const base = [...MINIMAL];
    // A case that sets its own pool replaces MINIMAL's, keeping line numbers.
    if (c.extra.some((l) => l.startsWith('ipv4-network') || l.startsWith('ipv6-network'))) base[3] = '# pool given below';
    if (c.auth !== undefined) base[2] = c.auth;
    assert.throws(
      () => parse([...base, ...c.extra]),
      (e: unknown) => {
        assert.ok(isWolfguardError(e), String(e));
        assert.equal(e.code, c.code ?? ErrorCodes.CONFIG_INVALID, e.message);
        assert.equal(e.details.key, c.key, e.message);
        assert.equal(e.details.line, c.line, e.message);
        assert.ok(e.message.includes(`line ${c.line}`) && e.message.includes(c.key), e.message);
        if (c.match) assert.match(e.message, c.match);
        return true;
      },
    );
  });
}

const missingCases: Array<{ drop: string; key: string }> = [
  { drop: 'server-cert', key: 'server-cert' },
  { drop: 'server-key', key: 'server-key' },
  { drop: 'auth', key: 'auth' },
  { drop: 'ipv4-network', key: 'ipv4-network' },
];
for (const c of missingCases) {
  test(`missing required key: ${c.drop}`, () => {
    assert.throws(
      () => parse(MINIMAL.filter((l) => !l.startsWith(c.drop))),
      (e: unknown) => isWolfguardError(e, ErrorCodes.CONFIG_INVALID) && e.details.key === c.key && e.message.includes(c.key),
    );
  });
}

test('a syntax error names the source and line', () => {
  assert.throws(
    () => parseConfig('tcp-port = 443\nbroken line\n', OPTS),
    (e: unknown) => isWolfguardError(e, ErrorCodes.CONFIG_INVALID) && e.details.line === 2 && e.message.startsWith('/etc/ocserv/ocserv.conf line 2'),
  );
});

test('loadConfigFile resolves relative paths against the file and reports a missing file', () => {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'wg-cfg-'));
  try {
    const file = path.join(dir, 'ocserv.conf');
    fs.writeFileSync(file, ['server-cert = certs/c.pem', 'server-key = certs/k.pem', 'auth = "plain[passwd=ocpasswd]"', 'ipv4-network = 10.9.0.0/24'].join('\n'));
    const { config } = loadConfigFile(file);
    assert.equal(config.serverCert, path.join(dir, 'certs/c.pem'));
    assert.deepEqual(config.auth, [{ kind: 'plain', passwd: path.join(dir, 'ocpasswd') }]);
    assert.equal(config.source, file);
    assert.throws(() => loadConfigFile(path.join(dir, 'nope.conf')), (e: unknown) => isWolfguardError(e, ErrorCodes.FILE_NOT_FOUND));
  } finally {
    fs.rmSync(dir, { recursive: true, force: true });
  }
});

test('fuzz: random text into parseConfig returns or throws a WolfguardError', () => {
  const known = ['tcp-port', 'udp-port', 'route', 'no-route', 'dns', 'auth', 'ipv4-network', 'ipv4-netmask', 'ipv6-network', 'ipv6-subnet-prefix', 'mtu', 'device', 'dpd', 'server-cert', 'server-key', 'rekey-method', 'banner', 'run-as-user', 'no-udp', 'use-occtl'];
  const values = fc.oneof(
    fc.string({ maxLength: 30 }),
    fc.constantFrom('443', '0', '-1', '99999', 'default', '10.0.0.0/8', '10.0.0.1/8', '10.0.0.0/255.0.0.0', 'fd00::/64', '::/0', 'plain[passwd=/x]', 'plain[', 'certificate', 'true', '""', '/'),
  );
  const line = fc.oneof(
    fc.string({ maxLength: 40 }),
    fc.tuple(fc.constantFrom(...known), values).map(([k, v]) => `${k} = ${v}`),
    fc.tuple(fc.constantFrom(' ', '\t', '[vhost:x]', '#'), fc.string({ maxLength: 10 })).map(([a, b]) => a + b),
  );
  fc.assert(
    fc.property(fc.array(line, { maxLength: 15 }), fc.boolean(), (lines, withMinimal) => {
      const text = [...(withMinimal ? MINIMAL : []), ...lines].join('\n');
      try {
        const { config } = parseConfig(text, OPTS);
        assert.ok(config.ipv4Pool || config.ipv6Pool);
        assert.ok(config.tcpPort >= 1 && config.tcpPort <= 65535);
      } catch (e) {
        assert.ok(isWolfguardError(e), `unexpected ${String(e)}`);
        assert.ok(e.code === ErrorCodes.CONFIG_INVALID || e.code === ErrorCodes.CONFIG_UNKNOWN_KEY, e.code);
      }
    }),
    { numRuns: 2000 },
  );
});

test('metrics-listen: [host:]port, loopback by default, a bad value names the key and line', () => {
  assert.equal(parse([...MINIMAL, 'metrics-listen = 9101']).config.metricsListen, '9101');
  assert.equal(parse([...MINIMAL, 'metrics-listen = [::1]:9101']).config.metricsListen, '[::1]:9101');
  assert.equal(parse(MINIMAL).config.metricsListen, undefined, 'off unless configured');
  assert.equal(parse([...MINIMAL, 'metrics-listen = ']).config.metricsListen, undefined, 'empty is off');
  for (const bad of ['localhost', '1.2.3.4:99999', 'a:b:c']) {
    assert.throws(
      () => parse([...MINIMAL, `metrics-listen = ${bad}`]),
      (e: unknown) => isWolfguardError(e, ErrorCodes.CONFIG_INVALID) && e.message.includes('line 5') && e.message.includes('metrics-listen'),
      `refused: ${JSON.stringify(bad)}`,
    );
  }
});

test('occtl-socket-group names the group that may use the admin socket besides root', () => {
  assert.equal(parse([...MINIMAL, 'occtl-socket-group = wheel']).config.adminSocketGroup, 'wheel');
  assert.equal(parse(MINIMAL).config.adminSocketGroup, undefined);
});
