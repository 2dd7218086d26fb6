/**
 * Which manifest of an image index, and which layer of a manifest, holds the firmware.
 *
 * Index entries: the first whose platform matches `platform` (`os/architecture[/variant]`, each
 * part compared when given) and whose annotations include every `annotations` pair; without a
 * selector, the only entry (attestation entries aside). Layers: the one whose title annotation and/or
 * media type match; without a selector, the only layer. Otherwise the error lists what there is.
 */
import { RegistryError } from './errors.ts';
import type { Descriptor, Platform } from './manifest.ts';

export const TITLE = 'org.opencontainers.image.title';

export interface LayerSelector {
  title?: string;
  mediaType?: string;
}

export interface EntrySelector {
  /** `os/architecture[/variant]` or an object with those fields. */
  platform?: string | Partial<Platform>;
  annotations?: Record<string, string>;
}

export function parsePlatform(p: string | Partial<Platform>): Partial<Platform> {
  if (typeof p !== 'string') return p;
  const [os, architecture, variant] = p.split('/');
  return { ...(os ? { os } : {}), ...(architecture ? { architecture } : {}), ...(variant ? { variant } : {}) };
}

function describeLayer(d: Descriptor): string {
  const title = d.annotations?.[TITLE];
  return `${title ? `'${title}' ` : ''}${d.mediaType} (${d.size} bytes)`;
}

function describeEntry(d: Descriptor): string {
  const p = d.platform ? [d.platform.os, d.platform.architecture, d.platform.variant].filter(Boolean).join('/') : 'no platform';
  const a = d.annotations ? Object.entries(d.annotations).map(([k, v]) => `${k}=${v}`).join(' ') : '';
  return `${d.digest.slice(0, 19)}… ${p}${a ? ` ${a}` : ''}`;
}

export function selectLayer(layers: readonly Descriptor[], sel: LayerSelector, where: string): Descriptor {
  const all = layers.map(describeLayer).join(', ') || 'none';
  if (sel.title === undefined && sel.mediaType === undefined) {
    if (layers.length === 1 && layers[0]) return layers[0];
    throw new RegistryError('no-match', `${where} has ${layers.length} layers (${all}): choose one with layer.title or layer.mediaType`);
  }
  const matches = layers.filter((l) => (sel.title === undefined || l.annotations?.[TITLE] === sel.title) && (sel.mediaType === undefined || l.mediaType === sel.mediaType));
  const want = [sel.title !== undefined ? `title '${sel.title}'` : '', sel.mediaType !== undefined ? `media type ${sel.mediaType}` : ''].filter(Boolean).join(' and ');
  if (matches.length === 1 && matches[0]) return matches[0];
  if (matches.length === 0) throw new RegistryError('no-match', `${where} has no layer with ${want}; its layers: ${all}`);
  throw new RegistryError('no-match', `${where} has ${matches.length} layers with ${want}: ${matches.map(describeLayer).join(', ')}`);
}

function isAttestation(d: Descriptor): boolean {
  return d.annotations?.['vnd.docker.reference.type'] === 'attestation-manifest' || (d.platform?.os === 'unknown' && d.platform?.architecture === 'unknown');
}

export function selectEntry(entries: readonly Descriptor[], sel: EntrySelector, where: string): Descriptor {
  const candidates = entries.filter((d) => !isAttestation(d));
  const all = candidates.map(describeEntry).join(', ') || 'none';
  if (sel.platform === undefined && sel.annotations === undefined) {
    if (candidates.length === 1 && candidates[0]) return candidates[0];
    throw new RegistryError('no-match', `${where} is an index of ${candidates.length} manifests (${all}): choose one with platform or annotations`);
  }
  const p = sel.platform !== undefined ? parsePlatform(sel.platform) : undefined;
  const match = candidates.find((d) => {
    if (p) {
      if (!d.platform) return false;
      if (p.os !== undefined && d.platform.os !== p.os) return false;
      if (p.architecture !== undefined && d.platform.architecture !== p.architecture) return false;
      if (p.variant !== undefined && d.platform.variant !== p.variant) return false;
    }
    return Object.entries(sel.annotations ?? {}).every(([k, v]) => d.annotations?.[k] === v);
  });
  if (!match) throw new RegistryError('no-match', `${where}: no index entry matches ${JSON.stringify({ ...(p ? { platform: p } : {}), ...(sel.annotations ? { annotations: sel.annotations } : {}) })}; entries: ${all}`);
  return match;
}
