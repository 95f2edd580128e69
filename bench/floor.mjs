#!/usr/bin/env node
// The floor: the least any tool must do to verify the workload on these hosts. One Node
// process with plain ssh2: one connection per host (all hosts at once, or -j N at a time),
// and one command per host that reads every piece of state the workload depends on (stat
// of the directory, the files and the link; sha256 of the files; dpkg status of the
// packages). It compares nothing and prints the number of bytes read per host.
// usage: node bench/floor.mjs [-j N] PORT KEY KNOWN_HOSTS TARGETS HOST...
import { everyHost, floorArgs, runOne } from './lib/plain-ssh.mjs';

const args = floorArgs(process.argv.slice(2));

await everyHost(args, (host) =>
  runOne(
    args,
    `cd ${args.targets}/${host}/d && stat -c '%n %F %a %U %G %s %N' . file*.txt first.txt && sha256sum file*.txt; ` +
      `dpkg-query -W -f '\${Package} \${db:Status-Abbrev} \${Version}\\n' coreutils bash openssh-server`,
  ),
);
