import * as vscode from 'vscode';
import type { Logger } from '../../core/log';
import { Disposable } from '../disposable';
import type { ValueSchema } from '../manifestSchema';
import type { StoreConnection } from '../storeConnection';
import { ForgetMemoryTool } from './forgetMemoryTool';
import { ListMemoriesTool } from './listMemoriesTool';
import { RecallMemoryTool } from './recallMemoryTool';
import { StoreMemoryTool } from './storeMemoryTool';
import { UpdateMemoryTool } from './updateMemoryTool';

/**
 * Registers the Language Model Tools agents use in chat (contributes.languageModelTools in
 * package.json describes them to the model: names, descriptions, input schemas). `declared` is that
 * list: each tool checks its input against its own schema.
 */
export class MemoryTools extends Disposable {
  readonly store: StoreMemoryTool;
  readonly recall: RecallMemoryTool;
  readonly update: UpdateMemoryTool;
  readonly forget: ForgetMemoryTool;
  readonly list: ListMemoriesTool;

  constructor(connection: StoreConnection, log: Logger, declared: ReadonlyArray<{ name: string; inputSchema?: ValueSchema }> = []) {
    super();
    const schema = (name: string) => declared.find((t) => t.name === name)?.inputSchema;
    this.store = this.add(StoreMemoryTool.id, new StoreMemoryTool(connection, log, schema(StoreMemoryTool.id)));
    this.recall = this.add(RecallMemoryTool.id, new RecallMemoryTool(connection, log, schema(RecallMemoryTool.id)));
    this.update = this.add(UpdateMemoryTool.id, new UpdateMemoryTool(connection, log, schema(UpdateMemoryTool.id)));
    this.forget = this.add(ForgetMemoryTool.id, new ForgetMemoryTool(connection, log, schema(ForgetMemoryTool.id)));
    this.list = this.add(ListMemoriesTool.id, new ListMemoriesTool(connection, log, schema(ListMemoriesTool.id)));
  }

  private add<T extends vscode.LanguageModelTool<any>>(id: string, tool: T): T {
    this._register(vscode.lm.registerTool(id, tool));
    return tool;
  }
}
