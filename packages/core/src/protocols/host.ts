/** A machine fettle manages, as the HostStore describes it. */
export interface Host {
  /** Unique name, used by selectors and reports. */
  readonly name: string;
  /** Network address (for transports that need one). Defaults to the name. */
  readonly address?: string | undefined;
  readonly port?: number | undefined;
  readonly user?: string | undefined;
  /** Name of the transport plugin that reaches this host, e.g. `ssh` or `local`. */
  readonly transport: string;
  /** Options for that transport, validated by its schema when it connects. */
  readonly transportOptions: Readonly<Record<string, unknown>>;
  /** Groups this host belongs to. */
  readonly groups: readonly string[];
  /** progfiguration's "function" of the node (e.g. `webserver`), if any. */
  readonly function?: string | undefined;
  /** Role names applied to this host, in order. */
  readonly roles: readonly string[];
  /** Host variables after merging (group vars, then node vars). */
  readonly vars: Readonly<Record<string, unknown>>;
  /** A readonly host is never changed: apply treats it like verify and says so. */
  readonly readonly: boolean;
}

/** One value of a host var and where it was set (a file, a group). */
export interface VarOrigin {
  readonly value: unknown;
  readonly source: string;
}

/** A host var as `fettle hosts HOST --vars` shows it: the value that won and those it replaced. */
export interface ExplainedVar extends VarOrigin {
  readonly name: string;
  /** Earlier values of the same var, first-merged first. */
  readonly overridden: readonly VarOrigin[];
}

/** The protocol that lists hosts, groups, functions and roles. */
export interface HostStore {
  /** A short description, e.g. `inventory.conf at /srv/site/inventory.conf`. */
  readonly describe: string;
  listHosts(): Promise<readonly Host[]>;
  /** Group name → member host names. */
  listGroups(): Promise<Readonly<Record<string, readonly string[]>>>;
  /** Each var of a host with where it came from (optional). */
  explainVars?(host: string): readonly ExplainedVar[] | Promise<readonly ExplainedVar[]>;
}
