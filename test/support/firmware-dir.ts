/** Builds a firmware folder (`<root>/<device>/<version>.bin`) of random images for a test. */
import { mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { randomBytes } from 'node:crypto';
import { tempDir } from './tmp.ts';

export function firmwareDir(images: Record<string, Record<string, number | Uint8Array>>): { root: string; bytes: (device: string, file: string) => Uint8Array } {
  const root = tempDir('otaflux-fw-');
  const written = new Map<string, Uint8Array>();
  for (const [device, files] of Object.entries(images)) {
    mkdirSync(join(root, device), { recursive: true });
    for (const [file, content] of Object.entries(files)) {
      const bytes = typeof content === 'number' ? randomBytes(content) : content;
      writeFileSync(join(root, device, file), bytes);
      written.set(`${device}/${file}`, bytes);
    }
  }
  return { root, bytes: (device, file) => written.get(`${device}/${file}`) as Uint8Array };
}
