// What the two floors share: plain ssh2, the key and known_hosts read once per run, one
// connection and one command per host, hosts worked on `concurrency` at a time.
import { readFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { fileURLToPath } from 'node:url';

const require = createRequire(fileURLToPath(new URL('../../plugins/transport-ssh/package.json', import.meta.url)));
const { Client } = require('ssh2');

/** argv: [-j N] PORT KEY KNOWN_HOSTS TARGETS HOST... */
export function floorArgs(argv) {
  let concurrency = Infinity;
  if (argv[0] === '-j') {
    concurrency = Number(argv[1]);
    argv = argv.slice(2);
  }
  const [port, keyPath, knownHostsPath, targets, ...hosts] = argv;
  if (!hosts.length) throw new Error('usage: [-j N] PORT KEY KNOWN_HOSTS TARGETS HOST...');
  const privateKey = readFileSync(keyPath);
  const hostKey = Buffer.from(readFileSync(knownHostsPath, 'utf8').trim().split(/\s+/)[2], 'base64');
  return { port: Number(port), privateKey, hostKey, targets, hosts, concurrency };
}

/** One connection, one command (stdin: `input`, if any); resolves with the bytes received. */
export function runOne({ port, privateKey, hostKey }, command, input) {
  return new Promise((resolve, reject) => {
    const conn = new Client();
    conn
      .on('ready', () => {
        conn.exec(command, (err, stream) => {
          if (err) return reject(err);
          let bytes = 0;
          let stderr = '';
          stream.on('data', (chunk) => (bytes += chunk.length));
          stream.stderr.on('data', (chunk) => { bytes += chunk.length; stderr += chunk; });
          stream.on('exit', (code) => { if (code) reject(new Error(`exit ${code}: ${stderr.trim()}`)); });
          stream.on('close', () => {
            conn.end();
            resolve(bytes);
          });
          stream.end(input);
        });
      })
      .on('error', reject)
      .connect({ host: '127.0.0.1', port, username: 'root', privateKey, hostVerifier: (key) => Buffer.compare(key, hostKey) === 0 });
    conn.setNoDelay(true);
  });
}

/** Run `work(host)` for every host, `concurrency` at a time; prints bytes per host as JSON. */
export async function everyHost({ hosts, concurrency }, work) {
  const bytes = new Array(hosts.length);
  let next = 0;
  const lane = async () => {
    while (next < hosts.length) {
      const i = next++;
      bytes[i] = await work(hosts[i]);
    }
  };
  await Promise.all(Array.from({ length: Math.min(concurrency, hosts.length) }, lane));
  console.log(JSON.stringify(Object.fromEntries(hosts.map((h, i) => [h, bytes[i]]))));
}
