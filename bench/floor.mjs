#!/usr/bin/env node
// The floor: the least any tool must do to verify the workload on these hosts. One Node
// process with plain ssh2: one connection per host, all hosts at once, and one command per
// host that reads every piece of state the workload depends on (stat of the directory,
// the files and the link; sha256 of the files; dpkg status of the packages). It compares
// nothing and prints the number of bytes read per host.
// usage: node bench/floor.mjs PORT KEY KNOWN_HOSTS TARGETS HOST...
import { readFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { fileURLToPath } from 'node:url';

const require = createRequire(fileURLToPath(new URL('../plugins/transport-ssh/package.json', import.meta.url)));
const { Client } = require('ssh2');

const [port, keyPath, knownHostsPath, targets, ...hosts] = process.argv.slice(2);
const privateKey = readFileSync(keyPath);
const hostKey = Buffer.from(readFileSync(knownHostsPath, 'utf8').trim().split(/\s+/)[2], 'base64');

function check(host) {
  const d = `${targets}/${host}/d`;
  const command =
    `cd ${d} && stat -c '%n %F %a %U %G %s %N' . file*.txt first.txt && sha256sum file*.txt; ` +
    `dpkg-query -W -f '\${Package} \${db:Status-Abbrev} \${Version}\\n' coreutils bash openssh-server`;
  return new Promise((resolve, reject) => {
    const conn = new Client();
    conn
      .on('ready', () => {
        conn.exec(command, (err, stream) => {
          if (err) return reject(err);
          let bytes = 0;
          stream.on('data', (chunk) => (bytes += chunk.length));
          stream.stderr.on('data', (chunk) => (bytes += chunk.length));
          stream.on('close', () => {
            conn.end();
            resolve(bytes);
          });
        });
      })
      .on('error', reject)
      .connect({
        host: '127.0.0.1',
        port: Number(port),
        username: 'root',
        privateKey,
        hostVerifier: (key) => Buffer.compare(key, hostKey) === 0,
      });
    conn.setNoDelay(true);
  });
}

const bytes = await Promise.all(hosts.map(check));
console.log(JSON.stringify(Object.fromEntries(hosts.map((h, i) => [h, bytes[i]]))));
