// Folded stacks ("a;b;c 12" per line, as perf/collapse.awk writes them) to a
// flame graph SVG, written by hand so the recipe needs no tool Debian lacks.
// Pure parts (parseFolded, renderFlame) are tested; main() is the CLI:
//   node flame.js FOLDED_FILE TITLE > out.svg
import * as fs from 'node:fs';

export interface FlameNode {
  name: string;
  value: number;
  children: Map<string, FlameNode>;
}

const ROW_PX = 16;
const WIDTH_PX = 1200;
const CHAR_PX = 7;
/** Frames narrower than this are not drawn (they would be unreadable and bloat the file). */
const MIN_WIDTH_PX = 0.5;
const TITLE_PX = 30;

function node(name: string): FlameNode {
  return { name, value: 0, children: new Map() };
}

/** Builds the call tree; lines that are not "stack count" are skipped. */
export function parseFolded(text: string): FlameNode {
  const root = node('all');
  for (const line of text.split('\n')) {
    const m = /^(.*\S)\s+(\d+)$/.exec(line.trim());
    if (!m) continue;
    const count = Number(m[2]);
    root.value += count;
    let at = root;
    for (const frame of m[1]!.split(';')) {
      let next = at.children.get(frame);
      if (next === undefined) {
        next = node(frame);
        at.children.set(frame, next);
      }
      next.value += count;
      at = next;
    }
  }
  return root;
}

function esc(s: string): string {
  return s.replace(/&/g, '&amp;').replace(/</g, '&lt;').replace(/>/g, '&gt;').replace(/"/g, '&quot;');
}

function depth(n: FlameNode): number {
  let d = 0;
  for (const c of n.children.values()) d = Math.max(d, depth(c));
  return d + 1;
}

/** Hue from the name, so one function keeps its colour across graphs. */
function color(name: string): string {
  let h = 0;
  for (let i = 0; i < name.length; i++) h = (h * 31 + name.charCodeAt(i)) >>> 0;
  return `hsl(${20 + (h % 40)}, 80%, ${55 + (h % 15)}%)`;
}

export function renderFlame(root: FlameNode, title: string): string {
  const rows = depth(root);
  const height = rows * ROW_PX + TITLE_PX;
  const out: string[] = [
    `<svg xmlns="http://www.w3.org/2000/svg" width="${WIDTH_PX}" height="${height}" font-family="monospace" font-size="11">`,
    `<rect width="100%" height="100%" fill="white"/>`,
    `<text x="${WIDTH_PX / 2}" y="18" text-anchor="middle" font-size="14">${esc(title)}</text>`,
  ];
  const total = root.value || 1;
  const draw = (n: FlameNode, x: number, level: number) => {
    const w = (n.value / total) * WIDTH_PX;
    if (w < MIN_WIDTH_PX) return;
    const y = height - (level + 1) * ROW_PX;
    const pct = ((100 * n.value) / total).toFixed(2);
    out.push(`<g><title>${esc(n.name)} (${n.value} samples, ${pct}%)</title><rect x="${x.toFixed(2)}" y="${y}" width="${w.toFixed(2)}" height="${ROW_PX - 1}" fill="${color(n.name)}"/>`);
    const chars = Math.floor((w - 4) / CHAR_PX);
    if (chars >= 3) out.push(`<text x="${(x + 2).toFixed(2)}" y="${y + ROW_PX - 4}">${esc(n.name.length > chars ? `${n.name.slice(0, chars - 2)}..` : n.name)}</text>`);
    out.push('</g>');
    let cx = x;
    for (const c of [...n.children.values()].sort((a, b) => a.name.localeCompare(b.name))) {
      draw(c, cx, level + 1);
      cx += (c.value / total) * WIDTH_PX;
    }
  };
  draw(root, 0, 0);
  out.push('</svg>', '');
  return out.join('\n');
}

function main(): void {
  const [file, title] = process.argv.slice(2);
  if (file === undefined) {
    process.stderr.write('usage: flame.js FOLDED_FILE [TITLE] > out.svg\n');
    process.exit(2);
  }
  process.stdout.write(renderFlame(parseFolded(fs.readFileSync(file, 'utf8')), title ?? file));
}

if (require.main === module) main();
