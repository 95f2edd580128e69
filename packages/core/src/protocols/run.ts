/** What a run does: show the diff (plan), check it (verify), or make it so (apply). */
export type RunMode = 'plan' | 'verify' | 'apply';
