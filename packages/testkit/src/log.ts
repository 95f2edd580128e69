/**
 * Counters derived from an sshd log written at `LogLevel VERBOSE`
 * (OpenSSH 9.2 line formats; see the README for the exact strings).
 */
export interface SshdCounts {
  /** Successful logins: `Accepted publickey for …`. */
  connections: number;
  /** Exec requests: `Starting session: command for …`. */
  execs: number;
  /** SFTP sessions: `Starting session: subsystem 'sftp' for …` (one line per session). */
  sftp: number;
  /** Interactive shells: `Starting session: shell for …`. */
  shells: number;
  /**
   * Client connections (address + source port) that failed authentication and
   * never logged `Accepted publickey`. A client that offers a wrong key first and a
   * good one second is therefore not counted, and one rejected connection counts
   * once even though sshd logs both `Failed publickey` and `Connection closed by
   * authenticating user` for it.
   */
  failedAuth: number;
}

/** Position in the sshd log (its byte length when taken); see `SshdKit.mark()`. */
export interface SshdMark {
  readonly offset: number;
}

// "<addr> port <n>" is the first address in every per-connection line, e.g.
// "Accepted publickey for root from 127.0.0.1 port 58296 ssh2: …" or
// "Connection closed by authenticating user root 127.0.0.1 port 58342 [preauth]".
const CLIENT_RE = /(\S+) port (\d+)/;

const FAILURE_MARKERS = [
  'Failed publickey for ',
  'Connection closed by authenticating user ',
  'Disconnected from authenticating user ',
  'Connection closed by invalid user ',
  'Disconnected from invalid user ',
  'Invalid user ',
  'maximum authentication attempts exceeded',
] as const;

/** Parses sshd VERBOSE log text into {@link SshdCounts}. Pure; exported for reuse. */
export function parseSshdLog(text: string): SshdCounts {
  const counts: SshdCounts = { connections: 0, execs: 0, sftp: 0, shells: 0, failedAuth: 0 };
  const failed = new Set<string>();
  const accepted = new Set<string>();
  for (const line of text.split('\n')) {
    const client = CLIENT_RE.exec(line);
    const key = client ? `${client[1] ?? ''}:${client[2] ?? ''}` : undefined;
    if (line.includes('Accepted publickey for ')) {
      counts.connections++;
      if (key) accepted.add(key);
    } else if (line.includes('Starting session: command ')) {
      counts.execs++;
    } else if (line.includes("Starting session: subsystem 'sftp' ")) {
      counts.sftp++;
    } else if (line.includes('Starting session: shell ')) {
      counts.shells++;
    } else if (key && FAILURE_MARKERS.some((m) => line.includes(m))) {
      failed.add(key);
    }
  }
  for (const key of failed) if (!accepted.has(key)) counts.failedAuth++;
  return counts;
}
