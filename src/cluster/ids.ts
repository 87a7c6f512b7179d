/**
 * etcd's IDs are uint64. The gRPC client hands them over as decimal strings;
 * operators know them in hex, as etcdctl prints them (`%x`, no padding).
 */
export function toHexId(decimal: string | number | bigint | undefined): string | undefined {
  if (decimal === undefined || decimal === '') return undefined;
  const value = BigInt(decimal);
  return value === 0n ? undefined : value.toString(16);
}

/** The decimal form the API wants, from a hex ID as typed by an operator. */
export function fromHexId(hex: string): string {
  if (!/^[0-9a-fA-F]{1,16}$/.test(hex)) throw new Error(`"${hex}" is not a member ID (1–16 hex digits, as etcdctl member list prints)`);
  return BigInt(`0x${hex}`).toString(10);
}
