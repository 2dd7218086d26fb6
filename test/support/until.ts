/**
 * Waits until `f` gives something other than undefined or false (it is asked every 25 ms, and may
 * answer with a promise), and returns that; throws `timed out waiting for <what>` after `timeoutMs`.
 */
export async function until<T>(what: string, f: () => T | undefined | false | Promise<T | undefined | false>, timeoutMs = 20_000): Promise<T> {
  const end = Date.now() + timeoutMs;
  for (;;) {
    const v = await f();
    if (v !== undefined && v !== false) return v;
    if (Date.now() > end) throw new Error(`timed out waiting for ${what}`);
    await Bun.sleep(25);
  }
}
