import { caFacts, judgeCa } from '../kinds/renew-certificates.js';
import { type GuardDefinition, define, p, str } from './common.js';

/** Guards on the PKI a runbook renews certificates from. */
export const CERTIFICATE_GUARDS = {
  'ca-present': define({
    name: 'ca-present',
    description: 'the CA certificate and key that sign the renewed certificates are on the master',
    params: [p('node', 'the master holding the CA'), p('cert', 'the CA certificate there'), p('key', 'the CA key there')],
    gather: async (params, env) => caFacts(env.transport(str(params, 'node')), { cert: str(params, 'cert'), key: str(params, 'key') }),
    judge: (facts) => judgeCa(facts),
  }),
} satisfies Record<string, GuardDefinition>;
