// `BENCH_QUICK=1 npm run bench` end to end: every row of the default table
// runs against the real ocserv and fills both columns, and the results files
// are written. How the figures compare is for `npm run bench` to say, not a
// test (the machines are shared and noisy). Needs root.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { spawn } from 'node:child_process';

const RUN_JS = path.join(__dirname, '..', '..', 'bench', 'run.js');
/** The default rows, one table each, in the order run.ts runs them. */
const TABLES = 9;
/** Measured: 3 min 18 s on the 2-core VM. */
const TIMEOUT_MS = 15 * 60_000;

interface SavedTable {
  title: string;
  rows: Array<{ metric: string; ours: number | null; theirs: number | null }>;
}

function runBench(resultsDir: string): Promise<{ code: number | null; out: string }> {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, [RUN_JS], { env: { ...process.env, BENCH_QUICK: '1', BENCH_RESULTS_DIR: resultsDir }, stdio: ['ignore', 'pipe', 'pipe'] });
    let out = '';
    child.stdout.on('data', (d: Buffer) => (out += d.toString()));
    child.stderr.on('data', (d: Buffer) => (out += d.toString()));
    child.once('error', reject);
    child.once('close', (code) => resolve({ code, out }));
  });
}

test(`BENCH_QUICK=1 npm run bench: all ${TABLES} tables, every row with a figure for wolfguard and for the other side, results files written`, { timeout: TIMEOUT_MS }, async () => {
  assert.equal(process.getuid?.(), 0, 'end-to-end tests need root (network namespaces, TUN)');
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'wg-bench-smoke-'));
  try {
    const { code, out } = await runBench(dir);
    assert.equal(code, 0, `bench exited ${String(code)}: ${out.slice(-3000)}`);
    const files = fs.readdirSync(dir);
    const json = files.find((f) => f.endsWith('.json'));
    assert.ok(json !== undefined, `no JSON in ${files.join(', ')}`);
    assert.ok(files.some((f) => f.endsWith('.md')), 'no Markdown table');
    assert.ok(files.some((f) => f.endsWith('-load-sweep.svg')), 'no load-sweep plot');
    const saved = JSON.parse(fs.readFileSync(path.join(dir, json), 'utf8')) as { tables: SavedTable[] };
    assert.equal(saved.tables.length, TABLES, saved.tables.map((t) => t.title).join(' | '));
    for (const t of saved.tables) {
      assert.ok(t.rows.length > 0, `${t.title}: no rows`);
      for (const r of t.rows) {
        // JSON turns NaN into null: a figure that could not be measured.
        assert.ok(typeof r.ours === 'number' && Number.isFinite(r.ours) && r.ours >= 0, `${t.title} / ${r.metric}: wolfguard ${String(r.ours)}`);
        assert.ok(typeof r.theirs === 'number' && Number.isFinite(r.theirs) && r.theirs >= 0, `${t.title} / ${r.metric}: other side ${String(r.theirs)}`);
      }
    }
  } finally {
    fs.rmSync(dir, { recursive: true, force: true });
  }
});
