import { parseOrThrow, type Host } from '@fettle/core';
import { templateItem } from './item.js';
import { loadTemplate, renderBody, renderHash } from './template.js';

export interface PreviewOptions {
  readonly host: Host;
  readonly siteDir: string;
  /** The item's name (its path on the host) and attributes, as a role declares them. */
  readonly item: { readonly name: string; readonly attrs: unknown };
}

/**
 * What `fettle items HOST --preview template:PATH` prints: the rendered file,
 * computed on the controller without contacting the host or decrypting any
 * secret (a `secret('x')` in the template shows as `<secret:x>`).
 */
export async function previewItem(options: PreviewOptions): Promise<string> {
  const attrs = parseOrThrow(templateItem.attributes, options.item.attrs, 'E_ATTRIBUTE', `template:${options.item.name}`);
  return templateItem.preview({ id: `template:${options.item.name}`, name: options.item.name, attrs }, options);
}

export interface RenderTemplateOptions {
  readonly siteDir: string;
  /** Template file relative to `siteDir`. */
  readonly source: string;
  readonly host: Host;
  readonly context?: Readonly<Record<string, unknown>> | undefined;
  /** Resolves `secret(name)`; without it secrets render as `<secret:NAME>`. */
  readonly secret?: ((name: string) => Promise<string>) | undefined;
}

/**
 * Render a template outside an item: for a setup task that writes a file and
 * runs a command, say. `hash` is the hash block's value (undefined without one),
 * ready to be a task's `hash()` so the task re-runs when it changes.
 */
export async function renderTemplate(options: RenderTemplateOptions): Promise<{ content: string; hash: string | undefined }> {
  const template = await loadTemplate(options.siteDir, options.source);
  const input = { host: options.host, context: options.context };
  const [rendered, hash] = await Promise.all([
    renderBody(template, input, options.siteDir, options.secret),
    renderHash(template, input, options.siteDir, options.secret),
  ]);
  return { content: rendered.content, hash };
}
