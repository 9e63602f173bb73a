// Cookie lines exactly as ocserv's worker-auth.c writes them, and a bounded,
// forgiving Cookie header parser.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import fc from 'fast-check';
import {
  MAX_COOKIE_HEADER,
  clearWebvpnContextCookie,
  clearWebvpncCookie,
  parseCookieHeader,
  webvpnContextSetCookie,
  webvpnSetCookie,
  webvpncSetCookie,
} from '../../src/protocol/cookies';
import { ErrorCodes, isWolfguardError } from '../../src/common/errors';

test('Set-Cookie values are the exact ocserv lines', () => {
  const cases: Array<[string, string]> = [
    // post_common_handler
    [webvpnSetCookie('AbC+/09='), 'webvpn=AbC+/09=; Secure; HttpOnly'],
    // get_auth_handler2 with a login under way
    [webvpnContextSetCookie('c2lkLWJ5dGVz', 300), 'webvpncontext=c2lkLWJ5dGVz; Max-Age=300; Secure; HttpOnly'],
    // get_auth_handler2 without one
    [clearWebvpnContextCookie(), 'webvpncontext=; expires=Thu, 01 Jan 1970 22:00:00 GMT; path=/; Secure; HttpOnly'],
    [clearWebvpncCookie(), 'webvpnc=; expires=Thu, 01 Jan 1970 22:00:00 GMT; path=/; Secure; HttpOnly'],
    [webvpncSetCookie('A'.repeat(40)), `webvpnc=bu:/&p:t&iu:1/&sh:${'A'.repeat(40)}; path=/; Secure; HttpOnly`],
    [webvpnSetCookie('x', { maxAge: 60, path: '/' }), 'webvpn=x; Max-Age=60; path=/; Secure; HttpOnly'],
  ];
  for (const [got, want] of cases) assert.equal(got, want);
});

test('cookie values that would break the header or openconnect (value ends at ";") are refused', () => {
  for (const v of ['a;b', 'a b', 'a\r\nSet-Cookie: x=y', 'a"b', 'a,b', 'a\\b']) {
    assert.throws(() => webvpnSetCookie(v), (e) => isWolfguardError(e, ErrorCodes.INVALID_ARGUMENT), JSON.stringify(v));
    assert.throws(() => webvpnContextSetCookie(v, 1), (e) => isWolfguardError(e, ErrorCodes.INVALID_ARGUMENT), JSON.stringify(v));
  }
  assert.throws(() => webvpnContextSetCookie('a', -1), (e) => isWolfguardError(e, ErrorCodes.INVALID_ARGUMENT));
  assert.throws(() => webvpnSetCookie('a', { path: 'x;y' }), (e) => isWolfguardError(e, ErrorCodes.INVALID_ARGUMENT));
  assert.throws(() => webvpncSetCookie('zz'), (e) => isWolfguardError(e, ErrorCodes.INVALID_ARGUMENT));
});

test('parseCookieHeader: table', () => {
  const cases: Array<[string | string[] | undefined, Record<string, string>]> = [
    [undefined, {}],
    ['', {}],
    // openconnect http.c: "Cookie: a=b; c=d"
    ['webvpn=abc; webvpncontext=def', { webvpn: 'abc', webvpncontext: 'def' }],
    ['webvpn=abc;webvpncontext=def;', { webvpn: 'abc', webvpncontext: 'def' }],
    ['webvpn=first; webvpn=second', { webvpn: 'first' }],
    ['webvpn="quoted"', { webvpn: 'quoted' }],
    ['noequals; =novalue; webvpn=ok', { webvpn: 'ok' }],
    ['bad name=x; webvpn=ok', { webvpn: 'ok' }],
    ['webvpn=a b; other=c', { other: 'c' }],
    ['webvpn=AbC+/09==', { webvpn: 'AbC+/09==' }],
    [['webvpn=a', 'webvpncontext=b'], { webvpn: 'a', webvpncontext: 'b' }],
    [`webvpn=${'x'.repeat(MAX_COOKIE_HEADER)}`, {}],
  ];
  for (const [h, want] of cases) assert.deepEqual(Object.fromEntries(parseCookieHeader(h)), want, JSON.stringify(h)?.slice(0, 60));
});

test('round trip: a value we set is the value we read back', () => {
  fc.assert(
    fc.property(fc.stringMatching(/^[A-Za-z0-9+/=_-]{1,64}$/), fc.stringMatching(/^[A-Za-z0-9_-]{1,43}$/), (session, ctx) => {
      // What a client sends back: name=value pairs of what it was given.
      const header = [webvpnSetCookie(session), webvpnContextSetCookie(ctx, 300)].map((l) => l.split(';')[0]).join('; ');
      const m = parseCookieHeader(header);
      assert.equal(m.get('webvpn'), session);
      assert.equal(m.get('webvpncontext'), ctx);
    }),
  );
});

test('fuzz: any header gives a bounded map and never throws', () => {
  fc.assert(
    fc.property(fc.string({ maxLength: 500 }), (h) => {
      const m = parseCookieHeader(h);
      assert.ok(m.size <= 32);
      for (const [k, v] of m) assert.ok(!k.includes(';') && !v.includes(';'));
    }),
    { numRuns: 2000 },
  );
  assert.ok(parseCookieHeader(Array.from({ length: 100 }, (_, i) => `c${i}=v`).join('; ')).size <= 32);
});
