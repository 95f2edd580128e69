import { execFileSync } from 'node:child_process';
import path from 'node:path';
import { describe, expect, expectTypeOf, it } from 'vitest';
import { z } from 'zod';
import { defineFact, defineFactPerQuery, factEnv, type FactEnv } from './fact.js';
import { defineItemType, type ItemContext } from './item.js';
import { arg, joinShell, mapItemPath, rawShell, sh, type HostPath, type Shell } from './shell.js';
import { HostSession } from '../engine/session.js';
import type { Transport } from './transport.js';

const sandbox = factEnv('/tmp/sandbox root');

describe('sh`…`', () => {
  it('quotes every value: a mapped path, an argument, a number, lists joined by spaces, fragments as written', () => {
    const paths = ['/etc/a b', "/etc/it's"].map((p) => sandbox.hostPath(p));
    const step = sh`chmod ${arg('0644')} ${paths}`;
    expect(step.text).toBe(`chmod 0644 '/tmp/sandbox root/etc/a b' '/tmp/sandbox root/etc/it'\\''s'`);
    expect(sh`${step} && head -n ${3} ${arg('$(reboot)')}`.text).toBe(`${step.text} && head -n 3 '$(reboot)'`);
    expect(joinShell([sh`true`, rawShell('echo "$HOME"')], ' && ').text).toBe('true && echo "$HOME"');
    expect(joinShell([], '\n').text).toBe('');
  });

  it('maps a path under the root the way readFile/writeFile do, and `..` cannot climb out of it', () => {
    expect(sandbox.hostPath('/etc/passwd').path).toBe('/tmp/sandbox root/etc/passwd');
    expect(sandbox.hostPath('/../../etc/passwd').path).toBe('/tmp/sandbox root/etc/passwd');
    expect(sandbox.hostPath('/srv/../../etc').path).toBe('/tmp/sandbox root/etc');
    expect(factEnv('/').hostPath('/etc/passwd').path).toBe('/etc/passwd');
    // The fast path for plain paths gives what full normalising gives.
    for (const root of ['/srv/root', '/srv/root/', '/srv//root', 'rel/root', '/srv/.root'])
      for (const item of ['/etc/a', '/etc/.hidden', '/etc/a/', '//etc', '/a/./b', '/a/../../b', 'etc/a', '/'])
        expect(mapItemPath(root, item), `${root} + ${item}`).toBe(path.posix.join(root, path.posix.resolve('/', item)));
  });

  it('refuses, at run time too, a plain string where JavaScript code forgot hostPath() or arg()', () => {
    const forgot = '/etc/passwd' as unknown as HostPath;
    expect(() => sh`rm -f ${forgot}`).toThrow(/cannot take the string "\/etc\/passwd": put a path through context\.hostPath\(\)/);
    expect(() => sh`echo ${undefined as unknown as Shell}`).toThrow(/cannot take undefined/);
    expect(() => sh`sleep ${Number.NaN}`).toThrow(/cannot take the number NaN/);
    // A value that only looks like a HostPath (made by hand) is refused too.
    expect(() => sh`cat ${{ path: '/etc/shadow' } as unknown as HostPath}`).toThrow(/cannot take object/);
  });

  it('runs as the shell reads it', () => {
    const tricky = `a'b "c" $HOME \\ ; rm -rf /`;
    expect(execFileSync('sh', ['-c', sh`printf '%s' ${arg(tricky)}`.text], { encoding: 'utf8' })).toBe(tricky);
  });
});

describe('ItemContext commands', () => {
  const transport: Transport = {
    root: '/srv/sandbox',
    exec: () => Promise.reject(new Error('not reached')),
    readFile: () => Promise.resolve(null),
    writeFile: () => Promise.resolve(),
    stat: () => Promise.resolve(null),
    close: () => Promise.resolve(),
  };
  const context = new HostSession({ name: 'h', vars: {} } as never, transport, '/site').context;

  it('maps hostPath() like the files it writes, and refuses a raw string command from JavaScript before anything runs', async () => {
    expect(context.hostPath('/etc/motd').path).toBe('/srv/sandbox/etc/motd');
    await expect(context.run('rm -rf /etc' as unknown as Shell)).rejects.toThrow(/run\(\) takes a command built with sh`…` \(paths through hostPath\(\)\), not the string "rm -rf \/etc"/);
    await expect(context.runChecked('rm -rf /etc' as unknown as Shell)).rejects.toThrow(/runChecked\(\) takes a command built with sh/);
  });
});

// Type-level: these lines are checked by `tsc` (the package's typecheck); each
// `@ts-expect-error` fails the typecheck if the line it marks ever compiles.
describe('types', () => {
  it('refuse a raw path string in a command, a fact query or a snippet', () => {
    const typeChecks = (context: ItemContext, env: FactEnv, path: string): void => {
      // @ts-expect-error a plain string is neither a mapped path nor a marked argument
      void sh`chmod 0644 ${path}`;
      // @ts-expect-error run() takes only a command built by sh
      void context.run(`rm -f ${path}`);
      // @ts-expect-error runChecked() likewise
      void context.runChecked('rm -rf /etc');
      // @ts-expect-error a HostPath is not an item path: readFile/writeFile map by themselves
      void context.writeFile(context.hostPath(path), 'x');
      void sh`chmod ${arg('0644')} ${context.hostPath(path)} ${env.hostPath(path)} ${[context.hostPath(path)]} ${3}`;
    };
    // @ts-expect-error a fact's command is a Shell, not a string
    defineFact<string, string>({ name: 't.a', command: (paths) => `stat ${paths.join(' ')}`, parse: () => [] });
    // @ts-expect-error a per-query snippet too
    defineFactPerQuery<string, string>({ name: 't.b', each: (p) => `cat ${p}`, parseOne: () => '' });
    defineItemType({
      name: 't',
      attributes: z.strictObject({}),
      cdict: () => ({}),
      sdict: () => Promise.resolve({}),
      async fix(_change, item, context) {
        // @ts-expect-error a path put into a command without hostPath()
        await context.runChecked(sh`touch ${item.name}`);
        await context.runChecked(sh`touch ${context.hostPath(item.name)}`);
      },
    });
    expectTypeOf(typeChecks).toBeFunction();
    // The old unmapped `path()` helpers are gone from both.
    expectTypeOf<ItemContext>().not.toHaveProperty('path');
    expectTypeOf<FactEnv>().not.toHaveProperty('path');
    expectTypeOf(sandbox.hostPath('/x')).not.toEqualTypeOf<string>();
    expectTypeOf<HostPath>().not.toMatchTypeOf<string>();
  });
});
