import { OperatorError } from '../util/errors.js';
import { isHttpUrl, URL_REQUIREMENT } from './schema.js';

/** One member as `--initial-cluster` lists it: a name and its peer URLs. */
export interface InitialClusterMember {
  name: string;
  peerURLs: string[];
}

/**
 * Parses `name=url,name=url2,...` as etcd does (types.NewURLsMap): entries are
 * split on commas, each at its first "=", and a name listed twice collects
 * several peer URLs. Members keep the order they first appear in, because
 * that order is what operators compare against `member list`.
 *
 * `source` names where the string came from (`--initial-cluster`,
 * `/etc/etcd/etcd.conf: ETCD_INITIAL_CLUSTER`) so errors point at it.
 */
export function parseInitialCluster(
  text: string,
  source = '--initial-cluster',
): InitialClusterMember[] {
  const members = new Map<string, InitialClusterMember>();
  for (const rawEntry of text.split(',')) {
    const entry = rawEntry.trim();
    // etcd skips empty entries, so a trailing comma is harmless there too
    if (entry === '') continue;
    const { name, peerURL } = parseEntry(entry, source);
    const member = members.get(name);
    if (member) member.peerURLs.push(peerURL);
    else members.set(name, { name, peerURLs: [peerURL] });
  }
  if (members.size === 0) {
    throw new OperatorError(`${source}: is empty: expected name=https://host:2380,...`);
  }
  return [...members.values()];
}

function parseEntry(entry: string, source: string): { name: string; peerURL: string } {
  const equals = entry.indexOf('=');
  if (equals < 0) {
    throw new OperatorError(`${source}: entry "${entry}" has no "=": expected name=https://host:2380`);
  }
  const name = entry.slice(0, equals).trim();
  const peerURL = entry.slice(equals + 1).trim();
  if (name === '') {
    throw new OperatorError(`${source}: entry "${entry}" has no member name before "="`);
  }
  if (!isHttpUrl(peerURL)) {
    throw new OperatorError(`${source}: entry "${entry}": peer URL ${URL_REQUIREMENT.replace('2379', '2380')}`);
  }
  return { name, peerURL };
}

/**
 * The `--initial-cluster` value for these members, one `name=url` per peer
 * URL. A name containing "," or "=" cannot be written in this syntax (etcd
 * would split it), so it is refused rather than silently mangled.
 */
export function formatInitialCluster(members: ReadonlyArray<InitialClusterMember>): string {
  return members
    .flatMap((member) => {
      if (/[,=]/.test(member.name)) {
        throw new OperatorError(
          `member name "${member.name}" contains "," or "=": it cannot appear in --initial-cluster`,
        );
      }
      return member.peerURLs.map((peerURL) => `${member.name}=${peerURL}`);
    })
    .join(',');
}
