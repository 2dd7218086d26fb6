/**
 * helm-lite renders a Helm chart's templates with the subset of Go templates and Sprig functions
 * our chart uses, so a test can check the rendered manifests without the `helm` binary (Debian 12
 * does not package it). It follows Helm where it matters for mistakes: whitespace trimming,
 * Go truthiness, `required`, and numbers from values printed like Go's float64 `%v`
 * (`2147483648` → `2.147483648e+09`, the reason charts pipe large numbers through `int64`).
 * Unknown functions and syntax are errors, so a template this cannot read fails the test. Values
 * are checked against the chart's values.schema.json first, as Helm does (a subset of JSON Schema:
 * type (or a list of types), pattern, properties, additionalProperties, required, items, enum, minimum,
 * local $ref).
 */
import { existsSync, readdirSync, readFileSync } from 'node:fs';
import { join, basename } from 'node:path';
import { createHash } from 'node:crypto';

type Node =
  | { t: 'text'; s: string }
  | { t: 'action'; expr: string }
  | { t: 'if'; branches: { cond: string; body: Node[] }[]; otherwise: Node[] }
  | { t: 'with' | 'range'; expr: string; body: Node[]; otherwise: Node[] }
  | { t: 'define'; name: string; body: Node[] };

interface Scope { dot: unknown; root: unknown; vars: Map<string, unknown> }

export interface Rendered { [file: string]: string }

export function renderChart(chartDir: string, overrides: Record<string, unknown> = {}, release = { Name: 'ota', Namespace: 'iot' }): Rendered {
  const chart = Bun.YAML.parse(readFileSync(join(chartDir, 'Chart.yaml'), 'utf8')) as Record<string, unknown>;
  const values = deepMerge(Bun.YAML.parse(readFileSync(join(chartDir, 'values.yaml'), 'utf8')) as Record<string, unknown>, overrides);
  const schemaFile = join(chartDir, 'values.schema.json');
  if (existsSync(schemaFile)) {
    const schema = JSON.parse(readFileSync(schemaFile, 'utf8')) as Schema;
    const problems = validate(schema, values, '', schema);
    if (problems.length) throw new Error(`values don't meet the specifications of the schema(s) in the following chart(s):\n${chart.name}:\n${problems.map((p) => `- ${p}`).join('\n')}`);
  }
  const dir = join(chartDir, 'templates');
  const templates = new Map<string, Node[]>();
  const files = readdirSync(dir).filter((f) => /\.(ya?ml|tpl|txt)$/.test(f)).sort();
  const basePath = `${basename(chartDir)}/templates`;
  for (const f of files) {
    const tree = parse(readFileSync(join(dir, f), 'utf8'), f);
    templates.set(`${basePath}/${f}`, tree);
    collectDefines(tree, templates);
  }
  const top = {
    Values: values,
    Chart: { Name: chart.name, Version: chart.version, AppVersion: chart.appVersion },
    Release: { ...release, Service: 'Helm' },
    Template: { BasePath: basePath },
  };
  const out: Rendered = {};
  for (const f of files) {
    if (f.startsWith('_')) continue;
    out[f] = exec(templates.get(`${basePath}/${f}`) as Node[], { dot: top, root: top, vars: new Map() }, templates);
  }
  return out;
}

/** Every `.Values.a.b` path a template refers to. */
export function valuePaths(chartDir: string): string[] {
  const paths = new Set<string>();
  for (const f of readdirSync(join(chartDir, 'templates'))) {
    for (const m of readFileSync(join(chartDir, 'templates', f), 'utf8').matchAll(/\.Values((?:\.[A-Za-z_][\w]*)+)/g)) paths.add((m[1] as string).slice(1));
  }
  return [...paths].sort();
}

// ---------------------------------------------------------------------------------------------
// Parsing

function parse(src: string, file: string): Node[] {
  const pieces: ({ text: string } | { action: string })[] = [];
  const re = /\{\{(-[ \t\n])?([\s\S]*?)([ \t\n]-)?\}\}/g;
  let last = 0;
  let trimNext = false;
  for (let m = re.exec(src); m; m = re.exec(src)) {
    let text = src.slice(last, m.index);
    if (trimNext) text = text.replace(/^\s+/, '');
    if (m[1]) text = text.replace(/\s+$/, '');
    pieces.push({ text });
    const inner = (m[2] as string).trim();
    if (!inner.startsWith('/*')) pieces.push({ action: inner });
    trimNext = Boolean(m[3]);
    last = re.lastIndex;
  }
  let tail = src.slice(last);
  if (trimNext) tail = tail.replace(/^\s+/, '');
  pieces.push({ text: tail });

  let i = 0;
  const block = (ends: string[]): { body: Node[]; stop: string } => {
    const body: Node[] = [];
    while (i < pieces.length) {
      const p = pieces[i++] as { text: string } | { action: string };
      if ('text' in p) { if (p.text) body.push({ t: 'text', s: p.text }); continue; }
      const [word = '', ...rest] = p.action.split(/\s+/);
      const arg = rest.join(' ');
      if (ends.includes(word)) return { body, stop: p.action };
      if (word === 'if') {
        const branches = [{ cond: arg, body: [] as Node[] }];
        let otherwise: Node[] = [];
        for (;;) {
          const r = block(['else', 'end']);
          (branches[branches.length - 1] as { body: Node[] }).body = r.body;
          if (r.stop === 'end') break;
          const elseIf = /^else\s+if\s+(.*)$/s.exec(r.stop);
          if (elseIf) { branches.push({ cond: elseIf[1] as string, body: [] }); continue; }
          otherwise = expectEnd(block(['end']), file).body;
          break;
        }
        body.push({ t: 'if', branches, otherwise });
      } else if (word === 'with' || word === 'range') {
        const r = block(['else', 'end']);
        const otherwise = r.stop === 'end' ? [] : expectEnd(block(['end']), file).body;
        body.push({ t: word, expr: arg, body: r.body, otherwise });
      } else if (word === 'define') {
        body.push({ t: 'define', name: JSON.parse(arg) as string, body: expectEnd(block(['end']), file).body });
      } else if (['else', 'end', 'template', 'block'].includes(word)) {
        throw new Error(`${file}: unexpected {{ ${p.action} }}`);
      } else {
        body.push({ t: 'action', expr: p.action });
      }
    }
    if (ends.length) throw new Error(`${file}: missing {{ end }}`);
    return { body, stop: '' };
  };
  return block([]).body;
}

function expectEnd(r: { body: Node[]; stop: string }, file: string): { body: Node[]; stop: string } {
  if (r.stop !== 'end') throw new Error(`${file}: expected {{ end }}, got {{ ${r.stop} }}`);
  return r;
}

function collectDefines(nodes: Node[], into: Map<string, Node[]>): void {
  for (const n of nodes) if (n.t === 'define') into.set(n.name, n.body);
}

// ---------------------------------------------------------------------------------------------
// Execution

function exec(nodes: Node[], scope: Scope, templates: Map<string, Node[]>): string {
  let out = '';
  for (const n of nodes) {
    switch (n.t) {
      case 'text': out += n.s; break;
      case 'define': break;
      case 'action': {
        const assign = /^(\$\w+)\s*:?=\s*([\s\S]+)$/.exec(n.expr);
        if (assign) { scope.vars.set(assign[1] as string, evalPipeline(assign[2] as string, scope, templates)); break; }
        out += show(evalPipeline(n.expr, scope, templates));
        break;
      }
      case 'if': {
        const hit = n.branches.find((b) => truthy(evalPipeline(b.cond, scope, templates)));
        out += exec(hit ? hit.body : n.otherwise, scope, templates);
        break;
      }
      case 'with': {
        const v = evalPipeline(n.expr, scope, templates);
        out += truthy(v) ? exec(n.body, { ...scope, dot: v }, templates) : exec(n.otherwise, scope, templates);
        break;
      }
      case 'range': {
        const v = evalPipeline(n.expr, scope, templates);
        const items = Array.isArray(v) ? v : v && typeof v === 'object' ? Object.keys(v).sort().map((k) => (v as Record<string, unknown>)[k]) : [];
        if (items.length === 0) out += exec(n.otherwise, scope, templates);
        for (const item of items) out += exec(n.body, { ...scope, dot: item }, templates);
        break;
      }
    }
  }
  return out;
}

type Token = { k: 'str' | 'num' | 'ident' | 'field' | 'var' | 'lp' | 'rp' | 'pipe'; v: string };

function tokenize(expr: string): Token[] {
  const out: Token[] = [];
  const re = /\s*(?:("(?:[^"\\]|\\.)*")|(-?\d+(?:\.\d+)?)|(\$\w*(?:\.\w+)*)|(\.(?:\w+(?:\.\w+)*)?)|([A-Za-z_]\w*)|(\()|(\)((?:\.\w+)*))|(\|))/gy;
  let m: RegExpExecArray | null;
  while (re.lastIndex < expr.length && (m = re.exec(expr))) {
    if (m[1]) out.push({ k: 'str', v: JSON.parse(m[1]) as string });
    else if (m[2]) out.push({ k: 'num', v: m[2] });
    else if (m[3]) out.push({ k: 'var', v: m[3] });
    else if (m[4]) out.push({ k: 'field', v: m[4] });
    else if (m[5]) out.push({ k: 'ident', v: m[5] });
    else if (m[6]) out.push({ k: 'lp', v: '(' });
    else if (m[7]) out.push({ k: 'rp', v: m[8] ?? '' });
    else if (m[9]) out.push({ k: 'pipe', v: '|' });
    if (re.lastIndex >= expr.trimEnd().length) break;
  }
  if (re.lastIndex < expr.trimEnd().length) throw new Error(`cannot read template expression: ${expr}`);
  return out;
}

function evalPipeline(expr: string, scope: Scope, templates: Map<string, Node[]>): unknown {
  const tokens = tokenize(expr);
  let pos = 0;
  const pipeline = (): unknown => {
    let value: unknown;
    let first = true;
    for (;;) {
      const args: { fn?: string; value?: unknown }[] = [];
      while (pos < tokens.length && tokens[pos]?.k !== 'pipe' && tokens[pos]?.k !== 'rp') args.push(operand());
      if (args.length === 0) throw new Error(`empty command in: ${expr}`);
      const [head, ...rest] = args as [{ fn?: string; value?: unknown }, ...{ fn?: string; value?: unknown }[]];
      const argv = rest.map((a) => (a.fn !== undefined ? call(a.fn, [], scope, templates) : a.value));
      if (!first) argv.push(value);
      if (head.fn !== undefined) value = call(head.fn, argv, scope, templates);
      else if (argv.length === 0) value = head.value;
      else throw new Error(`cannot pipe into a value in: ${expr}`);
      first = false;
      if (tokens[pos]?.k === 'pipe') { pos++; continue; }
      return value;
    }
  };
  const operand = (): { fn?: string; value?: unknown } => {
    const t = tokens[pos++] as Token;
    switch (t.k) {
      case 'str': return { value: t.v };
      case 'num': return { value: Number(t.v) };
      case 'field': return { value: walk(scope.dot, t.v.slice(1)) };
      case 'var': {
        const [name = '', ...path] = t.v.split('.');
        const base = name === '$' ? scope.root : scope.vars.get(name);
        if (name !== '$' && !scope.vars.has(name)) throw new Error(`undefined variable ${name} in: ${expr}`);
        return { value: walk(base, path.join('.')) };
      }
      case 'ident':
        if (t.v === 'true' || t.v === 'false') return { value: t.v === 'true' };
        if (t.v === 'nil') return { value: undefined };
        return { fn: t.v };
      case 'lp': {
        const v = pipeline();
        const close = tokens[pos++];
        if (close?.k !== 'rp') throw new Error(`missing ) in: ${expr}`);
        return { value: walk(v, close.v.slice(1)) };
      }
      default: throw new Error(`unexpected ${t.v} in: ${expr}`);
    }
  };
  const v = pipeline();
  if (pos !== tokens.length) throw new Error(`trailing tokens in: ${expr}`);
  return v;
}

function walk(base: unknown, path: string): unknown {
  if (!path) return base;
  let v = base;
  for (const key of path.split('.')) v = v && typeof v === 'object' ? (v as Record<string, unknown>)[key] : undefined;
  return v;
}

function call(fn: string, a: unknown[], scope: Scope, templates: Map<string, Node[]>): unknown {
  const s = (i: number) => show(a[i]);
  switch (fn) {
    case 'include': {
      const body = templates.get(s(0));
      if (!body) throw new Error(`include of unknown template ${s(0)}`);
      return exec(body, { dot: a[1], root: a[1], vars: new Map() }, templates);
    }
    case 'default': return truthy(a[1]) ? a[1] : a[0];
    case 'required': if (!truthy(a[1])) throw new Error(`required: ${s(0)}`); return a[1];
    case 'fail': throw new Error(`fail: ${s(0)}`);
    case 'list': return [...a];
    case 'index': return Array.isArray(a[0]) ? a[0][Number(a[1])] : walk(a[0], s(1));
    case 'toString': return show(a[0]);
    case 'hasKey': return Boolean(a[0] && typeof a[0] === 'object' && Object.hasOwn(a[0] as object, s(1)));
    case 'hasPrefix': return s(1).startsWith(s(0));
    case 'ne': return !(a[1] === a[0] || (typeof a[1] !== 'object' && String(a[1]) === String(a[0]) && typeof a[1] === typeof a[0]));
    case 'gt': return (a[0] as number) > (a[1] as number);
    case 'lt': return Number(a[0]) < Number(a[1]);
    case 'add': return BigInt(a.reduce<number>((sum, x) => sum + Math.trunc(Number(x)), 0));
    case 'trunc': return s(1).slice(0, Number(a[0]));
    case 'trimSuffix': return s(1).endsWith(s(0)) ? s(1).slice(0, -s(0).length || undefined) : s(1);
    case 'contains': return s(1).includes(s(0));
    case 'replace': return s(2).split(s(0)).join(s(1));
    case 'printf': { let i = 1; return s(0).replace(/%[svd]/g, () => show(a[i++])); }
    case 'print': return a.map((x) => show(x)).join('');
    case 'quote': return JSON.stringify(a.length && a[a.length - 1] !== undefined ? show(a[a.length - 1]) : '');
    case 'nindent': return '\n' + indent(Number(a[0]), s(1));
    case 'indent': return indent(Number(a[0]), s(1));
    case 'toYaml': return a[0] === undefined ? 'null' : Bun.YAML.stringify(a[0], null, 2).replace(/\n$/, '');
    case 'b64enc': return Buffer.from(s(0)).toString('base64');
    case 'sha256sum': return createHash('sha256').update(s(0)).digest('hex');
    case 'ternary': return truthy(a[2]) ? a[0] : a[1];
    case 'int': case 'int64': return BigInt(Math.trunc(Number(typeof a[0] === 'bigint' ? a[0] : Number(a[0]))));
    case 'eq': return a.slice(1).some((x) => x === a[0] || (typeof x !== 'object' && String(x) === String(a[0]) && typeof x === typeof a[0]));
    case 'and': { for (const x of a) if (!truthy(x)) return x; return a[a.length - 1]; }
    case 'or': { for (const x of a) if (truthy(x)) return x; return a[a.length - 1]; }
    case 'not': return !truthy(a[0]);
    default: throw new Error(`helm-lite: unsupported function ${fn}`);
  }
  void scope;
}

function indent(n: number, s: string): string {
  const pad = ' '.repeat(n);
  return s.split('\n').map((l) => pad + l).join('\n');
}

function truthy(v: unknown): boolean {
  if (v === undefined || v === null || v === false || v === 0 || v === '' || v === 0n) return false;
  if (Array.isArray(v)) return v.length > 0;
  if (typeof v === 'object') return Object.keys(v).length > 0;
  return true;
}

/** Go's `%v` of a value (text/template prints with fmt). */
function show(v: unknown): string {
  if (v === undefined || v === null) return '';
  if (typeof v === 'bigint') return v.toString();
  if (typeof v === 'number') return goFloat(v);
  if (typeof v === 'string') return v;
  if (typeof v === 'boolean') return String(v);
  return Array.isArray(v) ? `[${v.map(show).join(' ')}]` : `map[${Object.entries(v as object).map(([k, x]) => `${k}:${show(x)}`).join(' ')}]`;
}

/**
 * A float64 as Go's `%v` prints it (strconv 'g' with the shortest digits, where the exponent
 * form starts at exponent -5 and 6): 100000 → `100000`, 1000000 → `1e+06`.
 */
function goFloat(n: number): string {
  if (n === 0) return '0';
  const exp = Math.floor(Math.log10(Math.abs(n)));
  if (exp < -4 || exp >= 6) return n.toExponential().replace(/e([+-])(\d)$/, 'e$10$2');
  return String(n);
}

type Schema = { type?: string | string[]; pattern?: string; properties?: Record<string, Schema>; additionalProperties?: boolean | Schema; required?: string[]; items?: Schema; enum?: unknown[]; minimum?: number; $ref?: string; $defs?: Record<string, Schema> };

/** Problems of `v` against `schema`, one line each, with the path of the value. */
function validate(schema: Schema, v: unknown, path: string, root: Schema): string[] {
  if (schema.$ref) return validate((root.$defs ?? {})[schema.$ref.replace('#/$defs/', '')] ?? {}, v, path, root);
  const at = path || '(root)';
  const kind = v === null || v === undefined ? 'null' : Array.isArray(v) ? 'array' : typeof v === 'number' ? (Number.isInteger(v) ? 'integer' : 'number') : typeof v;
  const types = schema.type === undefined ? [] : Array.isArray(schema.type) ? schema.type : [schema.type];
  if (types.length && !types.some((t) => t === kind || (t === 'number' && kind === 'integer'))) return [`${at}: Invalid type. Expected: ${types.join('/')}, given: ${kind}`];
  if (schema.pattern !== undefined && typeof v === 'string' && !new RegExp(schema.pattern).test(v)) return [`${at}: Does not match pattern '${schema.pattern}'`];
  if (schema.enum && !schema.enum.includes(v)) return [`${at}: ${at} must be one of the following: ${schema.enum.map((x) => JSON.stringify(x)).join(', ')}`];
  if (schema.minimum !== undefined && typeof v === 'number' && v < schema.minimum) return [`${at}: Must be greater than or equal to ${schema.minimum}`];
  const out: string[] = [];
  if (kind === 'object') {
    const o = v as Record<string, unknown>;
    for (const r of schema.required ?? []) if (!(r in o)) out.push(`${at}: ${r} is required`);
    for (const [k, x] of Object.entries(o)) {
      const sub = schema.properties?.[k];
      const p = path ? `${path}.${k}` : k;
      if (sub) out.push(...validate(sub, x, p, root));
      else if (schema.additionalProperties === false) out.push(`${at}: Additional property ${k} is not allowed`);
      else if (schema.additionalProperties && typeof schema.additionalProperties === 'object') out.push(...validate(schema.additionalProperties, x, p, root));
    }
  }
  if (kind === 'array' && schema.items) (v as unknown[]).forEach((x, i) => out.push(...validate(schema.items as Schema, x, `${path}.${i}`, root)));
  return out;
}

function deepMerge(base: Record<string, unknown>, over: Record<string, unknown>): Record<string, unknown> {
  const out: Record<string, unknown> = { ...base };
  for (const [k, v] of Object.entries(over)) {
    const b = out[k];
    out[k] = v && typeof v === 'object' && !Array.isArray(v) && b && typeof b === 'object' && !Array.isArray(b) ? deepMerge(b as Record<string, unknown>, v as Record<string, unknown>) : v;
  }
  return out;
}
