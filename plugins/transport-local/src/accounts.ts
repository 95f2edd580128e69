import { readFile } from 'node:fs/promises';

/** Map user and group names to ids from the controller's account files. */
export async function resolveIds(owner: string | undefined, group: string | undefined): Promise<{ uid: number; gid: number }> {
  const lookup = async (file: string, name: string | undefined, kind: string): Promise<number> => {
    if (name === undefined) return -1; // -1 leaves the id unchanged in chown(2)
    if (/^\d+$/.test(name)) return Number(name);
    const text = await readFile(file, 'utf8');
    for (const line of text.split('\n')) {
      const fields = line.split(':');
      if (fields[0] === name && fields[2] !== undefined) return Number(fields[2]);
    }
    throw new Error(`unknown ${kind} '${name}' (not in ${file})`);
  };
  return { uid: await lookup('/etc/passwd', owner, 'user'), gid: await lookup('/etc/group', group, 'group') };
}
