/**
 * grpc-js sets the TLS server name to the endpoint's host even when it is an
 * IP address, and Node warns about that on every run (DEP0123). The check the
 * warning is about still happens (the cert's IP SANs are verified); the
 * warning would only bury the output an operator reads.
 */
export function quietIpServerNameWarning(): void {
  const original = process.emitWarning.bind(process);
  process.emitWarning = ((warning: string | Error, ...rest: unknown[]) => {
    const code = typeof rest[0] === 'object' && rest[0] !== null ? (rest[0] as { code?: string }).code : rest[1];
    if (code === 'DEP0123') return;
    (original as (...args: unknown[]) => void)(warning, ...rest);
  }) as typeof process.emitWarning;
}
