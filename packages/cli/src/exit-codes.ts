/** Exit codes scripts can trust; listed in `fettle --help`. */
export const EXIT = {
  ok: 0,
  /** An item failed, or (verify) is not in its desired state. */
  failed: 1,
  /** A host was unreachable. */
  unreachable: 2,
  /** Bad input: site, inventory, arguments, a selector naming no host. */
  input: 3,
  interrupted: 130,
} as const;

export const EXIT_HELP = `
Exit codes:
  0    all good
  1    an item failed, or (verify) an item is not in its desired state
  2    a host was unreachable
  3    bad input: site, inventory, arguments, or a selector naming no host
  130  interrupted (Ctrl-C)`;
