import { createHash, hash } from 'node:crypto';
import { readFile, stat } from 'node:fs/promises';
import path from 'node:path';
import { FettleError, defineItemType, localFile, localFileChunks, sh, z, type ItemInstance, type LocalFile, type StateDict } from '@fettle/core';
import { creationPatch } from './creation-patch.js';
import { fileStat, type FileStat } from './facts.js';
import { addOwnership, applyOwnership, modeSchema, ownershipAttributes, parentItems, quickOwnership, validatePath } from './common.js';
import { flag, nonEmptyText, octalMode, oneOf, quickObject, text } from './quick-parse.js';

const DETAIL_LIMIT = 256 * 1024;
/** A `source` file larger than this is never read whole: hashed and sent as a stream. */
const STREAM_ABOVE = 1024 * 1024;

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

/** The schema's plain cases (text content, no bytes); content and source together are the schema's to word. */
const quickParse = quickObject<FileAttrs>(
  { content: text, source: nonEmptyText, encoding: oneOf('utf-8', 'base64'), mode: octalMode, ...quickOwnership, delete: flag },
  { encoding: 'utf-8', delete: false },
  (parsed) => parsed.content === undefined || parsed.source === undefined,
);

/** The wanted content with its sha256: text (kept as the string until a fix writes it), bytes in memory, or a large `source` file to stream. */
type Content = { readonly sha256: string; readonly data: string | Buffer | LocalFile };

/**
 * The wanted content when no file of the site has to be read (text, base64, bytes), or
 * undefined when content is not managed: most files, settled without a promise.
 */
function contentInAttributes(attrs: FileAttrs): Content | undefined {
  if (attrs.content instanceof Uint8Array) return inMemory(Buffer.from(attrs.content));
  if (attrs.content !== undefined && attrs.encoding === 'base64') return inMemory(Buffer.from(attrs.content, 'base64'));
  // Text is hashed as its UTF-8 bytes without making them: most files of most runs are in their state.
  if (attrs.content !== undefined) return { sha256: hash('sha256', attrs.content, 'hex'), data: attrs.content };
  return undefined; // content not managed
}

/** The content of a `source` file of the site: in memory, or streamed when it is large. */
async function sourceContent(source: string, siteDir: string): Promise<Content> {
  const file = path.resolve(siteDir, source);
  const info = await stat(file);
  if (info.size > STREAM_ABOVE) {
    const local = await localFile(file);
    return { sha256: await hashOf(local, info.mtimeMs), data: local };
  }
  return inMemory(await readFile(file));
}

// One-shot hash(): no Hash object per file of every host.
const inMemory = (data: Buffer): { sha256: string; data: Buffer } => ({ sha256: hash('sha256', data, 'hex'), data });

/** One hash per large source file per run, not one per host (keyed by path, size and mtime). */
const hashes = new Map<string, Promise<string>>();

function hashOf(source: LocalFile, mtimeMs: number): Promise<string> {
  const key = `${source.localPath}\0${String(source.size)}\0${String(mtimeMs)}`;
  let hash = hashes.get(key);
  if (!hash) {
    hash = (async () => {
      const digest = createHash('sha256');
      for await (const chunk of localFileChunks(source)) digest.update(chunk);
      return digest.digest('hex');
    })();
    hashes.set(key, hash);
  }
  return hash;
}

/** The `_content` of a cdict as what a write takes: text becomes its UTF-8 bytes. */
function wantedBytes(content: unknown): Buffer | LocalFile | undefined {
  return typeof content === 'string' ? Buffer.from(content, 'utf8') : (content as Buffer | LocalFile | undefined);
}

/** A file whose content comes from a secret is readable by its owner only, unless the item says otherwise. */
function fileMode(item: ItemInstance<FileAttrs>): string {
  return item.attrs.mode ?? (item.usesSecrets ? '0600' : '0644');
}

/** A string whose UTF-8 bytes `isText` would accept unchanged: no NUL, no surrogate (left to the byte path). */
function isPlainText(text: string): boolean {
  return !text.includes('\0') && !/[\uD800-\uDFFF]/.test(text);
}

function isText(data: Buffer): boolean {
  return !data.includes(0) && Buffer.from(data.toString('utf8'), 'utf8').equals(data);
}

/** Before any host: a `source` file exists in the site (its bytes are copied as they are, text or binary). */
async function checkSource(source: string, siteDir: string): Promise<void> {
  const file = path.resolve(siteDir, source);
  const info = await stat(file).catch(() => undefined);
  if (!info?.isFile()) {
    throw new FettleError('E_REFERENCE', `source file ${info ? 'is not a regular file' : 'does not exist'}: ${source}`, {
      where: "attribute 'source'",
      expected: `a file at ${file}`,
    });
  }
}

/** The cdict: built key by key (the order shown in diffs), without spreading objects made for the purpose. */
function fileState(item: ItemInstance<FileAttrs>, content: Content | undefined): StateDict {
  const state: Record<string, unknown> = { type: 'file' };
  if (content !== undefined) {
    state['sha256'] = content.sha256;
    // `_content`: not compared, not shown; the text, bytes or large file the fix writes (see wantedBytes).
    state['_content'] = content.data;
  }
  state['mode'] = fileMode(item);
  addOwnership(state, item.attrs);
  return state;
}

function statState(stat: FileStat | null): StateDict | null {
  return stat && { type: stat.type, sha256: stat.sha256, mode: stat.mode, owner: stat.owner, group: stat.group };
}

/** A regular file: content, mode, owner, group; written atomically. */
export const fileItem = defineItemType({
  name: 'file',
  description: 'a regular file with content from the site (text, base64 or a source file)',
  attributes,
  quickParse,
  validateName: validatePath,
  implicitNeeds: (item) => parentItems(item.name),
  // Its fix touches its own path only, in one command or one write.
  pathScope: 'leaf',

  /** Before any host: a `source` file exists in the site (its bytes are copied as they are, text or binary). */
  // Not async: a file without `source` (most) has nothing to check, and costs no promise.
  check(item, context) {
    if (item.attrs.source === undefined || item.attrs.delete) return;
    return checkSource(item.attrs.source, context.siteDir);
  },

  // Settled at once unless a `source` file must be read: no promise per file of every host.
  cdict(item, context) {
    if (item.attrs.delete) return null;
    if (item.attrs.source !== undefined) return sourceContent(item.attrs.source, context.siteDir).then((content) => fileState(item, content));
    return fileState(item, contentInAttributes(item.attrs));
  },

  sdict: (item, context) => context.fact(fileStat, item.name).then(statState),

  async fix(change, item, context) {
    if (change.sdict?.['type'] === 'directory') throw new Error(`${item.name} is a directory; refusing to replace it with a file`);
    if (change.cdict === null) {
      await context.runChecked(sh`rm -f -- ${context.hostPath(item.name)}`);
      return;
    }
    const rewrite = change.sdict === null || change.keys.includes('sha256') || change.keys.includes('type');
    if (rewrite) {
      // Text goes as the string it is (a writer that sends text as text makes no bytes of it).
      const wanted = change.cdict['_content'];
      const content = typeof wanted === 'string' ? wanted : (wantedBytes(wanted) ?? Buffer.alloc(0));
      await context.writeFile(item.name, content, { mode: fileMode(item), owner: item.attrs.owner, group: item.attrs.group });
      return;
    }
    await applyOwnership(context, item.name, change.keys, { ...item.attrs, mode: fileMode(item) });
  },

  displayValue: (key, value) => (key === 'sha256' && typeof value === 'string' ? `sha256:${value}` : String(value)),

  async diffDetail(change, item, context) {
    if (change.cdict === null || !change.keys.includes('sha256')) return undefined;
    // A new file of plain text (every file of a cold apply): its lines, without making bytes of it.
    const content = change.cdict['_content'];
    if (typeof content === 'string' && change.sdict?.['type'] !== 'file' && isPlainText(content) && Buffer.byteLength(content) <= DETAIL_LIMIT) {
      const created = creationPatch(item.name, content);
      if (created !== undefined) return created;
    }
    const wanted = wantedBytes(change.cdict['_content']);
    if (!Buffer.isBuffer(wanted) || wanted.length > DETAIL_LIMIT) return undefined;
    const current = change.sdict?.['type'] === 'file' ? await context.readFile(item.name) : Buffer.alloc(0);
    if (current === null || current.length > DETAIL_LIMIT) return undefined;
    if (!isText(wanted) || !isText(current)) {
      return `binary content: sha256 ${typeof change.sdict?.['sha256'] === 'string' ? change.sdict['sha256'] : 'none'} → ${typeof change.cdict['sha256'] === 'string' ? change.cdict['sha256'] : 'none'}`;
    }
    const text = wanted.toString('utf8');
    // A new (or empty) file is only added lines: printed directly, the diff package not even loaded.
    const created = current.length === 0 ? creationPatch(item.name, text) : undefined;
    if (created !== undefined) return created;
    // diff loads here, not with the plugin: a run with nothing to show never pays for it.
    const { createTwoFilesPatch } = await import('diff');
    const patch = createTwoFilesPatch(item.name, item.name, current.toString('utf8'), text, '', '', { context: 3 });
    // Drop the "Index:" and "===" lines; keep ---/+++ and the hunks.
    return patch.split('\n').filter((line) => !line.startsWith('Index:') && !line.startsWith('====')).join('\n').trimEnd();
  },
});
