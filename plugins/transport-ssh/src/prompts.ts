import type { ConnectContext } from '@fettle/core';

type PromptFn = NonNullable<ConnectContext['prompt']>;

/**
 * Answers per run. The engine hands every host of one run the same `prompt`
 * function, so keying on it means "ask once per run" even when 32 hosts connect at
 * once (they share the pending question), and the answers die with the run. They
 * live only here, in memory, and are never part of a message.
 */
const answers = new WeakMap<PromptFn, Map<string, Promise<string | null>>>();

export function askOnce(context: ConnectContext, key: string, question: string): Promise<string | null> {
  const prompt = context.prompt;
  if (!prompt) return Promise.resolve(null);
  let perRun = answers.get(prompt);
  if (!perRun) {
    perRun = new Map();
    answers.set(prompt, perRun);
  }
  let answer = perRun.get(key);
  if (!answer) {
    answer = prompt(question).then(
      (value) => (value === '' ? null : value),
      () => null,
    );
    perRun.set(key, answer);
  }
  return answer;
}
