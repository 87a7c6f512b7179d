/**
 * OpenSSH's host pattern matching, shared by known_hosts and ssh_config:
 * `*` and `?` wildcards, `!pattern` negation (a negated match vetoes the
 * whole list), case-insensitive.
 */
export function matchesPatternList(host: string, patterns: readonly string[]): boolean {
  let matched = false;
  for (const raw of patterns) {
    const negated = raw.startsWith('!');
    const pattern = negated ? raw.slice(1) : raw;
    if (!wildcardMatch(host.toLowerCase(), pattern.toLowerCase())) continue;
    if (negated) return false;
    matched = true;
  }
  return matched;
}

export function wildcardMatch(text: string, pattern: string): boolean {
  const source = pattern.replace(/[.+^${}()|[\]\\]/g, '\\$&').replace(/\*/g, '.*').replace(/\?/g, '.');
  return new RegExp(`^${source}$`).test(text);
}

/** How known_hosts names a host: `host` on port 22, `[host]:port` otherwise. */
export function knownHostsName(host: string, port: number): string {
  return port === 22 ? host : `[${host}]:${port}`;
}
