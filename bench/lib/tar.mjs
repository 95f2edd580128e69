// A minimal ustar writer for the cold floor: directories, regular files and symlinks, all
// owned by root:root, in memory (the workload is 100 small files per host).

const BLOCK = 512;

function field(buf, offset, length, text) {
  buf.write(text, offset, Math.min(length, Buffer.byteLength(text)), 'utf8');
}
const octal = (n, width) => `${n.toString(8).padStart(width - 1, '0')}\0`;

/** One 512-byte header. type: '0' file, '2' symlink, '5' directory. */
function header({ name, mode, size = 0, type, linkname = '', mtime }) {
  if (Buffer.byteLength(name) > 100 || Buffer.byteLength(linkname) > 100) throw new Error(`tar: name too long for ustar: ${name} ${linkname}`);
  const h = Buffer.alloc(BLOCK);
  field(h, 0, 100, name);
  field(h, 100, 8, octal(mode, 8));
  field(h, 108, 8, octal(0, 8)); // uid root
  field(h, 116, 8, octal(0, 8)); // gid root
  field(h, 124, 12, octal(size, 12));
  field(h, 136, 12, octal(mtime, 12));
  field(h, 148, 8, '        '); // checksum counted as spaces
  field(h, 156, 1, type);
  field(h, 157, 100, linkname);
  field(h, 257, 6, 'ustar\0');
  field(h, 263, 2, '00');
  field(h, 265, 32, 'root');
  field(h, 297, 32, 'root');
  let sum = 0;
  for (const byte of h) sum += byte;
  field(h, 148, 8, `${sum.toString(8).padStart(6, '0')}\0 `);
  return h;
}

/**
 * entries: { name, type: 'dir' | 'file' | 'symlink', mode?, content?, target? } → one tar
 * archive (Buffer), ending with the two zero blocks.
 */
export function tarball(entries) {
  const mtime = Math.floor(Date.now() / 1000);
  const parts = [];
  for (const e of entries) {
    if (e.type === 'dir') parts.push(header({ name: e.name, mode: e.mode, type: '5', mtime }));
    else if (e.type === 'symlink') parts.push(header({ name: e.name, mode: 0o777, type: '2', linkname: e.target, mtime }));
    else {
      const data = Buffer.from(e.content);
      parts.push(header({ name: e.name, mode: e.mode, size: data.length, type: '0', mtime }), data);
      const pad = (BLOCK - (data.length % BLOCK)) % BLOCK;
      if (pad) parts.push(Buffer.alloc(pad));
    }
  }
  parts.push(Buffer.alloc(2 * BLOCK));
  return Buffer.concat(parts);
}
