// One ring layout, two languages: the C header agrees with the TypeScript
// constants, and packets pushed on one side pop on the other (wrap-around
// included), with the same counters.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { execFileSync } from 'node:child_process';
import * as layout from '../../src/ring/layout';
import * as routeLayout from '../../src/ring/route-table';
import { createRing, ringConsumer, ringProducer } from '../../src/ring/spsc-ring';

const ROOT = path.join(__dirname, '..', '..', '..');
let dir: string;
let bin: string;

before(() => {
  dir = fs.mkdtempSync(path.join(os.tmpdir(), 'wg-ring-'));
  bin = path.join(dir, 'ring_check');
  execFileSync('cc', ['-std=c11', '-O2', '-Wall', '-Werror', '-I', path.join(ROOT, 'native', 'src'), '-o', bin, path.join(ROOT, 'test', 'unit', 'c', 'ring_check.c')]);
});
after(() => fs.rmSync(dir, { recursive: true, force: true }));

function packet(i: number): Buffer {
  const b = Buffer.alloc(1 + ((i * 7) % 50));
  for (let j = 0; j < b.length; j++) b[j] = (i + j) & 0xff;
  return b;
}

function encode(packets: Buffer[]): Buffer {
  return Buffer.concat(packets.flatMap((p) => [Buffer.from(Uint32Array.of(p.length).buffer), p]));
}

function decode(b: Buffer): Buffer[] {
  const out: Buffer[] = [];
  for (let off = 0; off + 4 <= b.length; ) {
    const l = b.readUInt32LE(off);
    out.push(b.subarray(off + 4, off + 4 + l));
    off += 4 + l;
  }
  return out;
}

test('the C header and layout.ts define the same constants', () => {
  const c = JSON.parse(execFileSync(bin, ['constants'], { encoding: 'utf8' })) as Record<string, number>;
  for (const [k, v] of Object.entries(c)) assert.equal((layout as Record<string, unknown>)[k], v, k);
});

test('the C route-table header and route-table.ts define the same constants', () => {
  const c = JSON.parse(execFileSync(bin, ['route-constants'], { encoding: 'utf8' })) as Record<string, number>;
  assert.equal(Object.keys(c).length, 14);
  for (const [k, v] of Object.entries(c)) assert.equal((routeLayout as Record<string, unknown>)[k], v, k);
});

test('TypeScript pushes, C pops (with wrap-around); C pushes, TypeScript pops', () => {
  const sab = createRing(8, 64);
  const prod = ringProducer(sab);
  const cons = ringConsumer(sab);
  const scratch = new Uint8Array(64);
  // Move head/tail past the end once so the image wraps.
  for (let i = 0; i < 6; i++) assert.ok(prod.tryPush(packet(100 + i)));
  for (let i = 0; i < 6; i++) assert.ok(cons.tryPop(scratch) >= 0);
  const sent = Array.from({ length: 8 }, (_, i) => packet(i));
  for (const p of sent) assert.ok(prod.tryPush(p));
  assert.equal(prod.tryPush(packet(99)), false, 'ninth packet does not fit');
  const image = path.join(dir, 'ring.img');
  const out = path.join(dir, 'out.bin');
  fs.writeFileSync(image, new Uint8Array(sab));
  execFileSync(bin, ['pop', image, out]);
  assert.deepEqual(decode(fs.readFileSync(out)), sent);

  // C pushes 10 into the (now empty) ring: 8 fit.
  const fromC = Array.from({ length: 10 }, (_, i) => packet(200 + i));
  fs.writeFileSync(path.join(dir, 'in.bin'), encode(fromC));
  assert.equal(execFileSync(bin, ['push', image, path.join(dir, 'in.bin')], { encoding: 'utf8' }).trim(), '8');
  const back = new SharedArrayBuffer(sab.byteLength);
  new Uint8Array(back).set(fs.readFileSync(image));
  const cons2 = ringConsumer(back);
  const got: Buffer[] = [];
  for (let n; (n = cons2.tryPop(scratch)) >= 0; ) got.push(Buffer.from(scratch.subarray(0, n)));
  assert.deepEqual(got, fromC.slice(0, 8));
  // pushed: 6 + 8 (TS) + 8 (C); dropped: 1 (TS) + 2 (C); popped: 6 + 8 (C) + 8 (TS)
  assert.deepEqual(cons2.counters(), { pushed: 22n, dropped: 3n, popped: 22n });
});
