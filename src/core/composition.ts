/**
 * A device's composition: which source, verifier, extractor chain and authenticators serve it.
 * Resolved from the config by exact id first, then by the most specific matching pattern
 * (`esp32-*`), then the defaults.
 */
import type { AuthenticatorPlugin, DeviceRef, ExtractorPlugin, SourcePlugin, VerifierPlugin } from '../plugin.ts';
import type { ExtractSpec } from './extract-chain.ts';

export interface Composition {
  source: SourcePlugin;
  verifier: VerifierPlugin;
  extract: ExtractSpec;
  /** `'none'` means anyone may fetch this device's firmware. */
  auth: 'none' | readonly AuthenticatorPlugin[];
  allowPrerelease: boolean;
  options: Readonly<Record<string, unknown>>;
  /** The config key that matched (`esp32-*`, `defaults`), shown by `inspect` and the status API. */
  matchedBy: string;
}

export interface CompositionRule extends Composition {
  pattern: string;
}

export class Composer {
  private readonly exact = new Map<string, CompositionRule>();
  private readonly patterns: { re: RegExp; rule: CompositionRule }[] = [];

  constructor(rules: readonly CompositionRule[], private readonly fallback?: Composition) {
    for (const rule of rules) {
      if (rule.pattern.includes('*')) this.patterns.push({ re: globToRegExp(rule.pattern), rule });
      else this.exact.set(rule.pattern, rule);
    }
    // Most specific first: more literal characters wins.
    this.patterns.sort((a, b) => b.rule.pattern.replaceAll('*', '').length - a.rule.pattern.replaceAll('*', '').length);
  }

  /** The composition serving a device, or undefined when the config does not serve it. */
  for(deviceId: string): Composition | undefined {
    return this.exact.get(deviceId) ?? this.patterns.find((p) => p.re.test(deviceId))?.rule ?? this.fallback;
  }

  /** Every composition, for start-up checks and plugin lifecycles. */
  all(): Composition[] {
    return [...this.exact.values(), ...this.patterns.map((p) => p.rule), ...(this.fallback ? [this.fallback] : [])];
  }

  /** Device ids named exactly in the config (for prefetch and the status API). */
  namedDevices(): string[] {
    return [...this.exact.keys()];
  }
}

export function deviceRef(id: string, c: Composition): DeviceRef {
  return { id, allowPrerelease: c.allowPrerelease, options: c.options };
}

/** `*` matches any run of characters, including `/`. */
export function globToRegExp(glob: string): RegExp {
  const body = glob.split('*').map((s) => s.replace(/[.+?^${}()|[\]\\]/g, '\\$&')).join('.*');
  return new RegExp(`^${body}$`);
}

export type { ExtractorPlugin };
