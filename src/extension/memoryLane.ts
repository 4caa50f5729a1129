import * as vscode from 'vscode';
import { Disposable } from './disposable';
import { Commands, Views, focusViewCommand } from './ids';
import { EmptyTree } from './views/emptyTree';
import { LockMonitorStatus } from './views/lockMonitorStatus';

/**
 * The extension's container: creates every service and adapter once, owns them, and disposes them in
 * reverse order. `activate()` builds one and hands it to VS Code; nothing else holds long-lived state.
 */
export class MemoryLane extends Disposable {
  readonly log: vscode.LogOutputChannel;

  constructor() {
    super();
    this.log = this._register(vscode.window.createOutputChannel('Memory Lane', { log: true }));
    this._register(vscode.window.createTreeView(Views.locks, { treeDataProvider: new EmptyTree() }));
    this._register(vscode.window.createTreeView(Views.memories, { treeDataProvider: new EmptyTree() }));
    this._register(new LockMonitorStatus());
    this.registerCommands();
    this.log.info('[extension] activated');
  }

  private registerCommands(): void {
    const command = (id: string, run: () => unknown) => this._register(vscode.commands.registerCommand(id, run));
    command(Commands.showLockMonitor, () => vscode.commands.executeCommand(focusViewCommand(Views.locks)));
    command(Commands.showLogs, () => this.log.show());
    command(Commands.upgrade, () => {
      this.log.info('[upgrade] requested, but upgrading is not yet available');
      void vscode.window.showInformationMessage('Memory Lane: upgrading memories is not yet available.');
    });
  }
}
