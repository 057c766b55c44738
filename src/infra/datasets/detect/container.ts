/** What the upload's bytes are, before any entry is read. */
export type Container =
  { kind: 'tar'; gzip: boolean } | { kind: 'zip' } | { kind: 'csv'; gzip: boolean };

/** `a gzip-compressed tar archive`, `CSV text`...: for messages. */
export function describeContainer(c: Container): string {
  const gz = 'gzip' in c && c.gzip ? 'gzip-compressed ' : '';
  if (c.kind === 'csv') return `${gz}CSV text`;
  return `a ${gz}${c.kind} archive`;
}
