/**
 * `otaflux hash-token`: makes a random device token and prints it with the hash to put in the
 * config (`token({ devices: { id: '<hash>' } })`). `otaflux hash-token -` hashes a token read from
 * stdin instead (never from the command line, where shell history and `ps` would keep it).
 */
import { UsageError, type FlagValues } from '../flags.ts';
import { hashToken, newToken, MIN_TOKEN_LENGTH } from '../../plugins/auth/token-hash.ts';

export const hashTokenCommand = {
  name: 'hash-token',
  usage: 'hash-token [-]',
  help: 'Print a new device token and its hash for the config (`-`: hash a token read from stdin)',
  run: hashTokenRun,
};

async function hashTokenRun(_flags: FlagValues, args: string[]): Promise<number> {
  if (args.length > 1 || (args.length === 1 && args[0] !== '-')) {
    throw new UsageError('hash-token: give no argument (a new token is made) or - (read the token from stdin); never put a token on the command line');
  }
  if (args[0] === '-') {
    const input = (await new Response(Bun.stdin.stream()).text()).replace(/\r?\n$/, '');
    if (input.length < MIN_TOKEN_LENGTH) throw new UsageError(`hash-token: the token on stdin is too short: use at least ${MIN_TOKEN_LENGTH} random characters`);
    process.stdout.write(`${hashToken(input)}\n`);
    return 0;
  }
  const t = newToken();
  process.stdout.write(`token: ${t}\nhash:  ${hashToken(t)}\n`);
  return 0;
}
