import type * as vscode from 'vscode';
import type { MemoryLaneApi } from './api';
import { MemoryLane } from './memoryLane';

let memoryLane: MemoryLane | undefined;

// Thin entry point: assemble the container and let VS Code own its lifetime.
export function activate(context: vscode.ExtensionContext): MemoryLaneApi {
  memoryLane = new MemoryLane(context);
  context.subscriptions.push(memoryLane);
  return memoryLane.api;
}

// VS Code awaits this before disposing the subscriptions: stop the upgrade after its batch in
// flight and close the store, so pending recall counts are written and no batch is cut short.
export async function deactivate(): Promise<void> {
  await memoryLane?.shutdown();
  memoryLane = undefined;
}
