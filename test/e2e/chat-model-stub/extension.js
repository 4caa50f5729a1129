// Test-only extension, loaded beside Memory Lane in the e2e chat phase (scripts/e2e/run.mjs), never
// packaged (.vscodeignore drops test/**). It gives the offline workbench a chat model:
// vscode.lm.registerLanguageModelChatProvider is stable API (no proposal) in VS Code 1.139. The model
// answers in this process, from the last user message, with no network.
const vscode = require('vscode');

const MODEL = {
  id: 'memory-lane-e2e-stub',
  name: 'E2E Stub',
  family: 'e2e-stub',
  version: '1',
  maxInputTokens: 100000,
  maxOutputTokens: 4000,
  tooltip: 'A local stub model for the Memory Lane end-to-end tests',
  // The picker of the chat view's default (Agent) mode lists only models that can call tools.
  capabilities: { toolCalling: true, imageInput: false },
  isUserSelectable: true,
  isDefault: true,
};

const textOf = (message) => (message.content ?? []).map((p) => (p instanceof vscode.LanguageModelTextPart ? p.value : '')).join('');

exports.activate = (context) => {
  // The workbench asks a provider for its models only when something selects models or the provider
  // says they changed; registering alone leaves the chat view's model picker empty.
  const changed = new vscode.EventEmitter();
  context.subscriptions.push(changed, vscode.lm.registerLanguageModelChatProvider('memory-lane-e2e', {
    onDidChangeLanguageModelChatInformation: changed.event,
    provideLanguageModelChatInformation: async () => [MODEL],
    async provideLanguageModelChatResponse(_model, messages, _options, progress) {
      // Memory Lane's /recall asks for a summary that cites the ids it was given: cite the first one.
      const prompt = messages.map(textOf).join('\n');
      const id = /\[([\w:.-]{8,})\]/.exec(prompt)?.[1];
      progress.report(new vscode.LanguageModelTextPart(id ? `The stub model read memory ${id}.` : 'The stub model answers locally.'));
    },
    provideTokenCount: async (_model, text) => Math.ceil((typeof text === 'string' ? text : textOf(text)).length / 4),
  }));
  changed.fire();
};
exports.deactivate = () => {};
