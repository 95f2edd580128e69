import type { CommanderError } from 'commander';

/** A command-line error as scripts read it under --json (without loading @fettle/core). */
export function argumentErrorDocument(error: CommanderError): { error: { code: string; message: string; where: string; expected: null; hint: string } } {
  return { error: { code: 'E_ARGUMENT', message: error.message.replace(/^error: /, ''), where: 'command line', expected: null, hint: 'see fettle --help' } };
}
