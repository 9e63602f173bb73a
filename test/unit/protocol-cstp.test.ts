// CSTP framing: byte layout as openconnect's cstp.c builds it, a stream reader
// that never loses or invents frames however the stream is cut, and hostile
// bytes that only ever end in a WolfguardError.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import fc from 'fast-check';
import {
  CSTP_HEADER_BYTES,
  CSTP_MAX_PAYLOAD,
  CstpReader,
  CstpType,
  DisconnectReason,
  describeDisconnect,
  encodeCstp,
  encodeDisconnect,
  encodeDpdResponse,
  type CstpFrame,
} from '../../src/protocol/cstp';
import { ErrorCodes, isWolfguardError, WolfguardError } from '../../src/common/errors';

const hex = (b: Buffer): string => b.toString('hex');

test('frame layout matches openconnect cstp.c data_hdr / keepalive_pkt / dpd_pkt', () => {
  const cases: Array<{ name: string; type: number; payload: Buffer; wire: string }> = [
    // 'S','T','F',1, len hi, len lo, type, 0
    { name: 'keepalive', type: CstpType.KEEPALIVE, payload: Buffer.alloc(0), wire: '5354460100000700' },
    { name: 'dpd request', type: CstpType.DPD_REQ, payload: Buffer.alloc(0), wire: '5354460100000300' },
    { name: 'dpd response', type: CstpType.DPD_RESP, payload: Buffer.alloc(0), wire: '5354460100000400' },
    { name: 'data', type: CstpType.DATA, payload: Buffer.from('45000014', 'hex'), wire: '535446010004000045000014' },
    { name: 'terminate', type: CstpType.TERMINATE, payload: Buffer.alloc(0), wire: '5354460100000900' },
    { name: '256-byte payload', type: CstpType.DATA, payload: Buffer.alloc(256, 0xab), wire: '5354460101000000' + 'ab'.repeat(256) },
  ];
  for (const c of cases) assert.equal(hex(encodeCstp(c.type, c.payload)), c.wire, c.name);
});

test('type codes are the AC_PKT_* values of openconnect-internal.h and ocserv vpn.h', () => {
  assert.deepEqual(
    { ...CstpType },
    { DATA: 0, DPD_REQ: 3, DPD_RESP: 4, DISCONNECT: 5, KEEPALIVE: 7, COMPRESSED: 8, TERMINATE: 9 },
  );
  assert.equal(DisconnectReason.USER_LOGOUT, 0xb0);
  assert.equal(DisconnectReason.RECONNECTING, 0x91);
  assert.equal(CSTP_HEADER_BYTES, 8);
  assert.equal(CSTP_MAX_PAYLOAD, 65535);
});

test("openconnect's BYE packet (cstp_bye) decodes as a logout", () => {
  // cstp_bye: data_hdr, length = reason_len + 1, type 5, payload 0xb0 + reason text.
  const reason = 'Client received SIGINT';
  const wire = Buffer.concat([Buffer.from([0x53, 0x54, 0x46, 1, 0, reason.length + 1, 5, 0, 0xb0]), Buffer.from(reason)]);
  assert.deepEqual(encodeDisconnect(DisconnectReason.USER_LOGOUT, reason), wire);
  const [f] = new CstpReader().push(wire);
  assert.equal(f!.type, CstpType.DISCONNECT);
  assert.deepEqual(describeDisconnect(f!.payload), { reason: 0xb0, kind: 'logout', text: reason });
});

test('describeDisconnect: table of reasons', () => {
  const cases: Array<[Buffer, ReturnType<typeof describeDisconnect>]> = [
    [Buffer.alloc(0), { reason: null, kind: 'unspecified', text: '' }],
    [Buffer.from([0x91]), { reason: 0x91, kind: 'reconnecting', text: '' }],
    [Buffer.from([0xd1, 0x41]), { reason: 0xd1, kind: 'pause', text: 'A' }],
    [Buffer.from([0x70, 0x42]), { reason: 0x70, kind: 'local-error', text: 'B' }],
    [Buffer.from([0x12, 0x0a, 0x43, 0x00, 0xff]), { reason: 0x12, kind: 'unknown', text: 'C' }],
  ];
  for (const [payload, want] of cases) assert.deepEqual(describeDisconnect(payload), want);
  assert.equal(describeDisconnect(Buffer.concat([Buffer.from([0xb0]), Buffer.alloc(10000, 0x61)])).text.length, 256);
});

test('server terminate is an empty DISCONNECT (ocserv cstp_send_terminate)', () => {
  assert.equal(hex(encodeDisconnect()), '5354460100000500');
});

test('DPD response echoes the request payload with type 4', () => {
  const req: CstpFrame = { type: CstpType.DPD_REQ, payload: Buffer.from('probe') };
  const [resp] = new CstpReader().push(encodeDpdResponse(req));
  assert.equal(resp!.type, CstpType.DPD_RESP);
  assert.equal(resp!.payload.toString(), 'probe');
});

test('encodeCstp refuses what the 16-bit length or the type byte cannot carry', () => {
  assert.throws(() => encodeCstp(CstpType.DATA, Buffer.alloc(CSTP_MAX_PAYLOAD + 1)), (e) => isWolfguardError(e, ErrorCodes.FRAME_TOO_LARGE));
  assert.equal(encodeCstp(CstpType.DATA, Buffer.alloc(CSTP_MAX_PAYLOAD)).length, CSTP_MAX_PAYLOAD + 8);
  for (const t of [-1, 256, 1.5, NaN]) assert.throws(() => encodeCstp(t), (e) => isWolfguardError(e, ErrorCodes.INVALID_ARGUMENT));
});

test('reader: several frames per chunk, frames across chunks, empty chunks', () => {
  const a = encodeCstp(CstpType.DATA, Buffer.from('hello'));
  const b = encodeCstp(CstpType.KEEPALIVE);
  const c = encodeCstp(CstpType.DATA, Buffer.alloc(300, 7));
  const r = new CstpReader();
  const got = r.push(Buffer.concat([a, b, c.subarray(0, 5)]));
  assert.deepEqual(
    got.map((f) => [f.type, f.payload.toString()]),
    [
      [0, 'hello'],
      [7, ''],
    ],
  );
  assert.equal(r.pendingBytes, 5);
  assert.deepEqual(r.push(Buffer.alloc(0)), []);
  assert.deepEqual(r.push(c.subarray(5, 8)), []);
  const [last] = r.push(c.subarray(8));
  assert.deepEqual(last, { type: 0, payload: Buffer.alloc(300, 7) });
  assert.equal(r.pendingBytes, 0);
});

test('reader errors: table of bad headers', () => {
  const good = encodeCstp(CstpType.DATA, Buffer.from('x'));
  const cases: Array<{ name: string; bytes: Buffer; code: string; max?: number }> = [
    { name: 'wrong first byte', bytes: Buffer.from('5454460100010000aa', 'hex'), code: ErrorCodes.BAD_MAGIC },
    { name: 'wrong version byte', bytes: Buffer.from('5354460200010000aa', 'hex'), code: ErrorCodes.BAD_MAGIC },
    { name: 'HTTP where a frame should be', bytes: Buffer.from('HTTP/1.1 200 OK\r\n'), code: ErrorCodes.BAD_MAGIC },
    { name: 'byte 7 not zero', bytes: Buffer.from('5354460100010001aa', 'hex'), code: ErrorCodes.PROTOCOL },
    { name: 'length above the limit', bytes: Buffer.from('53544601057a0000', 'hex'), code: ErrorCodes.FRAME_TOO_LARGE, max: 1400 },
    { name: 'good frame then garbage', bytes: Buffer.concat([good, Buffer.from('garbage!')]), code: ErrorCodes.BAD_MAGIC },
  ];
  for (const c of cases) {
    const r = new CstpReader(c.max === undefined ? {} : { maxPayload: c.max });
    assert.throws(() => r.push(c.bytes), (e) => isWolfguardError(e, c.code as never), c.name);
    // Sticky: the stream is out of sync for good.
    assert.throws(() => r.push(good), (e) => isWolfguardError(e, c.code as never), `${c.name} (sticky)`);
  }
});

test('reader refuses an oversized length before the payload arrives', () => {
  const r = new CstpReader({ maxPayload: 1500 });
  assert.throws(() => r.push(Buffer.from('5354460105dd0000', 'hex')), (e) => isWolfguardError(e, ErrorCodes.FRAME_TOO_LARGE));
  const ok = new CstpReader({ maxPayload: 1500 });
  assert.deepEqual(ok.push(Buffer.from('5354460105dc0000', 'hex')), []);
  assert.equal(ok.pendingBytes, 8);
});

test('a largest frame fed one byte at a time is joined once, not once per byte', () => {
  const frame = encodeCstp(CstpType.DATA, Buffer.alloc(CSTP_MAX_PAYLOAD, 5));
  const r = new CstpReader();
  const concat = Buffer.concat;
  let copied = 0;
  Buffer.concat = ((list: readonly Uint8Array[], total?: number) => {
    const b = concat(list, total);
    copied += b.length;
    return b;
  }) as typeof Buffer.concat;
  const got: CstpFrame[] = [];
  try {
    for (let i = 0; i < frame.length; i++) got.push(...r.push(frame.subarray(i, i + 1)));
  } finally {
    Buffer.concat = concat;
  }
  assert.equal(got.length, 1);
  assert.deepEqual(got[0]!.payload, Buffer.alloc(CSTP_MAX_PAYLOAD, 5));
  // Re-joining on every push would copy ~2 GB (quadratic); once per frame is linear.
  assert.ok(copied < 4 * frame.length, `${copied} bytes joined`);
});

test('reader constructor validates maxPayload', () => {
  for (const m of [-1, 65536, 1.5]) assert.throws(() => new CstpReader({ maxPayload: m }), (e) => isWolfguardError(e, ErrorCodes.INVALID_ARGUMENT));
});

const frameArb = fc.record({
  type: fc.constantFrom(0, 3, 4, 5, 7, 8, 9),
  payload: fc.uint8Array({ maxLength: 600 }).map((u) => Buffer.from(u)),
}).map((r): CstpFrame => ({ type: r.type, payload: r.payload }));

test('property: encode → read round-trips any frame sequence', () => {
  fc.assert(
    fc.property(fc.array(frameArb, { maxLength: 20 }), (frames) => {
      const got = new CstpReader().push(Buffer.concat(frames.map((f) => encodeCstp(f.type, f.payload))));
      assert.deepEqual(got, frames);
    }),
    { numRuns: 300 },
  );
});

test('property: a stream split at every offset (and into random pieces) gives the same frames', () => {
  const frames: CstpFrame[] = [
    { type: 0, payload: Buffer.from('first packet') },
    { type: 7, payload: Buffer.alloc(0) },
    { type: 3, payload: Buffer.alloc(40, 1) },
    { type: 0, payload: Buffer.alloc(1, 9) },
    { type: 5, payload: Buffer.from([0xb0, 0x41]) },
  ];
  const stream = Buffer.concat(frames.map((f) => encodeCstp(f.type, f.payload)));
  for (let i = 0; i <= stream.length; i++) {
    for (let j = i; j <= stream.length; j++) {
      const r = new CstpReader();
      const got = [...r.push(stream.subarray(0, i)), ...r.push(stream.subarray(i, j)), ...r.push(stream.subarray(j))];
      assert.deepEqual(got, frames, `split at ${i},${j}`);
      assert.equal(r.pendingBytes, 0);
    }
  }
  fc.assert(
    fc.property(fc.array(frameArb, { maxLength: 10 }), fc.array(fc.nat({ max: 50 }), { maxLength: 40 }), (fs, cuts) => {
      const s = Buffer.concat(fs.map((f) => encodeCstp(f.type, f.payload)));
      const r = new CstpReader();
      const got: CstpFrame[] = [];
      let off = 0;
      for (const c of cuts) {
        got.push(...r.push(s.subarray(off, off + c)));
        off = Math.min(s.length, off + c);
      }
      got.push(...r.push(s.subarray(off)));
      assert.deepEqual(got, fs);
    }),
    { numRuns: 300 },
  );
});

test('fuzz: random bytes only ever yield frames or a WolfguardError, and never hang', () => {
  fc.assert(
    fc.property(fc.array(fc.uint8Array({ maxLength: 200 }), { maxLength: 10 }), fc.integer({ min: 0, max: 65535 }), (chunks, max) => {
      const r = new CstpReader({ maxPayload: max });
      try {
        for (const c of chunks) for (const f of r.push(Buffer.from(c))) assert.ok(f.payload.length <= max);
      } catch (e) {
        if (!(e instanceof WolfguardError)) throw e;
      }
    }),
    { numRuns: 2000 },
  );
  // Near-valid streams: valid header magic with random lengths and byte 7.
  fc.assert(
    fc.property(fc.array(fc.tuple(fc.nat({ max: 70 }), fc.nat({ max: 255 }), fc.constantFrom(0, 0, 0, 1)), { maxLength: 10 }), (hs) => {
      const r = new CstpReader({ maxPayload: 64 });
      try {
        for (const [len, type, b7] of hs) r.push(Buffer.concat([Buffer.from([0x53, 0x54, 0x46, 1, len >> 8, len & 0xff, type, b7]), Buffer.alloc(len % 65)]));
      } catch (e) {
        if (!(e instanceof WolfguardError)) throw e;
      }
    }),
    { numRuns: 1000 },
  );
});
