/**
 * DDI action ids: a number derived from (stream, release SHA-256), so every replica names the same
 * deployment alike without storing anything. 31 bits: SWUpdate keeps the id in a C `int`.
 */
import { createHash } from 'node:crypto';

export function actionId(stream: string, sha256: string): number {
  const n = createHash('sha256').update(`${stream}:${sha256}`).digest().readUInt32BE(0) & 0x7fffffff;
  return n === 0 ? 1 : n;
}
