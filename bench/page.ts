/**
 * The benchmarks' 1 KiB personalized page of quotes for one client (a module, not a script): the
 * client's alias in a fixed list of quotes. Built per call from a prepared tail (nothing cached per
 * alias: with a million clients a cache here would be the benchmark's own memory problem).
 */
const rows: string[] = [];
for (let i = 0, len = 0; len < 940; i++) {
  const row = `{"s":"SYM${i}","p":${(100 + i * 1.25).toFixed(2)}}`;
  rows.push(row);
  len += row.length + 1;
}
const HEAD = '{"alias":"';
const BODY = `","quotes":[${rows.join(',')}]}`;
/** The tail for an alias of 22 characters (every alias), padded so that the page is 1024 bytes. */
const TAIL22 = BODY.padEnd(1024 - HEAD.length - 22, ' ');

export function page(alias: string): string {
  return alias.length === 22 ? HEAD + alias + TAIL22 : (HEAD + alias + BODY).padEnd(1024, ' ');
}
