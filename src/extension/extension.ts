import type * as vscode from 'vscode';
import { MemoryLane } from './memoryLane';

// Thin entry point: assemble the container and let VS Code own its lifetime.
export function activate(context: vscode.ExtensionContext): void {
  context.subscriptions.push(new MemoryLane());
}

export function deactivate(): void {
  // Everything is disposed through context.subscriptions.
}
