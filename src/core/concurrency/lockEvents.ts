import type { LockHolderInfo } from '../errors';

/** Telemetry of the cross-process lock; the tree view and status bar render these, the CLI prints them. */
export type LockEvent =
  | { type: 'waitStarted'; at: number; operation: string; holder?: LockHolderInfo }
  | { type: 'acquired'; at: number; operation: string; waitedMs: number }
  | { type: 'released'; at: number; operation: string; heldMs: number }
  | { type: 'timeout'; at: number; operation: string; waitedMs: number; holder?: LockHolderInfo }
  | { type: 'compromised'; at: number; operation: string; reason: string }
  | { type: 'staleRecovered'; at: number; deadHolder: LockHolderInfo };
