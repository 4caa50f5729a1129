// The extensionTestsPath module: VS Code loads it in the extension host and calls run(). A rejected
// promise makes the workbench report a non-zero exit code; the per-case outcome goes to a JSON file.
import { join } from 'node:path';
import * as vscode from 'vscode';
import { runDeclaredTests } from './runner';
import './extension.e2e';
import './badInput.e2e';
import './chat.e2e';
import './consolidate.e2e';

// Bundled to out/test/e2e/index.js, so the repository root is three folders up.
const defaultResults = join(__dirname, '..', '..', '..', 'test-results', 'e2e', 'extension-host.json');

export async function run(): Promise<void> {
  const report = await runDeclaredTests(process.env.MEMORY_LANE_E2E_RESULTS ?? defaultResults, {
    vscodeVersion: vscode.version,
    node: process.version,
    uiKind: vscode.UIKind[vscode.env.uiKind],
    remoteName: vscode.env.remoteName,
  });
  const failed = report.cases.filter((c) => !c.ok).length;
  if (failed > 0) throw new Error(`${failed} of ${report.cases.length} extension-host cases failed`);
}
