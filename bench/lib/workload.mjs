// The workload's expected state on disk, checked after every apply run of every tool (the
// cold floor included): each tool is shown to produce exactly these bytes, modes, owners and link.
import { lstatSync, readFileSync, readlinkSync } from 'node:fs';
import path from 'node:path';
import { FILES, pad, render } from './gen.mjs';

const fileName = (i) => `file${pad(i, 3)}.txt`;

/** Throws with the first difference between `targets/host/d` and the workload. */
export function checkTargets(targets, hosts) {
  const expect = (file, st, mode, kind) => {
    const got = (st.mode & 0o7777).toString(8);
    if (kind === 'file' && !st.isFile()) throw new Error(`${file} is not a file`);
    if (kind === 'dir' && !st.isDirectory()) throw new Error(`${file} is not a directory`);
    if (mode && got !== mode) throw new Error(`${file}: mode ${got}, expected ${mode}`);
    if (st.uid !== 0 || st.gid !== 0) throw new Error(`${file}: owner ${st.uid}:${st.gid}, expected root:root`);
  };
  for (const h of hosts) {
    const d = path.join(targets, h, 'd');
    expect(d, lstatSync(d), '755', 'dir');
    for (let i = 1; i <= FILES; i++) {
      const file = path.join(d, fileName(i));
      expect(file, lstatSync(file), '644', 'file');
      const text = readFileSync(file, 'utf8');
      if (text !== render(i, h)) throw new Error(`${file} differs from the workload:\n${JSON.stringify(text)}`);
    }
    const link = path.join(d, 'first.txt');
    const st = lstatSync(link);
    if (!st.isSymbolicLink()) throw new Error(`${link} is not a symlink`);
    expect(link, st, null, 'link');
    const target = readlinkSync(link);
    if (target !== path.join(d, fileName(1))) throw new Error(`${link} -> ${target}`);
  }
}

/** The workload of one host as tar entries, relative to its `d` (the cold floor's stream). */
export function workloadEntries(targets, host) {
  const d = path.join(targets, host, 'd');
  return [
    { name: './', type: 'dir', mode: 0o755 },
    ...Array.from({ length: FILES }, (_, k) => ({ name: `./${fileName(k + 1)}`, type: 'file', mode: 0o644, content: render(k + 1, host) })),
    { name: './first.txt', type: 'symlink', target: path.join(d, fileName(1)) },
  ];
}
