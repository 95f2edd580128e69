#!/usr/bin/env node
// Interleaved A/B of whole commands: one run of each per round (after one warm-up run of each),
// medians of wall and CPU (user + sys of the command's tree, GNU time), with the load average
// before and after. For trying a change or a node flag against the build as it is:
//   node bench/ab.mjs [--rounds 15] 'base::node packages/cli/dist/bin.js verify --site S' \
//                                   'noinc::node --no-incremental-marking packages/cli/dist/bin.js verify --site S'
// Each argument is LABEL::COMMAND (run by bash, its output discarded). Exit 1 if a run fails.
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { parseArgs } from 'node:util';
import { load1, median, timed } from './lib/timing.mjs';

const { values, positionals } = parseArgs({ options: { rounds: { type: 'string', default: '15' } }, allowPositionals: true });
const rounds = Number(values.rounds);
if (!Number.isInteger(rounds) || rounds < 1 || positionals.length === 0 || positionals.some((arg) => !arg.includes('::'))) {
  console.error("usage: node bench/ab.mjs [--rounds N] 'LABEL::COMMAND' ...");
  process.exit(3);
}
const cases = positionals.map((arg) => {
  const at = arg.indexOf('::');
  return { label: arg.slice(0, at), command: arg.slice(at + 2), wall: [], cpu: [] };
});
const scratch = mkdtempSync(path.join(tmpdir(), 'fettle-ab-'));
const statsFile = path.join(scratch, 'time.out');
let failed = false;
const run = async (c) => {
  const result = await timed(['bash', '-c', `${c.command} >/dev/null`], { statsFile });
  if (result.code !== 0) {
    failed = true;
    console.error(`${c.label}: exit ${result.code}: ${result.stderr.trim().split('\n').slice(-3).join(' | ')}`);
  }
  return result;
};
const before = load1();
for (const c of cases) await run(c);
for (let round = 0; round < rounds; round++) {
  for (const c of cases) {
    const result = await run(c);
    c.wall.push(result.wall * 1000);
    c.cpu.push(result.cpu * 1000);
  }
}
rmSync(scratch, { recursive: true, force: true });
console.log(`${rounds} interleaved rounds, load ${before.toFixed(2)} -> ${load1().toFixed(2)}; medians, ms`);
const base = cases[0];
for (const c of cases) {
  const wall = median(c.wall);
  const cpu = median(c.cpu);
  const vs = c === base ? '' : `  wall x${(wall / median(base.wall)).toFixed(3)}  cpu x${(cpu / median(base.cpu)).toFixed(3)}`;
  console.log(`${c.label.padEnd(24)} wall ${wall.toFixed(1).padStart(8)}  cpu ${cpu.toFixed(0).padStart(6)}  min wall ${Math.min(...c.wall).toFixed(1).padStart(8)}${vs}`);
}
process.exit(failed ? 1 : 0);
