import { arg, defineFact, joinShell, sh } from '@fettle/core';

/**
 * Exit codes of any number of guard commands (an action's `unless`) in one remote
 * command. Each guard runs in its own `sh -c`, so a syntax error in one cannot break
 * the others; its output is discarded, only the exit code counts.
 */
export const commandStatus = defineFact<string, number>({
  name: 'action.status',
  key: (command) => command,
  command(commands) {
    return joinShell([...commands.map((command) => sh`sh -c ${arg(command)} </dev/null >/dev/null 2>&1; echo "R $?"`), sh`exit 0`], '\n');
  },
  parse(stdout, commands) {
    const codes = stdout
      .split('\n')
      .filter((line) => line.startsWith('R '))
      .map((line) => Number(line.slice(2)));
    if (codes.length !== commands.length || codes.some((code) => !Number.isInteger(code))) {
      throw new Error(`action.status: expected ${commands.length} exit codes, got ${JSON.stringify(stdout.slice(0, 200))}`);
    }
    return codes;
  },
});
