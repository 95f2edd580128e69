#!/usr/bin/env node
// The cold floor: the least any tool must do to put the workload onto empty hosts. One Node
// process with plain ssh2: one connection per host (all hosts at once, or -j N at a time)
// and one command per host that receives the workload as a tar stream on stdin (the folder
// `d` 0755, its 100 files 0644 and the symlink, all root:root), extracts it into a temp
// folder beside the target, fsyncs the files and the folder (fettle's atomic writes
// promise that much, so the floor pays it too; --no-fsync leaves it out), renames the folder
// into place, and asks dpkg for the three packages (already installed, so nothing is
// installed; an apply still has to know that). Prints the bytes received per host.
// usage: node bench/cold-floor.mjs [--no-fsync] [-j N] PORT KEY KNOWN_HOSTS TARGETS HOST...
import { everyHost, floorArgs, runOne } from './lib/plain-ssh.mjs';
import { tarball } from './lib/tar.mjs';
import { workloadEntries } from './lib/workload.mjs';

const argv = process.argv.slice(2);
const fsync = argv[0] !== '--no-fsync';
const args = floorArgs(fsync ? argv : argv.slice(1));

await everyHost(args, (host) =>
  runOne(
    args,
    `set -e; cd ${args.targets}/${host}; t=$(mktemp -d .d.XXXXXX); trap 'rm -rf "$t"' EXIT; ` +
      `tar -x -f - -C "$t"; ${fsync ? 'sync -- "$t"/file*.txt "$t"; ' : ''}mv -T "$t" d; ` +
      `dpkg-query -W -f '\${Package} \${db:Status-Abbrev} \${Version}\\n' coreutils bash openssh-server`,
    tarball(workloadEntries(args.targets, host)),
  ),
);
