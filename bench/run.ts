// `npm run bench [-- row ...]`: runs the named rows (all when none) and
// prints + saves one table per row. BENCH_QUICK=1 makes a short smoke run.
import { pinSelf } from './lib/child';
import { renderMarkdown, saveResults, type Table } from './lib/report';
import { benchTls } from './tls/handshakes';
import { benchAdmission } from './admission/decisions';
import { benchDtls, benchTunnel } from './tunnel/throughput';
import { benchLogins } from './logins/logins';
import { benchRtt } from './rtt/rtt';
import { benchSmallPackets } from './tunnel/small-packets';
import { benchMemory } from './memory/tunnels';
import { benchGatewayHandshakes } from './tls/gateway-handshakes';
import { benchDrops } from './tunnel/drops';

const ROWS: Record<string, () => Promise<Table>> = {
  tls: benchTls,
  'tls-gateways': benchGatewayHandshakes,
  admission: benchAdmission,
  tunnel: benchTunnel,
  dtls: benchDtls,
  logins: benchLogins,
  rtt: benchRtt,
  small: benchSmallPackets,
  memory: benchMemory,
  // Diagnostic, not part of the default table: where an upload's packets are dropped.
  drops: benchDrops,
};

/** Rows run only when named (diagnostics, not part of the comparison table). */
const DIAGNOSTIC_ROWS = new Set(['drops']);

async function main(): Promise<void> {
  const asked = process.argv.slice(2);
  const unknown = asked.filter((r) => !(r in ROWS));
  if (unknown.length > 0) {
    process.stderr.write(`unknown bench row(s): ${unknown.join(', ')}; rows: ${Object.keys(ROWS).join(', ')}\n`);
    process.exit(2);
  }
  pinSelf(1);
  const tables: Table[] = [];
  for (const name of asked.length > 0 ? asked : Object.keys(ROWS).filter((r) => !DIAGNOSTIC_ROWS.has(r))) {
    process.stdout.write(`running ${name}...\n`);
    const started = Date.now();
    const t = await ROWS[name]!();
    process.stdout.write(`${renderMarkdown(t)}\n(${name}: ${((Date.now() - started) / 1000).toFixed(0)} s)\n`);
    tables.push(t);
  }
  const files = saveResults(tables, process.env.BENCH_RESULTS_DIR || undefined);
  process.stdout.write(`saved ${files.md} and ${files.json}\n`);
}

main().catch((e: unknown) => {
  process.stderr.write(`bench failed: ${(e as Error).stack ?? String(e)}\n`);
  process.exit(1);
});
