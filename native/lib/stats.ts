import { addon } from './addon';

/** Allocation counters of wolfSSL's allocator hooks (mimalloc), process-wide. */
export function allocatorStats() {
  return addon().allocatorStats();
}
