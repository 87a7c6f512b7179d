import type { Readable } from 'node:stream';

/** Every byte of a stream (Transport.readFile over a transport's openRead: small files only). */
export async function readAll(stream: Readable): Promise<Buffer> {
  const chunks: Buffer[] = [];
  for await (const chunk of stream) chunks.push(chunk as Buffer);
  return Buffer.concat(chunks);
}
