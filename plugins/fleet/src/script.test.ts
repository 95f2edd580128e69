import { spawnSync } from 'node:child_process';
import { describe, expect, it } from 'vitest';
import { buildScript, parseScriptOutput, sudoPolicyOf, type Privilege, type Section } from './script.js';

/** Run a built script through `sh -s`, as the transports do. */
function run(sections: Section[], privilege: Privilege = { uid: 0, policy: 'skip' }) {
  const built = buildScript(sections, privilege);
  const result = spawnSync('/bin/sh', ['-s'], { input: built.script, encoding: 'utf8' });
  return { built, sections: parseScriptOutput(result.stdout, result.stderr, built.nonce), status: result.status };
}

describe('batched section scripts', () => {
  it('frames each section: stdout, stderr and exit code apart', () => {
    const { sections, status } = run([
      { name: 'a', command: 'echo out-a; echo err-a >&2; exit_code() { return 3; }; exit_code' },
      { name: 'b', command: "printf 'no newline'" },
      { name: 'c', command: 'true' },
      { name: 'd', command: 'printf "x\\n\\n"' },
    ]);
    expect(status).toBe(0);
    expect(sections.get('a')).toEqual({ stdout: 'out-a', stderr: 'err-a', code: 3, skipped: false });
    expect(sections.get('b')).toMatchObject({ stdout: 'no newline', code: 0 });
    expect(sections.get('c')).toMatchObject({ stdout: '', stderr: '', code: 0 });
    expect(sections.get('d')?.stdout).toBe('x\n');
  });

  it('gives sections /dev/null as stdin, so none can eat the rest of the script', () => {
    const { sections } = run([
      { name: 'reader', command: 'cat' },
      { name: 'after', command: 'echo still-here' },
    ]);
    expect(sections.get('reader')?.stdout).toBe('');
    expect(sections.get('after')?.stdout).toBe('still-here');
  });

  it('ignores marker look-alikes from another script (the nonce differs)', () => {
    const other = buildScript([{ name: 'x', command: 'true' }], { uid: 0, policy: 'skip' }, 'deadbeef0000');
    const { sections } = run([{ name: 'echo', command: `echo '@@fleet-deadbeef0000 end echo 9'` }]);
    expect(other.nonce).toBe('deadbeef0000');
    expect(sections.get('echo')).toMatchObject({ stdout: '@@fleet-deadbeef0000 end echo 9', code: 0 });
  });

  it('skips root sections for a non-root login under sudo_policy skip', () => {
    const { built, sections } = run(
      [
        { name: 'plain', command: 'echo fine' },
        { name: 'needs-root', command: 'echo never', root: true },
      ],
      { uid: 1000, policy: 'skip' },
    );
    expect(built.skipped).toEqual(['needs-root']);
    expect(built.script).not.toContain('echo never');
    expect(sections.get('needs-root')).toEqual({ stdout: '', stderr: '', code: null, skipped: true });
    expect(sections.get('plain')?.stdout).toBe('fine');
  });

  it('wraps root sections in sudo -n under nopasswd, and runs them plainly as root', () => {
    const wrapped = buildScript([{ name: 'r', command: "echo 'it''s' root", root: true }], { uid: 1000, policy: 'nopasswd' });
    expect(wrapped.script).toContain('sudo -n env LC_ALL=C LANG=C sh -c ');
    const asRoot = buildScript([{ name: 'r', command: 'id -u', root: true }], { uid: 0, policy: 'skip' });
    expect(asRoot.script).not.toContain('sudo');
    // This machine runs tests as root, where sudo -n needs no password: the wrapped form really runs.
    const { sections } = run(
      [
        { name: 'r', command: 'id -u', root: true },
        { name: 'quoted', command: "echo 'it''s' \"$((1 + 1))\"", root: true },
      ],
      { uid: 1000, policy: 'nopasswd' },
    );
    expect(sections.get('r')).toMatchObject({ stdout: '0', code: 0 });
    expect(sections.get('quoted')).toMatchObject({ stdout: 'its 2', code: 0 });
  });

  it('keeps what arrived of a cut-off section, with no exit code', () => {
    const built = buildScript([{ name: 'long', command: 'echo partial; sleep 100' }], { uid: 0, policy: 'skip' });
    const stdout = `\n@@fleet-${built.nonce} begin long\npartial\n`;
    expect(parseScriptOutput(stdout, '', built.nonce).get('long')).toMatchObject({ stdout: 'partial\n', code: null });
  });

  it('reads sudo_policy from host vars', () => {
    expect(sudoPolicyOf({})).toBe('skip');
    expect(sudoPolicyOf({ sudo_policy: 'nopasswd' })).toBe('nopasswd');
    expect(() => sudoPolicyOf({ sudo_policy: 'always' })).toThrow(/sudo_policy must be 'skip' or 'nopasswd'/);
  });
});
