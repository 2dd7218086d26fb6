/** `otaflux --help`: commands, then flags by group with their env vars and defaults. */
import { FLAGS, envName } from './flags.ts';

export interface CommandSpec {
  name: string;
  usage: string;
  help: string;
}

export function helpText(version: string, commands: readonly CommandSpec[]): string {
  const lines = [
    `OtaFlux ${version}: serves the newest verified firmware to IoT devices, from an OCI registry or a folder.`,
    '',
    'Usage:',
    ...commands.map((c) => `  otaflux ${c.usage.padEnd(30)} ${c.help}`),
    '',
    'Quick start:',
    '  otaflux --firmware-dir ./firmware          serve ./firmware/<device>/<version>.bin',
    '  otaflux --registry-url ghcr.io --repository-prefix acme/fw --cosign-pub-key-path cosign.pub',
    '  otaflux --config otaflux.config.ts         per-device sources, verifiers, extractors, auth',
    '',
    'Publishing (see otaflux push --help, otaflux sign --help):',
    '  otaflux push fw.bin --device esp32-a --version 1.4.0 --registry ghcr.io --prefix acme/fw',
    '  otaflux sign ghcr.io/acme/fw/esp32-a:1.4.0 --key cosign.key   (password in COSIGN_PASSWORD)',
    '',
    'Devices:  GET /version?device=ID → "version\\ncrc32\\nsize"   GET /firmware?device=ID → the image',
  ];
  const groups = [...new Set(FLAGS.map((f) => f.group))];
  for (const g of groups) {
    lines.push('', `${g}:`);
    for (const f of FLAGS.filter((x) => x.group === g)) {
      const left = `  --${f.name}${f.type === 'boolean' ? '' : ` <${f.type === 'int' ? 'N' : 'value'}>`}`;
      const env = envName(f);
      const extras = [f.default ? `default: ${f.default}` : '', env ? `env: ${env}` : ''].filter(Boolean).join('; ');
      lines.push(`${left.padEnd(36)} ${f.help}${extras ? ` [${extras}]` : ''}`);
    }
  }
  lines.push('', '  -h, --help                         Show this help', '  -V, --version                      Show the version', '');
  lines.push('Flags beat env vars; both beat the config file. Docs: README.md');
  return lines.join('\n') + '\n';
}
