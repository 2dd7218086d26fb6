#!/usr/bin/env bun
/**
 * Prints the longest functions of the source tree, by lines from their first to their last line
 * (functions, methods, accessors, constructors, arrow functions and function expressions; a nested
 * function counts inside its parent too). TypeScript's own parser reads the files.
 *
 *     bun scripts/longest-functions.ts [--top N] [--under DIR] [--name NAME]
 *
 * Defaults: the top 10 under src/. `--name` prints only functions of that name (e.g. startRawListener).
 */
import { readdirSync, readFileSync } from 'node:fs';
import { join, relative, resolve } from 'node:path';
import ts from 'typescript';

const ROOT = resolve(import.meta.dir, '..');

export interface FunctionLength {
  file: string;
  name: string;
  lines: number;
  line: number;
}

function nameOf(node: ts.Node): string {
  const named = node as ts.Node & { name?: ts.Node };
  if (named.name && (ts.isIdentifier(named.name) || ts.isStringLiteral(named.name) || ts.isPrivateIdentifier(named.name))) return named.name.text;
  if (ts.isConstructorDeclaration(node)) return 'constructor';
  const parent = node.parent;
  if (parent && ts.isVariableDeclaration(parent) && ts.isIdentifier(parent.name)) return parent.name.text;
  if (parent && ts.isPropertyAssignment(parent) && ts.isIdentifier(parent.name)) return parent.name.text;
  if (parent && ts.isPropertyDeclaration(parent) && ts.isIdentifier(parent.name)) return parent.name.text;
  return '(anonymous)';
}

/** Every function in one file's text, with its line count. */
export function functionLengths(file: string, text: string): FunctionLength[] {
  const sf = ts.createSourceFile(file, text, ts.ScriptTarget.Latest, true, file.endsWith('x') ? ts.ScriptKind.TSX : ts.ScriptKind.TS);
  const out: FunctionLength[] = [];
  const visit = (node: ts.Node) => {
    if (ts.isFunctionLike(node) && (node as ts.FunctionLikeDeclaration).body) {
      const start = sf.getLineAndCharacterOfPosition(node.getStart(sf)).line;
      const end = sf.getLineAndCharacterOfPosition(node.getEnd()).line;
      out.push({ file, name: nameOf(node), lines: end - start + 1, line: start + 1 });
    }
    ts.forEachChild(node, visit);
  };
  visit(sf);
  return out;
}

export function longestFunctions(dir: string): FunctionLength[] {
  const files = readdirSync(dir, { recursive: true, encoding: 'utf8' }).filter((f) => /\.tsx?$/.test(f) && !f.endsWith('.d.ts') && !f.endsWith('.test.ts'));
  return files
    .flatMap((f) => functionLengths(relative(ROOT, join(dir, f)), readFileSync(join(dir, f), 'utf8')))
    .sort((a, b) => b.lines - a.lines || a.file.localeCompare(b.file));
}

if (import.meta.main) {
  const args = process.argv.slice(2);
  const opt = (name: string) => {
    const i = args.indexOf(name);
    return i >= 0 ? args[i + 1] : undefined;
  };
  const top = Number(opt('--top') ?? 10);
  const name = opt('--name');
  let list = longestFunctions(resolve(ROOT, opt('--under') ?? 'src'));
  if (name) list = list.filter((f) => f.name === name);
  for (const f of list.slice(0, name ? undefined : top)) console.log(`${String(f.lines).padStart(5)}  ${f.name}  ${f.file}:${f.line}`);
}
