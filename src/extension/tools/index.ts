import * as vscode from 'vscode';
import type { Logger } from '../../core/log';
import { Disposable } from '../disposable';
import type { StoreConnection } from '../storeConnection';
import { ForgetMemoryTool } from './forgetMemoryTool';
import { ListMemoriesTool } from './listMemoriesTool';
import { RecallMemoryTool } from './recallMemoryTool';
import { StoreMemoryTool } from './storeMemoryTool';
import { UpdateMemoryTool } from './updateMemoryTool';

/**
 * Registers the Language Model Tools agents use in chat (contributes.languageModelTools in
 * package.json describes them to the model: names, descriptions, input schemas).
 */
export class MemoryTools extends Disposable {
  readonly store: StoreMemoryTool;
  readonly recall: RecallMemoryTool;
  readonly update: UpdateMemoryTool;
  readonly forget: ForgetMemoryTool;
  readonly list: ListMemoriesTool;

  constructor(connection: StoreConnection, log: Logger) {
    super();
    this.store = this.add(StoreMemoryTool.id, new StoreMemoryTool(connection, log));
    this.recall = this.add(RecallMemoryTool.id, new RecallMemoryTool(connection, log));
    this.update = this.add(UpdateMemoryTool.id, new UpdateMemoryTool(connection, log));
    this.forget = this.add(ForgetMemoryTool.id, new ForgetMemoryTool(connection, log));
    this.list = this.add(ListMemoriesTool.id, new ListMemoriesTool(connection, log));
  }

  private add<T extends vscode.LanguageModelTool<any>>(id: string, tool: T): T {
    this._register(vscode.lm.registerTool(id, tool));
    return tool;
  }
}
