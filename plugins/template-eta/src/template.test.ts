import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { formatError, type Host } from '@fettle/core';
import { loadTemplate, renderBody, renderHash, splitHashBlock } from './template.js';
import { previewItem, renderTemplate } from './preview.js';

let siteDir: string;
const host: Host = {
  name: 'web1',
  transport: 'local',
  transportOptions: {},
  groups: ['web'],
  roles: [],
  vars: { version: '1.25', workers: 4, greeting: 'hello' },
  readonly: false,
};

beforeAll(async () => {
  siteDir = await mkdtemp(path.join(tmpdir(), 'fettle-eta-'));
});
afterAll(() => rm(siteDir, { recursive: true, force: true }));

async function site(name: string, text: string): Promise<string> {
  await writeFile(path.join(siteDir, name), text);
  return name;
}

async function failure(promise: Promise<unknown>): Promise<string> {
  try {
    await promise;
  } catch (error) {
    return formatError(error);
  }
  throw new Error('expected the template to fail');
}

const render = async (name: string, text: string, secret?: (name: string) => Promise<string>) =>
  renderTemplate({ siteDir, source: await site(name, text), host, context: { port: 8080 }, secret });

describe('rendering', () => {
  it('has the host, its vars, the item context and helpers in scope, without HTML escaping', async () => {
    const { content, hash } = await render(
      'basic.conf.eta',
      'server <%= host.name %> <%= it.vars.version %>\nworkers <%= vars.workers %>;\nlisten <%= context.port %>;\n<%~ h.indent("a\\nb", 4) %>\nq=<%= h.shellQuote("it\'s") %> & <ok>\n',
    );
    expect(content).toBe("server web1 1.25\nworkers 4;\nlisten 8080;\na\n    b\nq='it'\\''s' & <ok>\n");
    expect(hash).toBeUndefined();
  });

  it('drops the newline after code tags and keeps it after output tags (trim_blocks)', async () => {
    const { content } = await renderTemplate({
      siteDir,
      source: await site('loop.eta', '<% for (const user of context.users) { %>\nuser <%= user %>\n<% } %>\n<%/* a comment line */%>\nend "%>" <%= "%>" %>\n'),
      host,
      context: { users: ['a', 'b'] },
    });
    expect(content).toBe('user a\nuser b\nend "%>" %>\n');
  });

  it('renders a hash block apart and leaves no trace of it in the file', async () => {
    const { content, hash } = await render('hashed.eta', 'before\n<% hash %>\n<%= vars.version %>\n<% /hash %>\nafter <%= vars.greeting %>\n');
    expect(hash).toBe('1.25');
    expect(content).toBe('before\nafter hello\n');
  });

  it('keeps line numbers across the hash block', () => {
    const { body, hashBlock } = splitHashBlock('a\n<% hash %>x\ny<% /hash %>\nb', 't');
    expect(body).toBe('a\n<%/*\n*/%>\nb');
    expect(hashBlock).toBe('\nx\ny');
  });

  it('resolves secrets only when rendered, inserts them as they are, and shows names in the display copy', async () => {
    const asked: string[] = [];
    const resolve = (name: string) => {
      asked.push(name);
      return Promise.resolve(`value-of-${name}`);
    };
    const template = await loadTemplate(siteDir, await site('secret.eta', '<% hash %><%= vars.version %><% /hash %>password=<%= secret("db") %>\nagain=<%= secret("db") %>\n'));
    expect(template.usesSecrets).toBe(true);
    expect(await renderHash(template, { host }, siteDir, resolve)).toBe('1.25');
    expect(asked).toEqual([]); // the hash block needs no secret: none decrypted
    const rendered = await renderBody(template, { host }, siteDir, resolve);
    expect(rendered.content).toBe('password=value-of-db\nagain=value-of-db\n');
    expect(rendered.display).toBe('password=<secret:db>\nagain=<secret:db>\n');
    expect(asked).toEqual(['db']);
    expect(await failure(render('mangled.eta', '<%= secret("db").toUpperCase() %>', resolve))).toMatch(/secret\(…\) value was changed inside the template/);
  });
});

describe('errors name the template file and line', () => {
  it('a runtime error', async () => {
    expect(await failure(render('runtime.eta', 'line 1\nline 2 <%= null.x %>\n'))).toMatch(/^template runtime\.eta:2: TypeError: Cannot read properties of null \(reading 'x'\)/);
  });

  it('strict: an undefined variable, a missing var or a missing nested property is an error, never "undefined"', async () => {
    expect(await failure(render('nope.eta', 'line 1\nlisten <%= port %>\n'))).toMatch(/^template nope\.eta:2: ReferenceError: port is not defined/);
    expect(await failure(render('var.eta', 'line 1\nline 2 <%= vars.nope.deeper %>\n'))).toMatch(/^template var\.eta:2: ReferenceError: vars\.nope is not defined/);
    expect(await failure(render('deep.eta', '<%= context.port %>\n<%= context.tls.port %>\n'))).toMatch(/^template deep\.eta:2: ReferenceError: context\.tls is not defined/);
    expect(await failure(render('host.eta', '<%= host.nmae %>\n'))).toMatch(/^template host\.eta:1: ReferenceError: host\.nmae is not defined/);
    // Optional values stay possible: `in`, and h.get with a fallback.
    const { content } = await render('optional.eta', "<%= 'tls' in vars ? 1 : 0 %> <%= h.get(vars, 'tls.port', 443) %> <%= h.get(vars, 'workers') %> <%= h.json(vars) %>\n");
    expect(content).toBe(`0 443 4 ${JSON.stringify(host.vars, null, 2)}\n`);
  });

  it('a template that is not UTF-8 is an error at its line, never rewritten with U+FFFD', async () => {
    await writeFile(path.join(siteDir, 'latin1.eta'), Buffer.from('ok\ncaf\xe9\n', 'latin1'));
    expect(await failure(renderTemplate({ siteDir, source: 'latin1.eta', host }))).toMatch(/^template latin1\.eta:2: the template is not valid UTF-8/);
  });

  it('a JavaScript syntax error, below a hash block', async () => {
    expect(await failure(render('syntax.eta', '<% hash %>\n<%= 1 %>\n<% /hash %>\nok\n<% if (vars.workers { %>\nx\n<% } %>\n'))).toMatch(
      /^template syntax\.eta:5: SyntaxError: /,
    );
  });

  it('an unclosed tag', async () => {
    expect(await failure(render('unclosed.eta', 'a\nb\nc <%= vars.version\n'))).toMatch(/^template unclosed\.eta:3: unclosed tag at line 3/);
  });

  it('a broken hash block, and a missing file', async () => {
    expect(await failure(render('open.eta', 'a\n<% hash %>x\n'))).toMatch(/^template open\.eta:2: <% hash %> is never closed/);
    expect(await failure(render('two.eta', '<% hash %>x<% /hash %>\n<% hash %>y<% /hash %>'))).toMatch(/^template two\.eta:2: a template may have only one/);
    expect(await failure(renderTemplate({ siteDir, source: 'missing.eta', host }))).toMatch(/^template missing\.eta: cannot read template: ENOENT/);
  });

  it('an error inside an included partial names the partial', async () => {
    await site('partial.eta', 'ok\n<%= vars.missing.x %>\n');
    expect(await failure(render('outer.eta', 'top\n<%~ include("./partial.eta") %>\n'))).toMatch(/^template partial\.eta:2: ReferenceError: vars\.missing is not defined/);
  });
});

describe('previewItem', () => {
  it('renders without a host connection, secrets shown by name, attributes checked', async () => {
    await site('preview.eta', 'user=<%= context.user %> pw=<%= secret("db") %>\n');
    expect(await previewItem({ host, siteDir, item: { name: '/etc/app.conf', attrs: { source: 'preview.eta', context: { user: 'app' } } } })).toBe('user=app pw=<secret:db>\n');
    expect(await failure(previewItem({ host, siteDir, item: { name: '/etc/app.conf', attrs: { src: 'x' } } }))).toMatch(/template:\/etc\/app\.conf/);
  });
});
