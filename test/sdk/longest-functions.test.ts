// scripts/longest-functions.ts counts each function's lines from its first to its last, nested ones too.
import { expect, test } from 'bun:test';
import { functionLengths } from '../../scripts/longest-functions.ts';

test('functions, methods and arrows are counted by their lines, with their names', () => {
  const text = `export function outer(a: number) {
  const inner = (b: number) => {
    return b + 1;
  };
  return inner(a);
}
class K {
  method(): void {}
}
const obj = { hook: async () => 1 };
`;
  const byName = Object.fromEntries(functionLengths('x.ts', text).map((f) => [f.name, f.lines]));
  expect(byName).toEqual({ outer: 6, inner: 3, method: 1, hook: 1 });
});
