import * as vscode from 'vscode';
import { Disposable } from '../disposable';
import { Commands } from '../ids';

/**
 * The status-bar face of the lock monitor: who holds the store lock, who waits, how far an upgrade
 * has come. Until the store is wired in it only says the store is idle.
 */
export class LockMonitorStatus extends Disposable {
  private readonly item: vscode.StatusBarItem;

  constructor() {
    super();
    this.item = this._register(vscode.window.createStatusBarItem('memoryLane.lockMonitor', vscode.StatusBarAlignment.Left, 50));
    this.item.name = 'Memory Lane Lock Monitor';
    this.item.command = Commands.showLockMonitor;
    this.showIdle();
    this.item.show();
  }

  private showIdle(): void {
    this.item.text = '$(database) Memory Lane: idle';
    this.item.tooltip = 'Memory Lane: no writer holds the store lock. Click to open the lock monitor.';
    this.item.accessibilityInformation = { label: 'Memory Lane lock monitor: idle, no writer holds the store lock', role: 'button' };
  }
}
