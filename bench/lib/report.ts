// Results tables: printed, and written to bench/results/<date>-<host>.{md,json}
// so runs on an operator's machine can be compared later.
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';

export interface Row {
  metric: string;
  unit: string;
  ours: number;
  theirs: number;
  /** true when a bigger number is better (throughput), false for costs (CPU, latency). */
  higherIsBetter: boolean;
}

export interface Table {
  title: string;
  oursName: string;
  theirsName: string;
  notes: string[];
  rows: Row[];
  /** Figures written next to the results file as <results>-<name>.svg. */
  svgs?: Array<{ name: string; svg: string }>;
  /** Raw measurements behind the rows, kept in the JSON file only. */
  data?: unknown;
}

function fmt(n: number): string {
  if (!Number.isFinite(n)) return 'n/a';
  if (Math.abs(n) >= 100) return n.toFixed(0);
  if (Math.abs(n) >= 10) return n.toFixed(1);
  return n.toFixed(2);
}

/** Ratio expressed so that > 1 always means "ours is better". */
export function advantage(r: Row): number {
  if (r.ours === 0 || r.theirs === 0) return NaN;
  return r.higherIsBetter ? r.ours / r.theirs : r.theirs / r.ours;
}

export function renderMarkdown(t: Table): string {
  const lines = [
    `### ${t.title}`,
    '',
    `| metric | ${t.oursName} | ${t.theirsName} | advantage (×, >1 = ${t.oursName} better) |`,
    '|---|---:|---:|---:|',
    ...t.rows.map((r) => `| ${r.metric} (${r.unit}) | ${fmt(r.ours)} | ${fmt(r.theirs)} | ${fmt(advantage(r))} |`),
    '',
    ...t.notes.map((n) => `- ${n}`),
    '',
  ];
  return lines.join('\n');
}

export function saveResults(tables: Table[], dir = path.join(__dirname, '..', '..', '..', 'bench', 'results')): { md: string; json: string } {
  fs.mkdirSync(dir, { recursive: true });
  const stamp = new Date().toISOString().replace(/[:]/g, '-').replace(/\..*/, '');
  const base = path.join(dir, `${stamp}-${os.hostname()}`);
  const header = [
    `# wolfguard bench ${new Date().toISOString()}`,
    '',
    `host ${os.hostname()}, ${os.cpus().length} × ${os.cpus()[0]?.model ?? 'cpu'}, node ${process.version}, ${os.release()}`,
    '',
  ].join('\n');
  const figures: string[] = [];
  for (const t of tables) {
    for (const f of t.svgs ?? []) {
      const file = `${base}-${f.name}.svg`;
      fs.writeFileSync(file, f.svg);
      figures.push(`- ${t.title}: ![${f.name}](${path.basename(file)})`);
    }
  }
  fs.writeFileSync(`${base}.md`, header + tables.map(renderMarkdown).join('\n') + (figures.length > 0 ? `\n### Figures\n\n${figures.join('\n')}\n` : ''));
  fs.writeFileSync(`${base}.json`, JSON.stringify({ date: new Date().toISOString(), host: os.hostname(), cpus: os.cpus().length, node: process.version, tables: tables.map((t) => ({ ...t, svgs: undefined })) }, null, 2));
  return { md: `${base}.md`, json: `${base}.json` };
}
