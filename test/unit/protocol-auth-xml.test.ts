// The aggregate-auth XML: what openconnect 9 sends (strings built from its
// auth.c xmlpost_* code as libxml2 serialises it: declaration, newline, the
// whole tree on one line, newline), what ocserv answers (byte for byte from
// worker-auth.c's macros), round trips between the two, and hostile bodies.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import fc from 'fast-check';
import { XMLParser } from 'fast-xml-parser';
import {
  AUTH_XML_CONTENT_TYPE,
  LoginMessages,
  MAX_AUTH_XML_BYTES,
  buildAuthComplete,
  buildAuthRequest,
  escapeXml,
  parseAuthRequestBody,
  type AuthReplyMessage,
  type ClientAuthMessage,
} from '../../src/protocol/auth-xml';
import { ErrorCodes, isWolfguardError, WolfguardError } from '../../src/common/errors';

const DECL = '<?xml version="1.0" encoding="UTF-8"?>\n';
/** xmlpost_new_query: root attributes, version, device-id, capabilities (HPKE build: two SSO methods). */
function ocHead(type: string, deviceId = '<device-id>linux-64</device-id>'): string {
  return (
    `${DECL}<config-auth client="vpn" type="${type}" aggregate-auth-version="2">` +
    `<version who="vpn">v9.12-2</version>${deviceId}` +
    '<capabilities><auth-method>single-sign-on-v2</auth-method><auth-method>single-sign-on-external-browser</auth-method></capabilities>'
  );
}
const OC_TAIL = '</config-auth>\n';
const XML_CT = 'application/xml; charset=utf-8';
const FORM_CT = 'application/x-www-form-urlencoded';

const isProtocolError = (e: unknown): boolean => isWolfguardError(e, ErrorCodes.PROTOCOL);

function reply(m: ClientAuthMessage): AuthReplyMessage {
  assert.equal(m.kind, 'auth-reply');
  return m as AuthReplyMessage;
}

test('openconnect 9 init (xmlpost_initial_req) parses', () => {
  const body = `${ocHead('init')}<group-access>https://vpn.example.com/staff</group-access>${OC_TAIL}`;
  assert.deepEqual(parseAuthRequestBody(body, XML_CT), {
    kind: 'init',
    version: 'v9.12-2',
    deviceId: 'linux-64',
    groupAccess: 'https://vpn.example.com/staff',
    capabilities: ['single-sign-on-v2', 'single-sign-on-external-browser'],
    clientCertFail: false,
  });
});

test('openconnect init variants: --authgroup, failed cert, mobile device-id, no SSO capability', () => {
  const cases: Array<{ name: string; body: string; want: Partial<ClientAuthMessage> }> = [
    {
      name: 'authgroup and client-cert-fail',
      body: `${ocHead('init')}<group-access>https://vpn.example.com</group-access><client-cert-fail/><group-select>admins</group-select>${OC_TAIL}`,
      want: { groupSelect: 'admins', clientCertFail: true },
    },
    {
      name: 'mobile platform attributes',
      body: `${ocHead('init', '<device-id platform-version="14" device-type="Pixel 7" unique-id="A1B2">android</device-id>')}<group-access>https://h</group-access>${OC_TAIL}`,
      want: { deviceId: 'android', platformVersion: '14', deviceType: 'Pixel 7', uniqueId: 'A1B2' },
    },
    {
      name: '--no-external-auth: empty capabilities',
      body: `${DECL}<config-auth client="vpn" type="init" aggregate-auth-version="2"><version who="vpn">v9.01</version><device-id>linux-64</device-id><capabilities/><group-access>https://h</group-access>${OC_TAIL}`,
      want: { version: 'v9.01', capabilities: [] },
    },
  ];
  for (const c of cases) {
    const got = parseAuthRequestBody(c.body, XML_CT);
    assert.equal(got.kind, 'init', c.name);
    for (const [k, v] of Object.entries(c.want)) assert.deepEqual((got as unknown as Record<string, unknown>)[k], v, `${c.name}: ${k}`);
  }
});

test('openconnect 9 auth-reply (xmlpost_append_form_opts) parses', () => {
  // form opts: the group_list select is linked first but goes to the root, after <auth>.
  const body = `${ocHead('auth-reply')}<auth><username>alice</username><password>p&amp;ss&lt;w&gt;rd"'</password></auth><group-select>staff</group-select>${OC_TAIL}`;
  const m = reply(parseAuthRequestBody(Buffer.from(body), XML_CT));
  assert.equal(m.format, 'xml');
  assert.equal(m.username, 'alice');
  assert.equal(m.password, `p&ss<w>rd"'`);
  assert.equal(m.groupSelect, 'staff');
  assert.equal(m.opaque, undefined);
  assert.deepEqual({ ...m.fields }, { username: 'alice', password: `p&ss<w>rd"'` });
});

test('auth-reply variants: OTP round, echoed opaque, secondary password, empty values, CR as &#13;', () => {
  const cases: Array<{ name: string; auth: string; extra?: string; want: Partial<AuthReplyMessage> }> = [
    { name: 'second round: password only', auth: '<auth><password>123456</password></auth>', want: { password: '123456', username: undefined } },
    {
      name: 'opaque echoed before <auth>',
      auth: '<opaque is-for="sg">ctx-42</opaque><auth><username>bob</username><password>pw</password></auth>',
      want: { opaque: 'ctx-42', username: 'bob' },
    },
    { name: 'secondary_password', auth: '<auth><username>u</username><password>a</password><secondary_password>b</secondary_password></auth>', want: { password: 'a', secondaryPassword: 'b' } },
    { name: 'empty password serialised by libxml2', auth: '<auth><username>u</username><password></password></auth>', want: { password: '' } },
    { name: 'self-closed empty password', auth: '<auth><username>u</username><password/></auth>', want: { password: '' } },
    { name: 'CR escaped as &#13;', auth: '<auth><username>u</username><password>a&#13;b</password></auth>', want: { password: 'a\rb' } },
    { name: 'password with surrounding spaces is kept as typed', auth: '<auth><username>u</username><password>  pass word </password></auth>', want: { password: '  pass word ' } },
    { name: 'UTF-8 user name', auth: '<auth><username>jürgen</username><password>x</password></auth>', want: { username: 'jürgen' } },
    { name: 'host-scan token is ignored', auth: '<auth><username>u</username></auth>', extra: '<host-scan-token>T</host-scan-token>', want: { username: 'u' } },
  ];
  for (const c of cases) {
    const m = reply(parseAuthRequestBody(`${ocHead('auth-reply')}${c.auth}${c.extra ?? ''}${OC_TAIL}`, XML_CT));
    for (const [k, v] of Object.entries(c.want)) assert.deepEqual((m as unknown as Record<string, unknown>)[k], v, `${c.name}: ${k}`);
  }
});

test('pretty-printed XML from other clients: metadata trimmed, structure white space ignored', () => {
  const body = `${DECL}<config-auth client="vpn" type="auth-reply">\n  <version who="vpn"> 4.10 </version>\n  <auth>\n    <username>carol</username>\n    <password>pw</password>\n  </auth>\n  <group-select> staff </group-select>\n</config-auth>\n`;
  const m = reply(parseAuthRequestBody(body, XML_CT));
  assert.deepEqual({ ...m.fields }, { username: 'carol', password: 'pw' });
  assert.equal(m.groupSelect, 'staff');
});

test('logout (Cisco clients) parses with its session token', () => {
  const body = `${DECL}<config-auth client="vpn" type="logout"><version who="vpn">4.10</version><session-token>ABCDEF</session-token></config-auth>`;
  assert.deepEqual(parseAuthRequestBody(body, XML_CT), { kind: 'logout', sessionToken: 'ABCDEF' });
});

test('old form POST (auth-common.c append_opt)', () => {
  const cases: Array<{ body: string; want: Partial<AuthReplyMessage> }> = [
    { body: 'username=alice&password=s3cret', want: { username: 'alice', password: 's3cret' } },
    // buf_append_urlencoded escapes everything but [A-Za-z0-9._~-].
    { body: 'group_list=staff&username=al%20ice&password=p%26ss%3Dw', want: { groupSelect: 'staff', username: 'al ice', password: 'p&ss=w' } },
    // ocserv also accepts the %-encoded field name.
    { body: 'group%5flist=ops&username=a&password=b', want: { groupSelect: 'ops' } },
    { body: 'username=a&password=b&secondary_password=123456', want: { secondaryPassword: '123456' } },
    { body: 'username=j%C3%BCrgen&password=x', want: { username: 'jürgen' } },
  ];
  for (const c of cases) {
    const m = reply(parseAuthRequestBody(c.body, FORM_CT));
    assert.equal(m.format, 'form');
    for (const [k, v] of Object.entries(c.want)) assert.deepEqual((m as unknown as Record<string, unknown>)[k], v, c.body);
  }
  // No content type at all is taken as a form, like ocserv.
  assert.equal(reply(parseAuthRequestBody('username=a&password=b')).username, 'a');
});

test('garbage is refused with WolfguardError(PROTOCOL)', () => {
  const cases: Array<[string, string | Buffer, string?]> = [
    ['empty', ''],
    ['blank', '  \n '],
    ['not XML, wrong content type', 'hello', XML_CT],
    ['unknown content type', 'username=a', 'application/json'],
    ['form field without =', 'username'],
    ['form with raw space', 'username=a b'],
    ['bad %-escape', 'username=%E0%A4%A'],
    ['control character in user name', 'username=a%0Ab&password=x'],
    ['unclosed XML', '<config-auth client="vpn" type="init"><version>'],
    ['other root', `${DECL}<auth id="main"></auth>`],
    ['no type', `${DECL}<config-auth client="vpn"></config-auth>`],
    ['unknown type', `${DECL}<config-auth client="vpn" type="complete"></config-auth>`],
    ['two roots', `${DECL}<config-auth type="init"></config-auth><config-auth type="init"></config-auth>`],
    ['user name too long', `${ocHead('auth-reply')}<auth><username>${'u'.repeat(300)}</username></auth>${OC_TAIL}`],
    ['NUL in password', `${ocHead('auth-reply')}<auth><password>a&#0;b</password></auth>${OC_TAIL}`.replace('&#0;', '\u0000')],
    ['too large', `${ocHead('auth-reply')}<auth><username>${'u'.repeat(MAX_AUTH_XML_BYTES)}</username></auth>${OC_TAIL}`],
    ['too large (bytes)', Buffer.alloc(MAX_AUTH_XML_BYTES + 1, 0x3c)],
  ];
  for (const [name, body, ct] of cases) assert.throws(() => parseAuthRequestBody(body, ct), isProtocolError, name);
});

test('entity expansion and DOCTYPE tricks are refused quickly', () => {
  const laughs =
    '<?xml version="1.0"?><!DOCTYPE lolz [<!ENTITY lol "lol"><!ENTITY lol2 "&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;">' +
    '<!ENTITY lol3 "&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;">]>' +
    '<config-auth client="vpn" type="auth-reply"><auth><username>&lol3;</username></auth></config-auth>';
  const external = '<?xml version="1.0"?><!DOCTYPE x [<!ENTITY xxe SYSTEM "file:///etc/passwd">]><config-auth type="init"><version>&xxe;</version></config-auth>';
  const lowercase = '<!doctype config-auth><config-auth type="init"></config-auth>';
  const undeclared = `${ocHead('auth-reply')}<auth><username>&xxe;</username></auth>${OC_TAIL}`;
  const deep = `<config-auth type="init">${'<a>'.repeat(3000)}${'</a>'.repeat(3000)}</config-auth>`;
  for (const body of [laughs, external, lowercase, deep]) {
    const t0 = Date.now();
    assert.throws(() => parseAuthRequestBody(body, XML_CT), isProtocolError);
    assert.ok(Date.now() - t0 < 1000);
  }
  // An undeclared entity is not expanded: it stays literal text.
  assert.equal(reply(parseAuthRequestBody(undeclared, XML_CT)).username, '&xxe;');
});

test('prototype-named elements neither pollute nor crash', () => {
  const bodies = [
    `${ocHead('auth-reply')}<auth><__proto__>x</__proto__><username>u</username></auth>${OC_TAIL}`,
    `${ocHead('auth-reply')}<auth><constructor>x</constructor><toString>y</toString><username>u</username></auth>${OC_TAIL}`,
  ];
  for (const b of bodies) {
    try {
      const m = reply(parseAuthRequestBody(b, XML_CT));
      assert.equal(m.username, 'u');
    } catch (e) {
      assert.ok(isProtocolError(e));
    }
    assert.equal(({} as Record<string, unknown>)['x'], undefined);
  }
  // Form field names are never looked up on a prototype.
  const m = reply(parseAuthRequestBody('constructor=1&username=u&password=p', FORM_CT));
  assert.equal(m.fields['constructor'], '1');
  assert.equal(m.username, 'u');
});

test('buildAuthRequest: the exact ocserv login form (OC_LOGIN_START .. OC_LOGIN_END)', () => {
  const want =
    '<?xml version="1.0" encoding="UTF-8"?>\n' +
    '<config-auth client="vpn" type="auth-request">\n' +
    '<version who="sg">0.1(1)</version>\n' +
    '<auth id="main">\n' +
    '<message>Please enter your username and password.</message>\n' +
    '<form method="post" action="/auth">\n' +
    '<input type="text" name="username" label="Username:" />\n' +
    '<input type="password" name="password" label="Password:" />\n' +
    '</form></auth>\n' +
    '</config-auth>';
  const got = buildAuthRequest({
    message: LoginMessages.USERNAME_PASSWORD,
    fields: [
      { type: 'text', name: 'username', label: 'Username:' },
      { type: 'password', name: 'password', label: 'Password:' },
    ],
  });
  assert.equal(got, want);
  assert.equal(AUTH_XML_CONTENT_TYPE, 'text/xml; charset=utf-8');
});

test('buildAuthRequest: ocserv password round, banner, groups with the selected one first', () => {
  assert.equal(
    buildAuthRequest({ message: LoginMessages.PASSWORD, fields: [{ type: 'password', name: 'password', label: 'Password:' }] }),
    '<?xml version="1.0" encoding="UTF-8"?>\n<config-auth client="vpn" type="auth-request">\n<version who="sg">0.1(1)</version>\n<auth id="main">\n' +
      '<message>Please enter your password.</message>\n<form method="post" action="/auth">\n' +
      '<input type="password" name="password" label="Password:" />\n</form></auth>\n</config-auth>',
  );
  const withGroups = buildAuthRequest({
    message: 'm',
    banner: 'Authorised use only',
    fields: [{ type: 'text', name: 'username', label: 'Username:' }],
    groups: ['staff', { value: 'ops', label: 'Operations' }],
    selectedGroup: 'ops',
  });
  assert.ok(withGroups.includes('<auth id="main">\n<banner>Authorised use only</banner><message>m</message>\n'));
  assert.ok(
    withGroups.includes(
      '<select name="group_list" label="Group:">\n<option value="ops">Operations</option>\n<option value="staff">staff</option>\n</select>\n</form></auth>',
    ),
  );
});

test('builders escape every text and attribute', () => {
  const evil = `<x a="1" b='2'>&amp;</x>`;
  const xml = buildAuthRequest({
    message: evil,
    error: evil,
    banner: evil,
    opaque: evil,
    action: '/auth?x="y"',
    fields: [{ type: 'text', name: 'user"name', label: evil }],
    groups: [evil],
  });
  assert.ok(!xml.includes('<x '));
  assert.ok(xml.includes(escapeXml(evil)));
  assert.equal(escapeXml(`<>&"'`), '&lt;&gt;&amp;&quot;&apos;');
  const doc = new XMLParser({ ignoreAttributes: false, attributeNamePrefix: '@', htmlEntities: true }).parse(xml) as Record<string, any>;
  const auth = doc['config-auth'].auth;
  assert.equal(auth.message, evil);
  assert.equal(auth.error, evil);
  assert.equal(auth.form.input['@label'], evil);
  assert.equal(auth.form['@action'], '/auth?x="y"');
  assert.throws(() => buildAuthRequest({ message: 'a\0b', fields: [] }), (e) => isWolfguardError(e, ErrorCodes.INVALID_ARGUMENT));
});

test('buildAuthComplete: the exact ocserv success body, and a session token', () => {
  assert.equal(
    buildAuthComplete(),
    '<?xml version="1.0" encoding="UTF-8"?>\n<config-auth client="vpn" type="complete">\n<version who="sg">0.1(1)</version>\n' +
      '<auth id="success">\n<title>SSL VPN Service</title></auth></config-auth>\n',
  );
  assert.equal(
    buildAuthComplete({ banner: 'Welcome & behave' }),
    '<?xml version="1.0" encoding="UTF-8"?>\n<config-auth client="vpn" type="complete">\n<version who="sg">0.1(1)</version>\n' +
      '<auth id="success">\n<title>SSL VPN Service</title><banner>Welcome &amp; behave</banner></auth></config-auth>\n',
  );
  const withToken = buildAuthComplete({ sessionToken: 'TOK', message: 'hi' });
  const doc = new XMLParser({ ignoreAttributes: false, attributeNamePrefix: '@' }).parse(withToken) as Record<string, any>;
  assert.equal(doc['config-auth']['session-token'], 'TOK');
  assert.equal(doc['config-auth'].auth['@id'], 'success');
  assert.equal(doc['config-auth'].auth.message, 'hi');
});

/**
 * What openconnect's auth.c does with our auth-request: parse_form collects
 * <input>s in order, parse_auth_choice puts the group_list <select> first
 * (value attribute, else content), and xmlpost_append_form_opts answers.
 */
function openconnectAnswer(requestXml: string, answers: Record<string, string>, pickGroup?: string): string {
  const doc = new XMLParser({
    ignoreAttributes: false,
    attributeNamePrefix: '@',
    parseTagValue: false,
    htmlEntities: true,
    isArray: (n) => n === 'input' || n === 'option',
  }).parse(requestXml) as Record<string, any>;
  const root = doc['config-auth'];
  const form = root.auth.form;
  let out = ocHead('auth-reply');
  if (root.opaque !== undefined) out += `<opaque is-for="${escapeXml(root.opaque['@is-for'])}">${escapeXml(root.opaque['#text'] ?? '')}</opaque>`;
  out += '<auth>';
  for (const input of form.input ?? []) out += `<${input['@name']}>${escapeXml(answers[input['@name']] ?? '')}</${input['@name']}>`;
  out += '</auth>';
  if (form.select) {
    const opts = form.select.option as Array<Record<string, string>>;
    const chosen = opts.find((o) => o['@value'] === pickGroup) ?? opts[0]!;
    out += `<group-select>${escapeXml(chosen['@value'] ?? chosen['#text']!)}</group-select>`;
  }
  return out + OC_TAIL;
}

test('round trip: our auth-request → openconnect-style answer → parse', () => {
  fc.assert(
    fc.property(
      fc.string({ minLength: 1, maxLength: 40 }).filter((s) => !/[\x00-\x1f\x7f]/.test(s)),
      fc.string({ maxLength: 60 }).filter((s) => !/[\x00-\x1f\x7f]/.test(s)),
      fc.option(fc.stringMatching(/^[A-Za-z0-9+/=_-]{1,40}$/), { nil: undefined }),
      fc.array(fc.stringMatching(/^[a-z][a-z0-9-]{0,15}$/), { minLength: 1, maxLength: 4 }),
      (username, password, opaque, groups) => {
        const req = buildAuthRequest({
          message: LoginMessages.USERNAME_PASSWORD,
          fields: [
            { type: 'text', name: 'username', label: 'Username:' },
            { type: 'password', name: 'password', label: 'Password:' },
          ],
          groups,
          ...(opaque !== undefined ? { opaque } : {}),
        });
        const m = reply(parseAuthRequestBody(openconnectAnswer(req, { username, password }, groups.at(-1)), XML_CT));
        assert.equal(m.username, username);
        assert.equal(m.password, password);
        assert.equal(m.groupSelect, groups.at(-1));
        assert.equal(m.opaque, opaque);
      },
    ),
    { numRuns: 300 },
  );
});

test('fuzz: random input only yields a message or WolfguardError', () => {
  const check = (body: string | Buffer, ct?: string): void => {
    try {
      const m = parseAuthRequestBody(body, ct);
      assert.ok(m.kind === 'init' || m.kind === 'auth-reply' || m.kind === 'logout');
    } catch (e) {
      if (!(e instanceof WolfguardError)) throw e;
      assert.equal(e.code, ErrorCodes.PROTOCOL);
    }
  };
  fc.assert(fc.property(fc.uint8Array({ maxLength: 400 }), (u) => check(Buffer.from(u))), { numRuns: 1500 });
  fc.assert(fc.property(fc.string({ maxLength: 300 }), fc.constantFrom(undefined, XML_CT, FORM_CT, 'text/plain'), (s, ct) => check(s, ct)), { numRuns: 1500 });
  // Near-valid XML: openconnect-shaped documents with random pieces spliced in.
  const piece = fc.constantFrom(
    '<auth>',
    '</auth>',
    '<username>',
    '</username>',
    '<password/>',
    '<opaque is-for="sg">',
    '</opaque>',
    '<group-select>',
    '</group-select>',
    '&amp;',
    '&#13;',
    '&bogus;',
    '<![CDATA[x]]>',
    '<!-- c -->',
    '<?pi x?>',
    '"',
    "'",
    '<',
    '>',
    'text',
    '<__proto__>',
    '</__proto__>',
  );
  fc.assert(
    fc.property(fc.constantFrom('init', 'auth-reply', 'logout', 'x'), fc.array(piece, { maxLength: 20 }), (type, pieces) => check(`${ocHead(type)}${pieces.join('')}${OC_TAIL}`, XML_CT)),
    { numRuns: 3000 },
  );
  // Form bodies built from form-ish pieces.
  const formPiece = fc.constantFrom('username', 'password', 'group_list', '=', '&', '%', '%2', '%41', '+', 'a', '%00', '%C3%BC', '__proto__');
  fc.assert(fc.property(fc.array(formPiece, { maxLength: 20 }), (p) => check(p.join(''), FORM_CT)), { numRuns: 2000 });
});
