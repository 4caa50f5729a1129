import * as vscode from 'vscode';
import type { Writer, WriterClient } from '../core/provenance';

/** What a write of this window says about who made it; the service fills in scope, host, pid and time. */
export type WriterInput = Pick<Writer, 'kind'> & { client?: WriterClient };

/** The editor itself (`Visual Studio Code 1.139.1`, `code-server 1.139.1`): what a tool can always name. */
function editorClient(): WriterClient {
  return { name: vscode.env.appName, version: vscode.version };
}

/** `copilot/gpt-4o`: the vendor and id of a chat model, as one client name. */
function modelClient(model: vscode.LanguageModelChat): WriterClient {
  return { name: `${model.vendor}/${model.id}`, ...(model.version ? { version: model.version } : {}) };
}

/**
 * The writer of a Language Model tool call. The stable API tells a tool nothing about who called it:
 * `LanguageModelToolInvocationOptions` carries the input, an opaque `toolInvocationToken` and a token
 * budget. VS Code 1.139 adds `model` only for extensions that enable the proposed
 * `chatParticipantAdditions` API (and the request and session ids only under
 * `chatParticipantPrivate`), which a published extension cannot. So the client is the model when
 * the host passes one anyway, else the editor: "an agent in this VS Code", not which one.
 */
export function lmToolWriter(options: object): WriterInput {
  const model = (options as { model?: vscode.LanguageModelChat }).model;
  return { kind: 'lm-tool', client: model && typeof model.vendor === 'string' && typeof model.id === 'string' ? modelClient(model) : editorClient() };
}

/** The `@memory` participant: it writes what the person typed, so the client is the participant (with the request's model, when chat had one). */
export function participantWriter(model?: vscode.LanguageModelChat): WriterInput {
  return { kind: 'participant', client: { name: model ? `@memory (${model.vendor}/${model.id})` : '@memory' } };
}

/**
 * A person's own write or search from the editor's commands and views (Store Selection, Edit, Forget,
 * Keep, Search Memories, Recall…): kind `person`, which is never held for review and sees every memory.
 */
export function personWriter(): WriterInput {
  return { kind: 'person', client: { name: 'VS Code' } };
}

/** A writer for a label: `lm-tool · code-server 1.139.1`, `mcp · claude-code`, `unknown`. */
export function writerLabel(writer: Pick<Writer, 'kind' | 'client'> | undefined): string {
  if (!writer) return 'unknown';
  return writer.client ? `${writer.kind} · ${writer.client.name}${writer.client.version ? ` ${writer.client.version}` : ''}` : writer.kind;
}
