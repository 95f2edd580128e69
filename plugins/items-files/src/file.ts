import { createHash } from 'node:crypto';
import { readFile, stat } from 'node:fs/promises';
import path from 'node:path';
import { FettleError, defineItemType, sh, z, type ItemInstance } from '@fettle/core';
import { fileStat } from './facts.js';
import { applyOwnership, modeSchema, ownershipAttributes, ownershipState, parentItems, validatePath } from './common.js';

const DETAIL_LIMIT = 256 * 1024;

const attributes = z
  .strictObject({
    /** The file's content as text (or base64 with `encoding: 'base64'`), or bytes (a binary secret). */
    content: z.union([z.string(), z.instanceof(Uint8Array)]).optional(),
    /** A file in the site to copy, relative to the site folder. */
    source: z.string().min(1).optional(),
    encoding: z.enum(['utf-8', 'base64']).default('utf-8'),
    /** Default 0644, or 0600 when the content comes from a secret. */
    mode: modeSchema.optional(),
    ...ownershipAttributes,
    /** Make sure the file does not exist. */
    delete: z.boolean().default(false),
  })
  .refine((attrs) => attrs.content === undefined || attrs.source === undefined, {
    message: 'give either content or source, not both',
  });

type FileAttrs = z.output<typeof attributes>;

async function desiredContent(attrs: FileAttrs, siteDir: string): Promise<Buffer | undefined> {
  if (attrs.source !== undefined) return readFile(path.resolve(siteDir, attrs.source));
  if (attrs.content instanceof Uint8Array) return Buffer.from(attrs.content);
  if (attrs.content !== undefined) return Buffer.from(attrs.content, attrs.encoding === 'base64' ? 'base64' : 'utf8');
  return undefined; // content not managed
}

/** A file whose content comes from a secret is readable by its owner only, unless the item says otherwise. */
function fileMode(item: ItemInstance<FileAttrs>): string {
  return item.attrs.mode ?? (item.usesSecrets ? '0600' : '0644');
}

function isText(data: Buffer): boolean {
  return !data.includes(0) && Buffer.from(data.toString('utf8'), 'utf8').equals(data);
}

/** A regular file: content, mode, owner, group; written atomically. */
export const fileItem = defineItemType({
  name: 'file',
  description: 'a regular file with content from the site (text, base64 or a source file)',
  attributes,
  validateName: validatePath,
  implicitNeeds: (item) => parentItems(item.name),

  /** Before any host: a `source` file exists in the site (its bytes are copied as they are, text or binary). */
  async check(item, context) {
    if (item.attrs.source === undefined || item.attrs.delete) return;
    const file = path.resolve(context.siteDir, item.attrs.source);
    const info = await stat(file).catch(() => undefined);
    if (!info?.isFile()) {
      throw new FettleError('E_REFERENCE', `source file ${info ? 'is not a regular file' : 'does not exist'}: ${item.attrs.source}`, {
        where: "attribute 'source'",
        expected: `a file at ${file}`,
      });
    }
  },

  async cdict(item, context) {
    if (item.attrs.delete) return null;
    const content = await desiredContent(item.attrs, context.siteDir);
    return {
      type: 'file',
      ...(content === undefined ? {} : { sha256: createHash('sha256').update(content).digest('hex'), _content: content }),
      mode: fileMode(item),
      ...ownershipState(item.attrs),
    };
  },

  async sdict(item, context) {
    const stat = await context.fact(fileStat, item.name);
    if (!stat) return null;
    return { type: stat.type, sha256: stat.sha256, mode: stat.mode, owner: stat.owner, group: stat.group };
  },

  async fix(change, item, context) {
    if (change.sdict?.['type'] === 'directory') throw new Error(`${item.name} is a directory; refusing to replace it with a file`);
    if (change.cdict === null) {
      await context.runChecked(sh`rm -f -- ${context.hostPath(item.name)}`);
      return;
    }
    const rewrite = change.sdict === null || change.keys.includes('sha256') || change.keys.includes('type');
    if (rewrite) {
      const content = (change.cdict['_content'] as Buffer | undefined) ?? Buffer.alloc(0);
      await context.writeFile(item.name, content, { mode: fileMode(item), owner: item.attrs.owner, group: item.attrs.group });
      return;
    }
    await applyOwnership(context, item.name, change.keys, { ...item.attrs, mode: fileMode(item) });
  },

  displayValue: (key, value) => (key === 'sha256' && typeof value === 'string' ? `sha256:${value}` : String(value)),

  async diffDetail(change, item, context) {
    if (change.cdict === null || !change.keys.includes('sha256')) return undefined;
    const wanted = change.cdict['_content'];
    if (!Buffer.isBuffer(wanted) || wanted.length > DETAIL_LIMIT) return undefined;
    const current = change.sdict?.['type'] === 'file' ? await context.readFile(item.name) : Buffer.alloc(0);
    if (current === null || current.length > DETAIL_LIMIT) return undefined;
    if (!isText(wanted) || !isText(current)) {
      return `binary content: sha256 ${typeof change.sdict?.['sha256'] === 'string' ? change.sdict['sha256'] : 'none'} → ${typeof change.cdict['sha256'] === 'string' ? change.cdict['sha256'] : 'none'}`;
    }
    // diff loads here, not with the plugin: a run with nothing to show never pays for it.
    const { createTwoFilesPatch } = await import('diff');
    const patch = createTwoFilesPatch(item.name, item.name, current.toString('utf8'), wanted.toString('utf8'), '', '', { context: 3 });
    // Drop the "Index:" and "===" lines; keep ---/+++ and the hunks.
    return patch.split('\n').filter((line) => !line.startsWith('Index:') && !line.startsWith('====')).join('\n').trimEnd();
  },
});
