import * as vscode from 'vscode';

/**
 * A tree with no rows yet. VS Code then shows the view's `viewsWelcome` text from package.json,
 * which explains what will appear there. Replaced by the real trees once the store is wired in.
 */
export class EmptyTree implements vscode.TreeDataProvider<never> {
  getTreeItem(element: never): vscode.TreeItem {
    return element;
  }

  getChildren(): never[] {
    return [];
  }
}
