// Which CPU each shard's data-plane thread is kept on (WOLFGUARD_PLANE_CPUS).
// A shard's packets run start to end on its plane thread; kept on a CPU of
// its own, it neither waits behind another shard's thread nor moves between
// CPUs (tuning.md has the measurement). With one shard carrying packets
// there is nothing to keep apart, and a kept thread cannot take an idle CPU:
// `auto` keeps them only while two or more carry packets.
import type { PlaneCpuKeep } from '../../native/lib';
import { ErrorCodes, WolfguardError } from '../common/errors';

export const PLANE_CPUS_ENV = 'WOLFGUARD_PLANE_CPUS';
export const DEFAULT_PLANE_CPUS = 'auto';
/** A refused list names this many of its CPUs at most ("0-9999" would name thousands). */
const SHOWN_CPUS = 8;

function invalid(message: string): WolfguardError {
  return new WolfguardError(ErrorCodes.CONFIG_INVALID, `${PLANE_CPUS_ENV}: ${message}`);
}

/** "0-3,6" → [0, 1, 2, 3, 6], in the order written (the kernel's Cpus_allowed_list form too); throws on anything else. */
export function parseCpuList(spec: string): number[] {
  const out: number[] = [];
  for (const part of spec.split(',')) {
    const m = /^\s*(\d{1,4})\s*(?:-\s*(\d{1,4})\s*)?$/.exec(part);
    if (m === null) throw invalid(`expected auto, always, off or a list of CPUs such as 0-3,6, got ${JSON.stringify(spec)}`);
    const from = Number(m[1]);
    const to = m[2] === undefined ? from : Number(m[2]);
    if (to < from) throw invalid(`the range ${part.trim()} runs backwards`);
    for (let c = from; c <= to; c++) out.push(c);
  }
  return out;
}

/** Each shard's CPU (index = shard), and when the threads are kept there. */
export interface PlaneCpus {
  cpus: number[];
  keep: PlaneCpuKeep;
}

/**
 * One CPU per shard, or undefined when none is kept.
 * - "auto" (the default): shard i on the i-th CPU the process may use, if
 *   there are at least as many such CPUs as shards, kept there while two or
 *   more shards' planes carry packets; with more shards than CPUs, none is
 *   kept and the scheduler shares the CPUs out.
 * - "always": the same CPUs, kept there always.
 * - "off": none kept.
 * - a list ("2,3", "0-3,6"): shard i on the list's (i mod length)-th CPU,
 *   kept there always; each must be one the process may use.
 * `allowed`: the process's CPUs (allowedCpus()).
 */
export function planeCpus(spec: string | undefined, shards: number, allowed: readonly number[]): PlaneCpus | undefined {
  const s = spec?.trim() || DEFAULT_PLANE_CPUS;
  if (s === 'off') return undefined;
  if (s === 'auto' || s === 'always') return allowed.length >= shards ? { cpus: allowed.slice(0, shards), keep: s === 'auto' ? 'shared' : 'always' } : undefined;
  const list = parseCpuList(s);
  const outside = list.filter((c) => !allowed.includes(c));
  if (outside.length > 0) throw invalid(`CPU ${outside.slice(0, SHOWN_CPUS).join(',')}${outside.length > SHOWN_CPUS ? ',…' : ''} is not one this process may run on (${allowed.join(',')})`);
  return { cpus: Array.from({ length: shards }, (_, i) => list[i % list.length]!), keep: 'always' };
}
