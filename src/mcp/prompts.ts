import { ErrorCode, McpError } from '@modelcontextprotocol/sdk/types.js';
import { recallPrompt, rememberPrompt } from '../core/guidance';

/** The prompts an MCP client offers its user (e.g. as slash commands); their words come from src/core/guidance.ts. */
export const MEMORY_PROMPTS = [
  {
    name: 'remember',
    title: 'Remember',
    description: 'Store the durable facts of this conversation in long-term memory, recalling first so nothing is stored twice.',
    arguments: [{ name: 'what', description: 'What to remember (default: the durable facts of this conversation).', required: false }],
  },
  {
    name: 'recall',
    title: 'Recall',
    description: 'What long-term memory holds about a topic, cited by memory id.',
    arguments: [{ name: 'topic', description: 'What to recall, in a few words.', required: true }],
  },
];

/**
 * prompts/get. A missing required argument or an unknown prompt is a protocol error (InvalidParams),
 * as for an unknown tool: the client, not the model, made the mistake.
 */
export function memoryPrompt(name: string, args: Record<string, string>): { description: string; messages: Array<{ role: 'user'; content: { type: 'text'; text: string } }> } {
  const prompt = MEMORY_PROMPTS.find((p) => p.name === name);
  if (!prompt) throw new McpError(ErrorCode.InvalidParams, `Prompt ${name} not found; the prompts are ${MEMORY_PROMPTS.map((p) => p.name).join(' and ')}`);
  let text: string;
  if (name === 'recall') {
    const topic = typeof args.topic === 'string' ? args.topic.trim() : '';
    if (!topic) throw new McpError(ErrorCode.InvalidParams, 'topic: is required, e.g. "package manager preference"');
    text = recallPrompt('mcp', topic);
  } else {
    text = rememberPrompt('mcp', typeof args.what === 'string' ? args.what : undefined);
  }
  return { description: prompt.description, messages: [{ role: 'user', content: { type: 'text', text } }] };
}
