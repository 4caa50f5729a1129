import type { RemoteStoreStatus } from '../../core/store/health';

/** One line for a remote store (status bar tooltip, Locks & Upgrades view): where, and how commits are kept apart. */
export function describeRemoteStore(r: RemoteStoreStatus): { label: string; detail: string } {
  const coordination = r.coordination === 'dynamodb' ? `DynamoDB table \`${r.table}\`` : 'conditional PUT (If-None-Match)';
  return {
    label: `remote store at ${r.endpoint}`,
    detail: `commits coordinated by ${coordination} · ${r.conflictsRetried} ${r.conflictsRetried === 1 ? 'conflict' : 'conflicts'} with other machines retried · lock waits are this machine's`,
  };
}
