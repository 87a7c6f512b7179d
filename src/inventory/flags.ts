/** A value and the flag or variable it came from, so errors can name it. */
export interface Setting<T> {
  value: T;
  /** `--cacert` or `ETCDCTL_CACERT` */
  from: string;
}

/** The etcdctl-style options, as typed on the command line. */
export interface ConnectionFlags {
  endpoints?: string | undefined;
  cacert?: string | undefined;
  cert?: string | undefined;
  key?: string | undefined;
}

export interface FlagConfig {
  endpoints?: Setting<string[]>;
  cacert?: Setting<string>;
  cert?: Setting<string>;
  key?: Setting<string>;
}

export type Environment = Readonly<Record<string, string | undefined>>;

/**
 * Reads `--endpoints/--cacert/--cert/--key` and their ETCDCTL_* variables,
 * the flag winning (as in etcdctl). Pure: the caller passes process.env.
 * An empty value counts as not given, so `ETCDCTL_CACERT=` unsets nothing.
 */
export function configFromFlags(flags: ConnectionFlags, env: Environment): FlagConfig {
  const config: FlagConfig = {};
  const endpoints = pick('--endpoints', flags.endpoints, 'ETCDCTL_ENDPOINTS', env);
  if (endpoints) config.endpoints = { value: splitEndpoints(endpoints.value), from: endpoints.from };
  const cacert = pick('--cacert', flags.cacert, 'ETCDCTL_CACERT', env);
  if (cacert) config.cacert = cacert;
  const cert = pick('--cert', flags.cert, 'ETCDCTL_CERT', env);
  if (cert) config.cert = cert;
  const key = pick('--key', flags.key, 'ETCDCTL_KEY', env);
  if (key) config.key = key;
  return config;
}

function pick(flag: string, flagValue: string | undefined, variable: string, env: Environment): Setting<string> | undefined {
  const fromFlag = flagValue?.trim();
  if (fromFlag) return { value: fromFlag, from: flag };
  const fromEnv = env[variable]?.trim();
  if (fromEnv) return { value: fromEnv, from: variable };
  return undefined;
}

/** etcdctl separates endpoints with commas; stray spaces are forgiven. */
export function splitEndpoints(text: string): string[] {
  return text
    .split(',')
    .map((endpoint) => endpoint.trim())
    .filter((endpoint) => endpoint !== '');
}
