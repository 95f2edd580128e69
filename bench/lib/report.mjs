// The results document → markdown: the case table, the scale table, the issue's targets
// (met / not met, with the figure) and the notes.

const ORDER = ['fettle', 'floor', 'cold-floor', 'cold-floor-nofsync', 'fettle-ts', 'fettle-ts-nocache', 'bundlewrap-tuned', 'bundlewrap', 'ansible-tuned', 'ansible'];
const CASE_ORDER = ['cold', 'warm', 'verify'];
const isPeer = (tool) => !tool.startsWith('fettle') && !tool.includes('floor');
const loadText = (l) => (l ? `${l.before} → ${l.after}` : '');

const cell = (met, text) => `${met === null ? 'not measured' : met ? 'met' : '**not met**'}${text ? `: ${text}` : ''}`;

/** The issue's targets, each { target, result } from this run's figures. */
export function targets(doc) {
  const find = (tool, kase, hosts) => doc.cases.find((r) => r.tool === tool && r.case === kase && r.hosts === hosts);
  const out = [];
  for (const [kase, hosts, limit] of [['warm', 8, 1.25], ['verify', 8, 1.25], ['warm', 1, 1.3], ['verify', 1, 1.3], ['cold', 8, 1.5]]) {
    const r = find('fettle', kase, hosts);
    const floor = kase === 'cold' ? 'cold floor' : 'floor';
    // Cold: judged against the bare cold floor (no fsync, the issue's definition), the stricter one.
    const bare = r?.vs_floor_nofsync != null;
    const ratio = bare ? r.vs_floor_nofsync : r?.vs_floor;
    const text = bare
      ? `${ratio}× the cold floor without fsync (${r.median_s} s against ${r.floor_nofsync_s} s); ${r.vs_floor}× the cold floor with fsync (${r.floor_s} s)`
      : ratio != null ? `${ratio}× (${r.median_s} s against ${r.floor_s} s)` : '';
    out.push({ target: `${hosts} host${hosts > 1 ? 's' : ''} ${kase}: ≤ ${limit}× the ${floor}`, result: cell(ratio != null ? ratio <= limit : null, text) });
  }
  const cold8 = find('fettle', 'cold', 8);
  out.push({
    target: '8 hosts cold: 1 connection per host, a constant number of remote commands',
    result: cell(cold8 ? cold8.connections === 1 : null, cold8 ? `per host: ${cold8.connections} connection(s), ${cold8.execs} exec channel(s), ${cold8.sftp} SFTP session(s), for 100 files` : ''),
  });
  for (const hosts of [1, 8]) {
    for (const kase of CASE_ORDER) {
      const peers = doc.cases.filter((r) => r.case === kase && r.hosts === hosts && isPeer(r.tool) && r.vs_fettle != null);
      if (!peers.length) continue;
      const weakest = peers.reduce((a, b) => (b.vs_fettle < a.vs_fettle ? b : a));
      // A capped peer's ratio is a lower bound: enough when it is ≥ 30 already.
      const lower = weakest.capped ? '> ' : '';
      const met = weakest.vs_fettle >= 30 ? true : weakest.capped ? null : false;
      out.push({
        target: `${hosts} host${hosts > 1 ? 's' : ''} ${kase}: ≥ 30× faster than every peer`,
        result: met === null ? `unknown: ${weakest.tool} > ${weakest.vs_fettle}× (stopped at the cap)` : cell(met, `weakest ${weakest.tool} ${lower}${weakest.vs_fettle}×`),
      });
    }
  }
  const measured = doc.scale.filter((e) => !e.error);
  const big = measured.find((e) => e.hosts === 1024) ?? null;
  const largest = measured.length ? measured.reduce((a, b) => (b.hosts > a.hosts ? b : a)) : null;
  const scaleCell = (met, text) => (big ? cell(met, text) : `not measured at 1,024 hosts${largest ? ` (largest size: ${largest.hosts})` : ''}`);
  out.push(
    { target: '1,024 hosts verify: ≤ 1.2× the floor', result: scaleCell(big?.vs_floor <= 1.2, big && `${big.vs_floor}× (${big.median_s} s against ${big.floor_s} s)`) },
    { target: "1,024 hosts: controller CPU per host ≤ 1.3× the floor's", result: scaleCell(big?.cpu_vs_floor <= 1.3, big && `${big.cpu_vs_floor}× (${big.cpu_ms_per_host} ms against ${big.floor_cpu_ms_per_host} ms per host)`) },
    { target: '1,024 hosts: memory < 0.5 MB per host', result: scaleCell(big?.mb_per_host < 0.5, big && `${big.mb_per_host} MB per host (peak ${big.peak_mb} MB; ${big.mb_per_added_host ?? '–'} MB per added host)`) },
  );
  return out;
}

export function markdown(doc) {
  const s = doc.settings;
  const lines = [];
  lines.push(`# fettle benchmark — ${doc.date}`, '');
  lines.push(`Machine: ${doc.machine.cpus} × ${doc.machine.cpu_model}, ${doc.machine.mem_gb} GB; load average ${doc.load.start.join(' / ')} at start, ${doc.load.end.join(' / ')} at the end; ${doc.duration_s} s in all. ${Object.entries(doc.versions).map(([k, v]) => `${k} ${v}`).join(', ')}.`, '');
  lines.push(`Median wall seconds of ${s.runs} counted runs after a warm-up, the tools of a case **interleaved** (run i of every tool before run i+1 of any; the runs column is marked * for a slow peer case, see notes). Peak MB: GNU time %M, the largest single process of the command. CPU s: user + sys of the command's tree (median). connections / execs / sftp: per host, from the sshd log of the last counted run. "× fettle": that tool's median / fettle's (fettle = the .mjs site). "× floor": fettle's median / the floor's in the same case (the cold floor in a cold case). Load: the 1-minute load average before → after the case.`, '');
  lines.push('| tool | case | hosts | median s | runs | peak MB | CPU s | conn/host | exec/host | sftp/host | × fettle | × floor | load |');
  lines.push('| --- | --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: |');
  const sorted = [...doc.cases].sort((a, b) => a.hosts - b.hosts || CASE_ORDER.indexOf(a.case) - CASE_ORDER.indexOf(b.case) || ORDER.indexOf(a.tool) - ORDER.indexOf(b.tool));
  for (const r of sorted) {
    const time = r.capped ? `> ${r.capped}` : r.median_s.toFixed(3);
    const gt = r.capped ? '> ' : '';
    const counts = r.capped ? ['–', '–', '–'] : [r.connections, r.execs, r.sftp];
    const failed = !r.capped && (r.error || r.exit_codes?.some((code) => code !== 0)) ? ` (failed: ${r.error ? 'targets wrong' : `exit ${r.exit_codes.join(',')}`})` : '';
    lines.push(`| ${r.tool}${failed} | ${r.case} | ${r.hosts} | ${time} | ${r.runs}${r.warmup ? '' : '*'} | ${r.capped ? '–' : r.peak_mb} | ${r.capped ? '–' : r.cpu_s} | ${counts.join(' | ')} | ${r.vs_fettle == null ? '' : gt + r.vs_fettle} | ${r.vs_floor ?? ''}${r.vs_floor_nofsync == null ? '' : ` (${r.vs_floor_nofsync} without fsync)`} | ${loadText(r.load)} |`);
  }
  if (doc.scale.length) {
    lines.push('', `## Scale: fettle verify paired with the floor (${s.scale_concurrency} hosts at a time, both)`, '');
    lines.push('Warm no-op `fettle verify -j N` and `floor.mjs -j N` on the same hosts, interleaved (a warm-up pair up to 128 hosts — above, the cold apply just made is the warm-up — then the counted pairs); medians. CPU: user + sys per host. MB/host: peak RSS over the host count; "per added host": the growth of the peak from the smallest size. The cold apply (one run from empty targets, before the pairs) is shown for reference.', '');
    lines.push('| hosts | fettle s | floor s | × floor | fettle CPU ms/host | floor CPU ms/host | CPU × floor | fettle MB/host | floor MB/host | fettle MB per added host | conn/host | exec/host | cold apply s | cold apply peak MB | load |');
    lines.push('| ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: |');
    for (const e of doc.scale) {
      if (e.error) {
        lines.push(`| ${e.hosts} | failed: ${e.error.replace(/\s+/g, ' ').replace(/\|/g, '/').slice(0, 200)} |${' |'.repeat(13)}`);
        continue;
      }
      const failed = e.exit_codes.some((c) => c !== 0) ? ` (failed: exit ${e.exit_codes.join(',')})` : '';
      lines.push(`| ${e.hosts}${failed} | ${e.median_s.toFixed(3)} | ${e.floor_s.toFixed(3)} | ${e.vs_floor} | ${e.cpu_ms_per_host} | ${e.floor_cpu_ms_per_host} | ${e.cpu_vs_floor} | ${e.mb_per_host} | ${e.floor_mb_per_host} | ${e.mb_per_added_host ?? ''} | ${e.connections} | ${e.execs} | ${e.cold_apply_s} | ${e.cold_apply_peak_mb} | ${loadText(e.load)} |`);
    }
  }
  const t = targets(doc);
  lines.push('', '## Targets (issue 16)', '', '| target | this run |', '| --- | --- |', ...t.map((x) => `| ${x.target} | ${x.result} |`));
  for (const e of doc.scale.filter((x) => x.cold_apply_failure)) lines.push('', `The cold apply on ${e.hosts} hosts failed at first (${e.cold_apply_failure.replace(/\|/g, '/')}); a second apply put the workload in place before the pairs.`);
  if (doc.limits) lines.push('', `Limits for the run: ${doc.limits}.`);
  if (doc.notes.length) lines.push('', '## Notes', '', ...doc.notes.map((n) => `- ${n}`));
  return `${lines.join('\n')}\n`;
}
