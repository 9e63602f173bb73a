// Fuzz targets: every TypeScript parser that reads bytes from the network or
// from a file the operator (or an attacker who can write it) controls. Each
// target takes raw bytes, so one corpus format (a file of bytes) serves the
// regression replay in `npm test`, the longer `npm run fuzz`, and the native
// libFuzzer harness.
//
// The invariant every target checks: the parser returns, or throws a
// WolfguardError; never another exception type (a TypeError from a missed
// bounds check is a bug an attacker can trigger), never takes long (a regex
// or loop that goes quadratic is a denial of service), and what it returns is
// bounded by what it was given (no amplification).
import assert from 'node:assert/strict';
import fc from 'fast-check';
import { WolfguardError } from '../../src/common/errors';
import { parseAuthRequestBody } from '../../src/protocol/auth-xml';
import { CstpReader, describeDisconnect, CSTP_MAX_PAYLOAD } from '../../src/protocol/cstp';
import { parseConnectRequest } from '../../src/protocol/connect-request';
import { parseCookieHeader } from '../../src/protocol/cookies';
import { clientHelloPskIdentity, clientHelloSessionId, MAX_PSK_IDENTITY, MAX_SESSION_ID } from '../../src/protocol/dtls-hello';
import { tokenizeConfig } from '../../src/main/config/ocserv-syntax';
import { parseConfig } from '../../src/main/config/load';
import { parseAdmissionRules } from '../../src/main/admission/rules-config';
import { parsePasswd, parsePasswdLenient, serializePasswd } from '../../src/main/users/ocpasswd';

/** One call longer than this is a hang for our purposes (inputs are at most a few KiB). */
export const MAX_EXEC_MS = 250;
/** Largest input the generators build; parsers bound their own inputs well below what the network can send. */
export const MAX_INPUT_BYTES = 16 * 1024;
/** A parsed result may be this many times the input's size (JSON of it, with keys) before we call it amplification. */
const AMPLIFICATION = 8;
/** Fixed slack for results of tiny inputs (default values, empty structures). */
const RESULT_SLACK_BYTES = 4096;

export interface FuzzTarget {
  name: string;
  /** Words that make up valid-looking input, for the structured generator. */
  dictionary: readonly string[];
  /** Runs the parser on `input`; throws an AssertionError when an invariant breaks. */
  check(input: Buffer): void;
}

/** Calls `fn`, allows WolfguardError, rejects any other throw or a slow call; returns fn's result or undefined. */
export function guarded<T>(name: string, input: Buffer, fn: () => T): T | undefined {
  const t0 = performance.now();
  let out: T | undefined;
  try {
    out = fn();
  } catch (e) {
    if (!(e instanceof WolfguardError)) {
      assert.fail(`${name}: threw ${(e as Error)?.constructor?.name ?? typeof e} (${String((e as Error)?.message ?? e)}) on input ${preview(input)}`);
    }
    assert.ok(typeof e.code === 'string' && e.message.length > 0, `${name}: WolfguardError without code or message`);
  }
  const ms = performance.now() - t0;
  assert.ok(ms < MAX_EXEC_MS, `${name}: took ${ms.toFixed(1)} ms on ${input.length} bytes ${preview(input)}`);
  return out;
}

function preview(b: Buffer): string {
  return `(${b.length} bytes, hex ${b.subarray(0, 48).toString('hex')}${b.length > 48 ? '…' : ''})`;
}

function bounded(name: string, input: Buffer, result: unknown): void {
  if (result === undefined) return;
  const size = Buffer.byteLength(JSON.stringify(result, (_k, v: unknown) => (typeof v === 'bigint' ? String(v) : Buffer.isBuffer(v) ? v.length : v)) ?? '');
  assert.ok(size <= input.length * AMPLIFICATION + RESULT_SLACK_BYTES, `${name}: ${input.length} bytes in, ${size} bytes of result out`);
}

const text = (b: Buffer): string => b.toString('utf8');

/** Splits `input` into HTTP header name/value pairs as Node's rawHeaders would present them. */
function rawHeaders(input: Buffer): string[] {
  const out: string[] = [];
  for (const line of text(input).split(/\r?\n/)) {
    const colon = line.indexOf(':');
    if (colon < 0) continue;
    out.push(line.slice(0, colon).trim(), line.slice(colon + 1).trim());
  }
  return out;
}

export const TARGETS: readonly FuzzTarget[] = [
  {
    name: 'auth-xml',
    dictionary: [
      '<?xml version="1.0" encoding="UTF-8"?>',
      '<config-auth client="vpn" type="init" aggregate-auth-version="2">',
      '<config-auth client="vpn" type="auth-reply" aggregate-auth-version="2">',
      '<config-auth type="logout">',
      '</config-auth>',
      '<version who="vpn">9.12</version>',
      '<device-id>linux-64</device-id>',
      '<group-select>',
      '</group-select>',
      '<auth>',
      '</auth>',
      '<username>',
      '</username>',
      '<password>',
      '</password>',
      '<opaque is-for="sg">',
      '</opaque>',
      '<capabilities><auth-method>single-sign-on-v2</auth-method></capabilities>',
      '<!DOCTYPE x [<!ENTITY a "aaaaaaaaaa">]>',
      '&a;',
      '&amp;',
      '&#x41;',
      '<![CDATA[',
      ']]>',
      '<!--',
      '-->',
      'username=alice&password=secret',
      '&',
      '=',
      '%00',
      '%zz',
      'group_list=',
      'alice',
      '\u00e9',
      '\uFEFF',
      ' ',
      '>',
      '<',
      '"',
    ],
    check(input) {
      for (const ct of [undefined, 'application/x-www-form-urlencoded', 'text/xml']) {
        const out = guarded('auth-xml', input, () => parseAuthRequestBody(input, ct));
        bounded('auth-xml', input, out);
      }
    },
  },
  {
    name: 'cstp',
    dictionary: ['STF\x01', '\x00\x00', '\x00\x04', '\x05\xdc', '\xff\xff', '\x00', '\x03', '\x04', '\x05', '\x07', '\x09', 'E\x00\x00\x14', '\xb0'],
    check(input) {
      // The same bytes cut at every few offsets: framing must not depend on how the stream is cut.
      for (const maxPayload of [CSTP_MAX_PAYLOAD, 1500]) {
        for (const step of [input.length || 1, 1, 7]) {
          const reader = new CstpReader({ maxPayload });
          let payloadBytes = 0;
          let failed = false;
          for (let off = 0; off < input.length && !failed; off += step) {
            const chunk = input.subarray(off, off + step);
            const frames = guarded('cstp', input, () => reader.push(chunk));
            if (frames === undefined) {
              failed = true;
              break;
            }
            for (const f of frames) {
              payloadBytes += f.payload.length;
              if (f.type === 5) bounded('cstp-disconnect', f.payload, guarded('cstp-disconnect', f.payload, () => describeDisconnect(f.payload)));
            }
          }
          assert.ok(payloadBytes <= input.length, 'cstp: more payload out than bytes in');
          if (!failed) assert.ok(reader.pendingBytes <= input.length, 'cstp: holds more than it was given');
          // A failed reader stays failed with a WolfguardError, whatever comes next.
          if (failed) assert.throws(() => reader.push(Buffer.from('STF\x01\x00\x00\x07\x00', 'latin1')), WolfguardError);
        }
      }
    },
  },
  {
    name: 'connect-request',
    dictionary: [
      'Cookie: webvpn=',
      'X-CSTP-Hostname: ',
      'X-CSTP-Base-MTU: 1500',
      'X-CSTP-MTU: 1406',
      'X-CSTP-Address-Type: IPv6,IPv4',
      'X-CSTP-Full-IPv6-Capability: true',
      'X-CSTP-Address: 192.168.1.2',
      'X-CSTP-Address: fd00::2',
      'X-DTLS-Master-Secret: ',
      '0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef',
      'X-DTLS-CipherSuite: PSK-NEGOTIATE:AES256-SHA:OC-DTLS1_2-AES128-GCM',
      'X-DTLS12-CipherSuite: ECDHE-RSA-AES256-GCM-SHA384',
      'X-CSTP-Accept-Encoding: oc-lz4,lzs',
      'X-DTLS-Accept-Encoding: oc-lz4',
      'User-Agent: Open AnyConnect VPN Agent v9.12',
      'User-Agent: AnyConnect Windows 4.10',
      'X-AnyConnect-Identifier-DeviceType: ',
      'X-AnyConnect-Identifier-Platform: linux-64',
      '\r\n',
      '\r\n',
      '-1',
      '99999999999999999999',
      '0x10',
      ',',
      ' ',
    ],
    check(input) {
      const headers = rawHeaders(input);
      bounded('connect-request', input, guarded('connect-request', input, () => parseConnectRequest(headers)));
      // A header list with an odd count is what a broken caller would pass: still a WolfguardError.
      guarded('connect-request', input, () => parseConnectRequest([...headers, 'x']));
      const cookies = guarded('cookies', input, () => parseCookieHeader(text(input)));
      assert.ok(cookies instanceof Map, 'cookies: not a Map');
      bounded('cookies', input, [...cookies.entries()]);
    },
  },
  {
    name: 'dtls-hello',
    dictionary: ['\x16', '\xfe\xfd', '\xfe\xff', '\x01\x00', '\x00\x00', '\x00\x00\x00\x00\x00\x00', '\x01', '\x20', '\x00\x29', '\x00\x2b', '\x00\x10', '\xff'],
    check(input) {
      const id = guarded('dtls-hello', input, () => clientHelloSessionId(input));
      assert.ok(id === undefined || (Buffer.isBuffer(id) && id.length >= 1 && id.length <= MAX_SESSION_ID), 'dtls-hello: session id out of bounds');
      const psk = guarded('dtls-hello', input, () => clientHelloPskIdentity(input));
      assert.ok(psk === undefined || (Buffer.isBuffer(psk) && psk.length <= MAX_PSK_IDENTITY && psk.length <= input.length), 'dtls-hello: PSK identity out of bounds');
    },
  },
  {
    name: 'ocserv-config',
    dictionary: [
      'auth = "plain[passwd=/etc/ocserv/ocpasswd]"\n',
      'auth = "certificate"\n',
      'server-cert = /etc/ssl/server.pem\n',
      'server-key = /etc/ssl/server.key\n',
      'tcp-port = 443\n',
      'udp-port = 443\n',
      'ipv4-network = 192.168.90.0/24\n',
      'ipv4-netmask = 255.255.255.0\n',
      'ipv6-network = fd00::/48\n',
      'ipv6-subnet-prefix = 64\n',
      'route = 10.0.0.0/8\n',
      'route = default\n',
      'no-route = 10.1.0.0/255.255.0.0\n',
      'dns = 192.168.90.1\n',
      'mtu = 1400\n',
      'dpd = 90\n',
      'max-clients = 0\n',
      'banner = "hello"\n',
      'device = vpns\n',
      'auth-timeout = 240\n',
      'run-as-user = nobody\n',
      'fips = true\n',
      '[vhost:example.com]\n',
      '  continued\n',
      '# comment\n',
      '; comment\n',
      ' # inline\n',
      '=',
      ':',
      '"',
      '\t',
      '\r\n',
      '\n',
      '-1',
      '4294967296',
      'true',
      'no',
      'x'.repeat(2100),
    ],
    check(input) {
      const s = text(input);
      const tokens = guarded('ocserv-config', input, () => tokenizeConfig(s));
      if (tokens) {
        assert.ok(tokens.length <= s.split('\n').length + s.split('\r').length, 'ocserv-config: more tokens than lines');
        // Keys and values are pieces of the text; every token shares its section's one string, and a
        // continuation line shares its key's, so JSON size is no measure: count each piece once.
        const chars = tokens.reduce((n, t) => n + (t.continued ? 0 : t.key.length) + t.value.length, 0);
        assert.ok(chars <= s.length, `ocserv-config: ${chars} characters of keys and values from ${s.length}`);
      }
      bounded('ocserv-config', input, guarded('ocserv-config', input, () => parseConfig(s, { source: '<fuzz>', baseDir: '/nonexistent' })));
    },
  },
  {
    name: 'admission-rules',
    dictionary: [
      '{',
      '}',
      '[',
      ']',
      ',',
      ':',
      '"default_action"',
      '"accept"',
      '"reject"',
      '"rate_limit"',
      '"version": 1',
      '"rules"',
      '"events"',
      '"name"',
      '"max_rate_per_second"',
      '"type": "prefix"',
      '"remote_addr"',
      '"id"',
      '"default_rate_limit"',
      '"penalty_duration_sec"',
      '"blacklist_after_violations"',
      '"prefix"',
      '"action"',
      '"10.0.0.0/8"',
      '"::/0"',
      '"fd00::1/129"',
      '"event"',
      '"dtls_handshake"',
      '"ban_score"',
      '"max_ban_score"',
      '"ban_time_sec"',
      '"max_connections_per_minute"',
      '"__proto__"',
      '"constructor"',
      '0',
      '-1',
      '1e308',
      '1.5',
      'null',
      'true',
      '"x"',
    ],
    check(input) {
      bounded('admission-rules', input, guarded('admission-rules', input, () => parseAdmissionRules(text(input), '<fuzz>')));
    },
  },
  {
    name: 'ocpasswd',
    dictionary: ['alice', 'bob', ':', '*', 'admins,users', '$5$salt$hash', '$6$', '!', '#', '\n', '\r\n', '::', ' ', ''],
    check(input) {
      const s = text(input);
      const doc = guarded('ocpasswd', input, () => parsePasswd(s, '<fuzz>'));
      const lenient = guarded('ocpasswd', input, () => parsePasswdLenient(s, '<fuzz>'));
      assert.ok(lenient !== undefined, 'ocpasswd: the lenient parser threw on text');
      // What is written back reads as the same users (ocpasswd rewrites the file after each change).
      if (doc) assert.deepEqual(parsePasswd(serializePasswd(doc), '<fuzz>').lines, doc.lines, 'ocpasswd: write-then-read changed the file');
      // One line out per line in, no longer than the file: JSON of tiny lines is all keys, so count instead.
      assert.ok(lenient.doc.lines.length <= s.split('\n').length, 'ocpasswd: more lines out than in');
      const chars = lenient.doc.lines.reduce((n, l) => n + (l.kind === 'verbatim' ? l.text.length : l.entry.user.length + l.entry.groupField.length + l.entry.hash.length), 0);
      assert.ok(chars <= s.length, 'ocpasswd: more text out than in');
    },
  },
];

export function targetNamed(name: string): FuzzTarget {
  const t = TARGETS.find((x) => x.name === name);
  if (!t) throw new Error(`no fuzz target ${name}`);
  return t;
}

/**
 * Inputs for a target: random bytes, sequences of dictionary words (to get
 * past the first checks), and corpus entries with bytes flipped, inserted,
 * cut or spliced (to explore near inputs known to reach deep).
 */
export function inputs(t: FuzzTarget, corpus: readonly Buffer[]): fc.Arbitrary<Buffer> {
  const bytes = fc.uint8Array({ maxLength: 512 }).map((a) => Buffer.from(a));
  const words = fc.array(fc.oneof(fc.constantFrom(...t.dictionary), fc.string({ maxLength: 8 })), { maxLength: 64 }).map((w) => Buffer.from(w.join(''), 'latin1'));
  const wordsUtf8 = fc.array(fc.oneof(fc.constantFrom(...t.dictionary), fc.string({ unit: 'grapheme', maxLength: 4 })), { maxLength: 48 }).map((w) => Buffer.from(w.join(''), 'utf8'));
  const arbs: fc.Arbitrary<Buffer>[] = [bytes, words, wordsUtf8];
  if (corpus.length > 0) arbs.push(mutated(corpus, t.dictionary), mutated(corpus, t.dictionary));
  return fc.oneof(...arbs).map((b) => (b.length > MAX_INPUT_BYTES ? b.subarray(0, MAX_INPUT_BYTES) : b));
}

type Mutation = { op: 'flip' | 'insert' | 'delete' | 'word' | 'truncate' | 'splice' | 'repeat'; at: number; value: number; other: number };

function mutated(corpus: readonly Buffer[], dictionary: readonly string[]): fc.Arbitrary<Buffer> {
  const mutation = fc.record<Mutation>({
    op: fc.constantFrom('flip', 'insert', 'delete', 'word', 'truncate', 'splice', 'repeat'),
    at: fc.nat(),
    value: fc.nat(255),
    other: fc.nat(),
  });
  return fc.tuple(fc.nat(corpus.length - 1), fc.array(mutation, { minLength: 1, maxLength: 8 })).map(([i, ms]) => {
    let b: Buffer = Buffer.from(corpus[i]!);
    for (const m of ms) b = applyMutation(b, m, corpus, dictionary);
    return b;
  });
}

function applyMutation(b: Buffer, m: Mutation, corpus: readonly Buffer[], dictionary: readonly string[]): Buffer {
  const at = b.length === 0 ? 0 : m.at % (b.length + 1);
  switch (m.op) {
    case 'flip': {
      if (b.length === 0) return Buffer.from([m.value]);
      const c = Buffer.from(b);
      c[at % c.length] = m.value;
      return c;
    }
    case 'insert':
      return Buffer.concat([b.subarray(0, at), Buffer.from([m.value]), b.subarray(at)]);
    case 'delete':
      return Buffer.concat([b.subarray(0, at), b.subarray(at + 1 + (m.value % 16))]);
    case 'word':
      return Buffer.concat([b.subarray(0, at), Buffer.from(dictionary[m.other % dictionary.length]!, 'latin1'), b.subarray(at)]);
    case 'truncate':
      return b.subarray(0, at);
    case 'splice': {
      const o = corpus[m.other % corpus.length]!;
      return Buffer.concat([b.subarray(0, at), o.subarray(m.value % (o.length + 1))]);
    }
    case 'repeat': {
      const piece = b.subarray(at, at + 1 + (m.value % 32));
      return Buffer.concat([b.subarray(0, at), ...Array<Buffer>(1 + (m.other % 64)).fill(piece), b.subarray(at)]);
    }
  }
}
