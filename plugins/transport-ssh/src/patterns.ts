/** `*` is any run of characters, `?` exactly one; nothing else is special (OpenSSH's match_pattern). */
export function wildcardMatch(pattern: string, value: string): boolean {
  const source = pattern.replace(/[.+^${}()|[\]\\]/g, '\\$&').replace(/\*/g, '[\\s\\S]*').replace(/\?/g, '[\\s\\S]');
  return new RegExp(`^${source}$`).test(value);
}

/** OpenSSH's match_pattern_list: a comma list where a matching `!pattern` vetoes, else any match wins. */
export function patternList(list: string, value: string, lowerPatterns: boolean): boolean {
  let matched = false;
  for (const raw of list.split(',')) {
    const pattern = lowerPatterns ? raw.toLowerCase() : raw;
    const negated = pattern.startsWith('!');
    if (!wildcardMatch(negated ? pattern.slice(1) : pattern, value)) continue;
    if (negated) return false;
    matched = true;
  }
  return matched;
}
