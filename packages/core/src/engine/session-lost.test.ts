import { describe, expect, it } from 'vitest';
import { sh } from '../protocols/shell.js';
import { UnreachableError, isUnreachableError, type ExecResult, type Transport } from '../protocols/transport.js';
import { HostSession } from './session.js';

/** A host whose server kills the batch's session: the command "dies of a signal", then the connection is gone. */
function killedHost(): { transport: Transport; commands: string[] } {
  const commands: string[] = [];
  const transport: Transport = {
    root: '/',
    exec(command): Promise<ExecResult> {
      commands.push(command);
      // The probe finds the connection gone; anything else dies of a signal.
      if (command === 'true') return Promise.reject(new UnreachableError('lost', 'connection lost: the server closed it'));
      return Promise.resolve({ code: null, signal: 'SIGKILL', stdout: Buffer.alloc(0), stderr: Buffer.alloc(0) });
    },
    readFile: () => Promise.resolve(null),
    writeFile: () => Promise.resolve(),
    stat: () => Promise.resolve(null),
    close: () => Promise.resolve(),
  };
  return { transport, commands };
}

describe('a batch cut short by a signal', () => {
  it('asks the connection once: its ops and the session say unreachable, not "failed"', async () => {
    const { transport, commands } = killedHost();
    const session = new HostSession({ name: 'h', vars: {} } as never, transport, '/site');
    const results = await Promise.allSettled([session.context.run(sh`echo one`), session.context.run(sh`echo two`)]);
    expect(commands).toEqual(['sh -s', 'true']);
    for (const result of results) {
      expect(result.status).toBe('rejected');
      expect(isUnreachableError((result as PromiseRejectedResult).reason)).toBe(true);
    }
    expect(session.lost?.error.message).toMatch(/connection lost/);
  });
});

describe('a lone command cut short by a signal', () => {
  it('asks the connection the same way: the command says unreachable, the session is lost', async () => {
    const { transport, commands } = killedHost();
    const session = new HostSession({ name: 'h', vars: {} } as never, transport, '/site');
    await expect(session.context.run(sh`echo alone`)).rejects.toSatisfy(isUnreachableError);
    expect(commands).toEqual(['echo alone', 'true']);
    expect(session.lost?.error.message).toMatch(/connection lost/);
  });
});
