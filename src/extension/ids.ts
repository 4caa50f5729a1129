// Identifiers shared by the code and package.json's `contributes`; keep the two in step.
export const Commands = {
  showLockMonitor: 'memoryLane.showLockMonitor',
  showLogs: 'memoryLane.showLogs',
  upgrade: 'memoryLane.upgrade',
} as const;

export const Views = {
  locks: 'memoryLane.locks',
  memories: 'memoryLane.memories',
} as const;

/** VS Code's built-in "focus this view" command, `<viewId>.focus`. */
export const focusViewCommand = (viewId: string): string => `${viewId}.focus`;
