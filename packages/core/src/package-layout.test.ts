import { spawnSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import ts from 'typescript';
import { describe, expect, it } from 'vitest';

// The built package (run `pnpm build` first): core's code is dist/core.cjs behind ES façades
// (see tsup.config.ts). Each façade must give every value its .d.ts promises, all from one core.

const dist = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../dist');
const manifest = JSON.parse(readFileSync(path.join(dist, '../package.json'), 'utf8')) as { exports: Record<string, Record<string, string>> };

/** The names of the values (not types) a .d.ts exports, as TypeScript reads them. */
function valueNames(dts: string): string[] {
  const program = ts.createProgram([dts], { noEmit: true, skipLibCheck: true, types: [] });
  const checker = program.getTypeChecker();
  const module = checker.getSymbolAtLocation(program.getSourceFile(dts)!)!;
  return checker
    .getExportsOfModule(module)
    .filter((symbol) => {
      const target = symbol.flags & ts.SymbolFlags.Alias ? checker.getAliasedSymbol(symbol) : symbol;
      return (target.flags & ts.SymbolFlags.Value) !== 0;
    })
    .map((symbol) => symbol.name)
    .sort();
}

/** The names a file gives when node itself imports it (a façade over core.cjs). */
function namesInNode(files: string[]): { names: string[][]; oneCore: boolean } {
  const script = `const all = await Promise.all(${JSON.stringify(files)}.map((file) => import(file)));
const one = all.every((ns) => ns.Registry === all[0].Registry && ns.FettleError === all[0].FettleError && ns.z === all[0].z);
const error = new all[0].FettleError('E_INPUT', 'x');
const oneCore = one && all.every((ns) => error instanceof ns.FettleError && ns.isFettleError(error));
console.log(JSON.stringify({ names: all.map((ns) => Object.keys(ns).sort()), oneCore }));`;
  const result = spawnSync(process.execPath, ['--input-type=module', '-e', script], { encoding: 'utf8' });
  expect(result.status, result.stderr).toBe(0);
  return JSON.parse(result.stdout) as { names: string[][]; oneCore: boolean };
}

describe('@fettle/core as built: one CommonJS core behind ES façades', () => {
  const entries = [
    ['.', 'index'],
    ['./engine', 'engine'],
  ] as const;

  it.each(entries)('%s gives every value its .d.ts declares, for node and for bundlers', (subpath, entry) => {
    const conditions = manifest.exports[subpath]!;
    expect(conditions).toEqual({ types: `./dist/${entry}.d.ts`, module: `./dist/${entry}.module.js`, import: `./dist/${entry}.js` });
    const declared = valueNames(path.join(dist, `${entry}.d.ts`));
    expect(declared.length).toBeGreaterThan(30);
    // The `module` façade is what node's CommonJS lexer has to read export names from: a name it
    // missed would fail right here, at link time.
    const { names } = namesInNode([path.join(dist, `${entry}.js`), path.join(dist, `${entry}.module.js`)]);
    expect(names[0]).toEqual(declared);
    expect(names[1]).toEqual(declared);
  });

  it('every façade gives the same core: one registry class, one set of errors, instanceof across them', () => {
    const files = ['index.js', 'engine.js', 'index.module.js', 'engine.module.js'].map((file) => path.join(dist, file));
    expect(namesInNode(files).oneCore).toBe(true);
  });
});
