/**
 * Ask for a secret (a key passphrase, a sudo password) on the terminal without
 * echo. One function per run: transports cache answers keyed on it. Null when
 * there is no TTY to ask on, so a transport can fail clearly instead of hanging.
 * process.stdin is looked at only when a question is asked: node makes the stream on first
 * access (a ReadStream and node's fs stream code for a file or pipe, ~1 ms), and most runs never ask.
 */
export function createSecretPrompt(given?: NodeJS.ReadStream, givenOutput?: NodeJS.WriteStream): (question: string) => Promise<string | null> {
  let queue: Promise<unknown> = Promise.resolve();
  const ask = (question: string): Promise<string | null> => {
    const input = given ?? process.stdin;
    const output = givenOutput ?? process.stderr;
    if (!input.isTTY || typeof input.setRawMode !== 'function') return Promise.resolve(null);
    return new Promise((resolve) => {
      output.write(question);
      input.setRawMode(true);
      input.resume();
      let answer = '';
      const finish = (value: string | null): void => {
        input.removeListener('data', onData);
        input.setRawMode(false);
        input.pause();
        output.write('\n');
        resolve(value);
      };
      const onData = (chunk: Buffer): void => {
        for (const char of chunk.toString('utf8')) {
          if (char === '\r' || char === '\n') return finish(answer);
          if (char === '\u0003' || char === '\u0004') return finish(null); // Ctrl-C, Ctrl-D
          if (char === '\u007f' || char === '\b') answer = answer.slice(0, -1);
          else answer += char;
        }
      };
      input.on('data', onData);
    });
  };
  // One question at a time, even when hosts connect in parallel.
  return (question) => {
    const next = queue.then(() => ask(question));
    queue = next.catch(() => undefined);
    return next;
  };
}
