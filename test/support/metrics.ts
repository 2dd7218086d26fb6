/** Reads a server's Prometheus text from its metrics listener. */
export interface Scrape {
  status: number;
  contentType: string | null;
  text: string;
  /** The value of one series, `name{labels}` exactly as printed (0 when absent). */
  get(series: string): number;
}

export async function scrapeMetrics(port: number): Promise<Scrape> {
  const r = await fetch(`http://127.0.0.1:${port}/metrics`);
  const text = await r.text();
  const values = new Map<string, number>();
  for (const line of text.split('\n')) {
    if (!line || line.startsWith('#')) continue;
    const at = line.lastIndexOf(' ');
    values.set(line.slice(0, at), Number(line.slice(at + 1)));
  }
  return { status: r.status, contentType: r.headers.get('content-type'), text, get: (series) => values.get(series) ?? 0 };
}

/** Scrapes until `series` reads `value` (up to about 2 s); returns the last scrape. */
export async function scrapeUntil(port: number, series: string, value: number): Promise<Scrape> {
  let m = await scrapeMetrics(port);
  for (let i = 0; i < 100 && m.get(series) !== value; i++) {
    await Bun.sleep(20);
    m = await scrapeMetrics(port);
  }
  return m;
}
