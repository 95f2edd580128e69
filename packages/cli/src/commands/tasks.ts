import pc from 'picocolors';
import { FettleError, inspectTasks, type TaskReport } from '@fettle/core/engine';
import { EXIT } from '../exit-codes.js';
import type { Output } from '../output.js';
import type { LoadedSite } from '../site.js';

const WORDS: Record<TaskReport['status'], string> = {
  'would-run': 'would run',
  'up-to-date': 'up to date',
  readonly: 'readonly',
  ran: 'ran',
  skipped: 'skipped',
  failed: 'failed',
};

function colour(status: TaskReport['status'], text: string): string {
  if (status === 'would-run') return pc.yellow(text);
  if (status === 'failed') return pc.red(text);
  if (status === 'up-to-date') return pc.green(text);
  return pc.dim(text);
}

/**
 * `fettle tasks HOST`: each setup task in run order, whether it would run and why
 * (no stamp, hash changed, a dependency ran later, up to date, readonly host).
 * Reads the host's stamps (one remote command) and changes nothing.
 */
export async function tasksCommand(site: LoadedSite, out: Output, hostName: string): Promise<number> {
  const host = (await site.listHosts()).find((candidate) => candidate.name === hostName);
  if (!host) {
    throw new FettleError('E_SELECTOR', `no host named '${hostName}'`, {
      where: site.configPath,
      expected: `one of ${(await site.listHosts()).map((h) => h.name).join(', ')}`,
    });
  }
  const report = await inspectTasks({
    site: site.config,
    registry: site.registry,
    siteDir: site.dir,
    host,
    redactor: out.redactor,
    warn: (message) => out.error(`warning: ${message}`),
  });
  const failed = report.tasks.some((task) => task.status === 'failed');
  if (out.json) {
    out.document({
      host: report.host,
      readonly: report.readonly,
      tasks: report.tasks.map((task) => ({
        id: task.id,
        role: task.role,
        description: task.description,
        position: task.position,
        status: task.status,
        wouldRun: task.status === 'would-run',
        because: task.because,
        reason: task.reason ?? null,
        stamp: task.stamp ? { ran: new Date(task.stamp.ran).toISOString(), hash: task.stamp.hash } : null,
        hash: task.hash,
        error: task.error ?? null,
      })),
    });
    return failed ? EXIT.failed : EXIT.ok;
  }
  if (report.tasks.length === 0) {
    out.line(pc.dim(`${report.host} has no setup tasks`));
    return EXIT.ok;
  }
  const idWidth = Math.max(4, ...report.tasks.map((task) => task.id.length));
  out.line(pc.dim(`${'#'.padStart(2)}  ${'task'.padEnd(idWidth)}  ${'status'.padEnd(10)}  why`));
  for (const task of report.tasks) {
    out.line(`${String(task.position).padStart(2)}  ${task.id.padEnd(idWidth)}  ${colour(task.status, WORDS[task.status].padEnd(10))}  ${task.because}`);
  }
  const count = (status: TaskReport['status']): number => report.tasks.filter((task) => task.status === status).length;
  const tail = report.readonly ? ' (readonly host: apply never runs its tasks)' : '';
  out.line(`${pc.bold(report.host)}: ${count('would-run')} would run, ${count('up-to-date')} up to date${count('readonly') ? `, ${count('readonly')} held back` : ''}${count('failed') ? `, ${count('failed')} failed` : ''}${tail}`);
  return failed ? EXIT.failed : EXIT.ok;
}
