/** The benchmark's 1 KiB personalized page of quotes for one client (built once per alias). */
const cache = new Map<string, string>();

export function page(alias: string): string {
  let p = cache.get(alias);
  if (!p) {
    const rows: string[] = [];
    let len = 0;
    for (let i = 0; len < 940; i++) {
      const row = `{"s":"SYM${i}","p":${(100 + i * 1.25).toFixed(2)}}`;
      rows.push(row);
      len += row.length + 1;
    }
    p = `{"alias":"${alias}","quotes":[${rows.join(',')}]}`.padEnd(1024, ' ');
    cache.set(alias, p);
  }
  return p;
}
