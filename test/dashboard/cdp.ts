/**
 * A headless Debian `chromium` driven over the DevTools protocol (test helper): one page, with
 * navigation, script evaluation, real key presses, file inputs, confirm dialogs accepted, and PNG
 * screenshots. No library: the protocol's JSON over a WebSocket.
 */
import { mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { tempDir } from '../support/tmp.ts';

type Pending = { resolve(v: any): void; reject(e: Error): void };

export class Browser {
  private id = 0;
  private readonly pending = new Map<number, Pending>();
  private readonly waiters: { method: string; resolve(p: any): void }[] = [];

  private constructor(private readonly proc: ReturnType<typeof Bun.spawn>, private readonly ws: WebSocket) {
    ws.onmessage = (m) => {
      const msg = JSON.parse(String(m.data));
      if (msg.id !== undefined) {
        const p = this.pending.get(msg.id);
        this.pending.delete(msg.id);
        if (msg.error) p?.reject(new Error(`${msg.error.message}`));
        else p?.resolve(msg.result);
        return;
      }
      if (msg.method === 'Page.javascriptDialogOpening') void this.send('Page.handleJavaScriptDialog', { accept: true });
      for (let i = this.waiters.length - 1; i >= 0; i--) {
        const w = this.waiters[i] as (typeof this.waiters)[number];
        if (w.method === msg.method) {
          this.waiters.splice(i, 1);
          w.resolve(msg.params);
        }
      }
    };
  }

  static async launch(): Promise<Browser> {
    const profile = tempDir('otaflux-chromium-');
    const proc = Bun.spawn([
      '/usr/bin/chromium', '--headless', '--no-sandbox', '--disable-gpu', '--disable-background-networking', '--no-first-run',
      '--disable-component-update', '--disable-sync', '--disable-extensions', '--no-default-browser-check', '--hide-scrollbars',
      // Nothing but loopback: the dashboard must need no CDN.
      '--host-resolver-rules=MAP * ~NOTFOUND, EXCLUDE 127.0.0.1, EXCLUDE localhost',
      `--user-data-dir=${profile}`, '--remote-debugging-port=0', 'about:blank',
    ], { stdout: 'ignore', stderr: 'pipe' });
    const reader = (proc.stderr as ReadableStream<Uint8Array>).getReader();
    let text = '';
    let port = '';
    while (!port) {
      const { value, done } = await reader.read();
      if (done) throw new Error(`chromium exited: ${text}`);
      text += new TextDecoder().decode(value);
      port = /DevTools listening on ws:\/\/127\.0\.0\.1:(\d+)\//.exec(text)?.[1] ?? '';
    }
    // Keep draining stderr so chromium never blocks on it.
    void (async () => { while (!(await reader.read()).done); })();
    const targets = (await (await fetch(`http://127.0.0.1:${port}/json/list`)).json()) as { type: string; webSocketDebuggerUrl: string }[];
    const pageTarget = targets.find((t) => t.type === 'page') as { webSocketDebuggerUrl: string };
    const ws = new WebSocket(pageTarget.webSocketDebuggerUrl);
    await new Promise((resolve, reject) => { ws.onopen = resolve; ws.onerror = reject; });
    const b = new Browser(proc, ws);
    await b.send('Page.enable');
    await b.send('Runtime.enable');
    return b;
  }

  send(method: string, params: Record<string, unknown> = {}): Promise<any> {
    const id = ++this.id;
    return new Promise((resolve, reject) => {
      this.pending.set(id, { resolve, reject });
      this.ws.send(JSON.stringify({ id, method, params }));
    });
  }

  private next(method: string): Promise<any> {
    return new Promise((resolve) => this.waiters.push({ method, resolve }));
  }

  /** Runs `action` (a click, a key press, a navigation) and waits for the page it leads to. */
  async loads(action: () => Promise<unknown>): Promise<void> {
    const loaded = this.next('Page.loadEventFired');
    await action();
    await loaded;
  }

  goto(url: string): Promise<void> {
    return this.loads(() => this.send('Page.navigate', { url }));
  }

  async eval<T = unknown>(expression: string): Promise<T> {
    const r = await this.send('Runtime.evaluate', { expression, awaitPromise: true, returnByValue: true });
    if (r.exceptionDetails) throw new Error(`${expression}: ${r.exceptionDetails.exception?.description ?? r.exceptionDetails.text}`);
    return r.result.value as T;
  }

  url(): Promise<string> {
    return this.eval<string>('location.href');
  }

  text(selector = 'main'): Promise<string> {
    return this.eval<string>(`document.querySelector(${JSON.stringify(selector)})?.innerText ?? ''`);
  }

  /** Focuses an element and types into it with key events, as a person at a keyboard would. */
  async type(selector: string, value: string): Promise<void> {
    await this.eval(`(() => { const e = document.querySelector(${JSON.stringify(selector)}); e.focus(); e.value = ''; })()`);
    await this.send('Input.insertText', { text: value });
  }

  async press(key: 'Enter' | 'Tab'): Promise<void> {
    const code = key === 'Enter' ? 13 : 9;
    await this.send('Input.dispatchKeyEvent', { type: 'keyDown', key, code: key, windowsVirtualKeyCode: code, ...(key === 'Enter' ? { text: '\r' } : {}) });
    await this.send('Input.dispatchKeyEvent', { type: 'keyUp', key, code: key, windowsVirtualKeyCode: code });
  }

  /** Clicks the element (a button, a link) the way a person would, and waits for the next page. */
  click(selector: string): Promise<void> {
    return this.loads(() => this.eval(`document.querySelector(${JSON.stringify(selector)}).click()`));
  }

  async setFile(selector: string, path: string): Promise<void> {
    const { root } = await this.send('DOM.getDocument');
    const { nodeId } = await this.send('DOM.querySelector', { nodeId: root.nodeId, selector });
    await this.send('DOM.setFileInputFiles', { nodeId, files: [path] });
  }

  async viewport(width: number, height: number, dark = false, mobile = false): Promise<void> {
    await this.send('Emulation.setDeviceMetricsOverride', { width, height, deviceScaleFactor: 1, mobile });
    await this.send('Emulation.setEmulatedMedia', { features: [{ name: 'prefers-color-scheme', value: dark ? 'dark' : 'light' }] });
  }

  /** A PNG of the viewport, saved as `<dir>/<name>.png`; returns its size in bytes. */
  async screenshot(dir: string, name: string): Promise<number> {
    const { data } = await this.send('Page.captureScreenshot', { format: 'png' });
    mkdirSync(dir, { recursive: true });
    const bytes = Buffer.from(data, 'base64');
    writeFileSync(join(dir, `${name}.png`), bytes);
    return bytes.byteLength;
  }

  async close(): Promise<void> {
    this.ws.close();
    this.proc.kill();
    await this.proc.exited;
  }
}
