/**
 * The part of Block Kit validation the sandbox enforces: the shape errors Slack answers with
 * `invalid_blocks`, each message ending in the JSON pointer of the offending element.
 */
const BLOCK_TYPES = new Set([
  'actions',
  'context',
  'divider',
  'file',
  'header',
  'image',
  'input',
  'markdown',
  'rich_text',
  'section',
  'video',
]);
const MAX_BLOCKS = 50;

export type BlocksCheck = { ok: true; blocks: unknown[] } | { ok: false; errors: string[] };

function isObject(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

function checkTextObject(text: unknown, pointer: string, plainOnly: boolean): string | null {
  if (!isObject(text)) return `must provide an object [json-pointer:${pointer}]`;
  if (text.type !== 'plain_text' && text.type !== 'mrkdwn')
    return `must be one of: plain_text, mrkdwn [json-pointer:${pointer}/type]`;
  if (plainOnly && text.type !== 'plain_text') return `must be plain_text [json-pointer:${pointer}/type]`;
  if (typeof text.text !== 'string' || text.text.length === 0)
    return `must be more than 0 characters [json-pointer:${pointer}/text]`;
  return null;
}

function checkBlock(block: unknown, index: number): string | null {
  const pointer = `/blocks/${index}`;
  if (!isObject(block)) return `must provide an object [json-pointer:${pointer}]`;
  if (typeof block.type !== 'string') return `missing required field: type [json-pointer:${pointer}]`;
  if (!BLOCK_TYPES.has(block.type)) return `unsupported type: ${block.type} [json-pointer:${pointer}/type]`;
  if (block.type === 'header') return checkTextObject(block.text, `${pointer}/text`, true);
  if (block.type === 'section') {
    if (block.text === undefined && block.fields === undefined)
      return `must provide either text or fields [json-pointer:${pointer}]`;
    if (block.text !== undefined) return checkTextObject(block.text, `${pointer}/text`, false);
  }
  return null;
}

/** `raw` is the request argument: a JSON string (form bodies) or an already-parsed value (JSON bodies). */
export function checkBlocks(raw: unknown): BlocksCheck {
  let blocks: unknown = raw;
  if (typeof raw === 'string') {
    try {
      blocks = JSON.parse(raw);
    } catch {
      return { ok: false, errors: ['invalid JSON [json-pointer:/blocks]'] };
    }
  }
  if (!Array.isArray(blocks)) return { ok: false, errors: ['must provide an array [json-pointer:/blocks]'] };
  if (blocks.length > MAX_BLOCKS)
    return { ok: false, errors: [`no more than ${MAX_BLOCKS} items allowed [json-pointer:/blocks]`] };
  const errors = blocks.map(checkBlock).filter((e): e is string => e !== null);
  return errors.length > 0 ? { ok: false, errors } : { ok: true, blocks };
}
