/**
 * Flags of a command that has its own (`otaflux push`, `otaflux sign`): parsed from the words after
 * the command's name, each with an optional env var used when the flag is not given. `--help` shows
 * the command's help.
 */
import { UsageError } from '../flags.ts';

export interface CommandFlag {
  name: string;
  type: 'string' | 'boolean';
  help: string;
  env?: string;
}

export interface ParsedCommand {
  values: Record<string, string | boolean>;
  positional: string[];
  help: boolean;
}

export function parseCommandArgs(command: string, specs: readonly CommandFlag[], argv: readonly string[], env: Record<string, string | undefined>): ParsedCommand {
  const values: Record<string, string | boolean> = {};
  const positional: string[] = [];
  let help = false;
  for (let i = 0; i < argv.length; i++) {
    const arg = argv[i] as string;
    if (arg === '--') { positional.push(...argv.slice(i + 1)); break; }
    if (arg === '-h' || arg === '--help') { help = true; continue; }
    if (!arg.startsWith('--')) { positional.push(arg); continue; }
    const [name, inline] = arg.slice(2).split(/=(.*)/s, 2) as [string, string | undefined];
    const spec = specs.find((f) => f.name === name);
    if (!spec) throw new UsageError(`${command}: unknown flag --${name}; flags: ${specs.map((f) => `--${f.name}`).join(', ')}`);
    if (spec.type === 'boolean') {
      values[name] = inline === undefined ? true : bool(`--${name}`, inline);
      continue;
    }
    const value = inline ?? argv[++i];
    if (value === undefined || (inline === undefined && value.startsWith('--'))) throw new UsageError(`${command}: --${name} needs a value`);
    values[name] = value;
  }
  for (const f of specs) {
    const raw = f.env ? env[f.env] : undefined;
    if (values[f.name] !== undefined || raw === undefined || raw === '') continue;
    values[f.name] = f.type === 'boolean' ? bool(f.env as string, raw) : raw;
  }
  return { values, positional, help };
}

export function commandHelp(usage: string, about: string, specs: readonly CommandFlag[]): string {
  const lines = [`Usage: otaflux ${usage}`, '', about, '', 'Flags:'];
  for (const f of specs) {
    const left = `  --${f.name}${f.type === 'boolean' ? '' : ' <value>'}`;
    lines.push(`${left.padEnd(30)} ${f.help}${f.env ? ` [env: ${f.env}]` : ''}`);
  }
  return lines.join('\n') + '\n';
}

function bool(what: string, v: string): boolean {
  if (/^(1|true|yes|on)$/i.test(v)) return true;
  if (/^(0|false|no|off)$/i.test(v)) return false;
  throw new UsageError(`${what}: expected true or false, got '${v}'`);
}

/** A command with flags of its own that takes exactly one word besides them (a file, a reference). */
export interface OwnFlagsCommandSpec {
  name: string;
  /** The short usage in `otaflux --help`. */
  usage: string;
  /** The one line in `otaflux --help`. */
  help: string;
  /** The full usage in the command's `--help` and in the message when the word is missing. */
  synopsis: string;
  /** What the command does, in the command's `--help`. */
  about: string;
  /** What the one word is, for the message when it is missing: `one file`. */
  argument: string;
  flags: readonly CommandFlag[];
  main(values: Record<string, string | boolean>, argument: string, env: Record<string, string | undefined>): Promise<number>;
}

/**
 * The command as the CLI registers it: the words after its name are parsed against its flags (env
 * vars filling in), `--help` prints its help, and anything but exactly one other word is a usage error.
 */
export function ownFlagsCommand(c: OwnFlagsCommandSpec) {
  const runRaw = async (argv: string[], env: Record<string, string | undefined>): Promise<number> => {
    const { values, positional, help } = parseCommandArgs(c.name, c.flags, argv, env);
    if (help) {
      process.stdout.write(commandHelp(c.synopsis, c.about, c.flags));
      return 0;
    }
    if (positional.length !== 1) throw new UsageError(`${c.name}: give exactly ${c.argument}, e.g. otaflux ${c.synopsis}`);
    return c.main(values, positional[0] as string, env);
  };
  return { name: c.name, usage: c.usage, help: c.help, run: (_flags: unknown, args: string[]) => runRaw(args, process.env), runRaw };
}
