import { createHash } from 'node:crypto';
import {
  defineItemType,
  stampPath,
  taskStamps,
  writeStamp,
  z,
  type Host,
  type ItemContext,
  type ItemInstance,
  type ItemTypeDefinition,
} from '@fettle/core';
import { applyOwnership, fileStat, modeSchema, ownershipAttributes, ownershipState, parentItems, validatePath } from '@fettle/items-files';
import { digest, loadTemplate, renderBody, renderHash, type LoadedTemplate, type Rendered, type SecretResolver } from './template.js';

const DETAIL_LIMIT = 256 * 1024;
/** A file with a hash block is "as rendered" while its sha256 is the one its stamp recorded. */
const AS_RENDERED = 'as rendered';
/** Keys whose difference means the file must be rendered and written again. */
const RENDER_KEYS = ['sha256', 'hash', 'type', 'content'];

const attributes = z.strictObject({
  /** The template file, relative to the site folder. */
  source: z.string().min(1),
  /** Extra values for the template, as `context` (SecretRefs here are resolved by the engine). */
  context: z.record(z.string(), z.unknown()).default({}),
  /** Default 0644, or 0600 when the file carries a secret (from the context or a secret() call). */
  mode: modeSchema.optional(),
  ...ownershipAttributes,
});

export type TemplateAttributes = z.output<typeof attributes>;

/** A host's stamp for one template file (its hash block's digest). Task ids cannot contain ':'. */
export const templateStamp = (host: string, file: string): string => stampPath(host, `template:${file}`);

/**
 * Secrets named inside a template resolve through `ItemContext.secret(name)`: the
 * engine decrypts them for this host only when the template is rendered, and
 * registers each value for redaction first.
 */
function secretResolver(context: ItemContext): SecretResolver {
  return (name) => context.secret(name);
}

const sha256 = (data: Buffer): string => createHash('sha256').update(data).digest('hex');

interface Cache {
  readonly template: LoadedTemplate;
  readonly rendered?: Rendered | undefined;
}

async function render(item: ItemInstance<TemplateAttributes>, context: ItemContext, cache: Cache | undefined): Promise<Rendered> {
  if (cache?.rendered) return cache.rendered;
  const template = cache?.template ?? (await loadTemplate(context.siteDir, item.attrs.source));
  return renderBody(template, { host: context.host, context: item.attrs.context }, context.siteDir, secretResolver(context));
}

/** Render an item's file as a preview: no host contact, secrets shown as `<secret:NAME>`. */
async function preview(item: ItemInstance<TemplateAttributes>, env: { readonly host: Host; readonly siteDir: string }): Promise<string> {
  const template = await loadTemplate(env.siteDir, item.attrs.source);
  return (await renderBody(template, { host: env.host, context: item.attrs.context }, env.siteDir)).display;
}

/**
 * A file rendered from an Eta template in the site. Without a hash block it is
 * compared by content, like `file`. With `<% hash %>…<% /hash %>` only that block
 * is rendered to decide: the file is rendered and written again only when the
 * block's value changed (its digest is kept in a stamp on the host) or the file is missing.
 */
export const templateItem: ItemTypeDefinition<typeof attributes> & { preview: typeof preview } = {
  ...defineItemType({
    name: 'template',
    description: 'a file rendered from an Eta template in the site, with host, vars, context, secrets and an optional hash block',
    attributes,
    validateName: validatePath,
    implicitNeeds: (item) => parentItems(item.name),

    /** Before any host: the template exists, is UTF-8, compiles, and its hash block and body render strictly for this host. */
    async check(item, context) {
      const template = await loadTemplate(context.siteDir, item.attrs.source);
      const input = { host: context.host, context: item.attrs.context };
      await renderHash(template, input, context.siteDir, (name) => context.secret(name));
      await renderBody(template, input, context.siteDir, (name) => context.secret(name));
    },

    async cdict(item, context) {
      const template = await loadTemplate(context.siteDir, item.attrs.source);
      const input = { host: context.host, context: item.attrs.context };
      // A secret may come through the context (item.usesSecrets), a secret() call in the
      // template, or one in a partial it includes (known once rendered).
      const secretMode = (rendered?: Rendered): string => item.attrs.mode ?? (item.usesSecrets || template.usesSecrets || (rendered?.secrets.size ?? 0) > 0 ? '0600' : '0644');
      const base = {
        type: 'file',
        mode: secretMode(),
        ...ownershipState(item.attrs),
      };
      const hash = await renderHash(template, input, context.siteDir, secretResolver(context));
      // The hash block decides when to render; `content` says the file is still what was rendered (see sdict).
      if (hash !== undefined) return { ...base, hash: digest(hash), content: AS_RENDERED, _cache: { template } satisfies Cache };
      const rendered = await renderBody(template, input, context.siteDir, secretResolver(context));
      const content = Buffer.from(rendered.content, 'utf8');
      return { ...base, mode: secretMode(rendered), sha256: sha256(content), _cache: { template, rendered } satisfies Cache };
    },

    async sdict(item, context) {
      // Both asks in one tick: they join the host's batch whatever the template holds.
      const [stat, stamp] = await Promise.all([context.fact(fileStat, item.name), context.fact(taskStamps, templateStamp(context.host.name, item.name))]);
      if (!stat) return null;
      // The stamp keeps the sha256 of what was rendered: a hand edit shows without rendering
      // (a stamp from before fettle kept it says nothing either way).
      const content = stamp?.output === undefined || stamp.output === stat.sha256 ? AS_RENDERED : 'edited on the host';
      return { type: stat.type, sha256: stat.sha256, mode: stat.mode, owner: stat.owner, group: stat.group, hash: stamp?.hash ?? null, content };
    },

    async fix(change, item, context) {
      if (change.cdict === null) return;
      if (change.sdict?.['type'] === 'directory') throw new Error(`${item.name} is a directory; refusing to replace it with a file`);
      const wanted = { mode: change.cdict['mode'] as string, owner: item.attrs.owner, group: item.attrs.group };
      const hash = change.cdict['hash'];
      if (change.sdict === null || RENDER_KEYS.some((key) => change.keys.includes(key))) {
        const rendered = await render(item, context, change.cdict['_cache'] as Cache | undefined);
        await context.writeFile(item.name, rendered.content, wanted);
        const output = sha256(Buffer.from(rendered.content, 'utf8'));
        if (typeof hash === 'string') await writeStamp(context, templateStamp(context.host.name, item.name), { ran: Date.now(), hash, output });
        return;
      }
      await applyOwnership(context, item.name, change.keys, wanted);
    },

    displayValue: (key, value) => ((key === 'sha256' || key === 'hash') && typeof value === 'string' ? `sha256:${value}` : String(value)),

    async diffDetail(change, item, context) {
      if (change.cdict === null || (change.sdict !== null && !RENDER_KEYS.some((key) => change.keys.includes(key)))) return undefined;
      const rendered = await render(item, context, change.cdict['_cache'] as Cache | undefined);
      if (rendered.display.length > DETAIL_LIMIT) return undefined;
      const current = change.sdict?.['type'] === 'file' ? await context.readFile(item.name) : Buffer.alloc(0);
      if (current === null || current.length > DETAIL_LIMIT || current.includes(0)) return undefined;
      // The host's copy holds the real secret values: show their names instead.
      let shown = current.toString('utf8');
      for (const [name, value] of rendered.secrets) if (value.length > 0) shown = shown.split(value).join(`<secret:${name}>`);
      // diff loads here, not with the plugin: a run with nothing to show never pays for it.
      const { createTwoFilesPatch } = await import('diff');
      const patch = createTwoFilesPatch(item.name, item.name, shown, rendered.display, '', '', { context: 3 });
      return patch.split('\n').filter((line) => !line.startsWith('Index:') && !line.startsWith('====')).join('\n').trimEnd();
    },
  }),
  preview,
};
