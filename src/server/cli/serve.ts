/** `janus-vendor serve`: a vendor as a reverse proxy in front of the site's own server (docs/CLI.md). */
import type { AddressInfo } from 'node:net';
import { dirname, isAbsolute, relative, resolve } from 'node:path';
import { useCryptoProvider } from '../../crypto/provider.ts';
import { JanusError } from '../../errors.ts';
import { resolveConfig, type VendorConfig } from '../config.ts';
import { nodeCryptoProvider } from '../node-crypto.ts';
import { displayStoreLocation, parseStoreLocation } from '../open-store.ts';
import { createProxy } from '../proxy.ts';
import { cwdOf, EXIT, inputError, required, usage, type Command } from './command.ts';
import { databaseOption, openDatabase, readServeConfig, vendorConfigOf, type ServeConfig } from './config.ts';

/**
 * Secrets kept in the database's folder travel with every copy of it: the KEK there makes the
 * "a copy of the database alone yields no client key" promise void, and the private key there
 * signs receipts for whoever copies it. Each such file is one warning line.
 */
export function keyPlacementWarnings(cfg: Pick<ServeConfig, 'database' | 'keys'>): string[] {
  const where = parseStoreLocation(cfg.database);
  // A PostgreSQL database has no folder here that a copy of the keys could travel with.
  if (where.kind === 'postgres' || where.path === ':memory:') return [];
  const dataDir = dirname(where.path);
  const inside = (p: string) => {
    const r = relative(dataDir, p);
    return r !== '' && !r.startsWith('..') && !isAbsolute(r);
  };
  const out: string[] = [];
  if (cfg.keys.kek && inside(cfg.keys.kek)) {
    out.push(`the key-encryption key ${cfg.keys.kek} is in the database's folder ${dataDir}: a copy of that folder yields every client key. Keep it elsewhere (JANUS_KEK from a secrets manager, or a file outside ${dataDir})`);
  }
  if (cfg.keys.privateKey && inside(cfg.keys.privateKey)) {
    out.push(`the vendor's private key ${cfg.keys.privateKey} is in the database's folder ${dataDir}: a copy of that folder can sign receipts. Keep it elsewhere (JANUS_PRIVATE_KEY from a secrets manager, or a file outside ${dataDir})`);
  }
  return out;
}

/**
 * Resolves on SIGINT, SIGTERM or `signal`. Installed before the listening line is printed: a signal
 * with no listener would kill the process outright, without closing the database.
 */
function stopSignal(signal: AbortSignal | undefined): { stopped: Promise<string>; dispose(): void } {
  let dispose = () => {};
  const stopped = new Promise<string>((res) => {
    const done = (why: string) => {
      dispose();
      res(why);
    };
    const onInt = () => done('SIGINT');
    const onTerm = () => done('SIGTERM');
    const onAbort = () => done('stop requested');
    dispose = () => {
      process.off('SIGINT', onInt);
      process.off('SIGTERM', onTerm);
      signal?.removeEventListener('abort', onAbort);
    };
    process.on('SIGINT', onInt);
    process.on('SIGTERM', onTerm);
    if (signal?.aborted) done('stop requested');
    else signal?.addEventListener('abort', onAbort, { once: true });
  });
  return { stopped, dispose };
}

export const serve: Command = {
  name: 'serve',
  summary: "run a vendor as a reverse proxy in front of the site's own server",
  options: { config: { type: 'string' }, database: { type: 'string' } },
  help: `Usage: janus-vendor serve --config <file.json> [--database <path | postgres://...>]

Runs a Janus vendor as a reverse proxy in front of the site's own server (the "upstream"), so a site
adopts Janus without code changes. The vendor answers /.well-known/janus and /.janus/*; a request to
a protected route (sddp, eddp, eddp+receipts) is verified and decrypted, forwarded to the upstream
with the headers Janus-Client-Alias, Janus-Client (b64u JSON of the client, never its key) and
Janus-Client-Level, and the upstream's answer is sealed for the client. Every other request goes to
the upstream as is, with Janus-Client-Alias when a slot credential identifies a client. Headers only
the proxy may set (Janus-Client*, X-Forwarded-*, Forwarded, X-Real-IP, in any case, "_" for "-")
are always removed from what arrives. Protected paths are matched in canonical form (case, escapes,
dot segments and a trailing slash do not matter); an unlisted method on them is 405, an ambiguous
spelling 400.

The config file format is in docs/CLI.md. Keys come from the files in "keys", or from the
environment: JANUS_PRIVATE_KEY (PEM), JANUS_CERTIFICATE (PEM), JANUS_KEK (base64).
Stops on SIGINT or SIGTERM.

Options:
  --config <file>      the JSON config file (relative paths in it resolve against its folder)
  --database <where>   the store, instead of the config's "database": a SQLite file, or a
                       postgres:// URL for several instances on one database
  -h, --help           this help
`,
  async run(v, pos, io) {
    if (pos.length) throw usage(`serve: unexpected argument ${pos[0]}`);
    const file = resolve(cwdOf(io), required(v, 'config', 'serve'));
    const cfg = readServeConfig(file, databaseOption(v, 'serve', io));
    for (const w of keyPlacementWarnings(cfg)) io.err(`janus-vendor: warning: ${w}\n`);
    let config: VendorConfig;
    try {
      config = vendorConfigOf(cfg, io.env ?? process.env);
      resolveConfig(config); // key problems surface here, before the database is created
    } catch (e) {
      if (e instanceof JanusError) throw inputError(`config ${file}: ${e.message}`);
      throw e;
    }
    const store = await openDatabase(cfg.database);
    let proxy: ReturnType<typeof createProxy>;
    try {
      proxy = createProxy({
        config,
        store,
        routes: cfg.routes,
        upstream: cfg.upstream,
        timeoutMs: cfg.upstreamTimeoutSeconds * 1000,
        log: (line) => io.err(line + '\n'),
      });
    } catch (e) {
      await store.close();
      if (e instanceof JanusError) throw inputError(`config ${file}: ${e.message}`);
      throw e;
    }
    const { vendor, server } = proxy;
    const previous = useCryptoProvider(nodeCryptoProvider);
    const stop = stopSignal(io.signal);
    try {
      try {
        await new Promise<void>((res, rej) => {
          server.once('error', rej);
          server.listen(cfg.listen.port, cfg.listen.host, () => {
            server.off('error', rej);
            res();
          });
        });
      } catch (e) {
        throw inputError(`cannot listen on ${cfg.listen.host}:${cfg.listen.port}: ${(e as NodeJS.ErrnoException).code ?? (e as Error).message}`);
      }
      server.on('error', (e) => io.err(`janus-vendor: server error: ${e.message}\n`));
      const addr = server.address() as AddressInfo;
      const host = addr.family === 'IPv6' ? `[${addr.address}]` : addr.address;
      const url = `http://${host}:${addr.port}`;
      io.out(`janus-vendor: vendor ${vendor.config.idV} listening on ${url}, upstream ${cfg.upstream}\n`);
      io.out(`janus-vendor: key fingerprint ${vendor.config.fingerprint}, ${cfg.routes.length} route(s), database ${displayStoreLocation(cfg.database)}\n`);
      if (vendor.config.idV.startsWith('https:')) io.out(`janus-vendor: this serves plain HTTP; terminate TLS for ${vendor.config.idV} in front of it\n`);
      const why = await stop.stopped;
      io.out(`janus-vendor: ${why}, stopping\n`);
      await new Promise<void>((res) => {
        server.close(() => res());
        server.closeAllConnections();
      });
      return EXIT.ok;
    } finally {
      stop.dispose();
      if (server.listening) server.close();
      await vendor.close();
      useCryptoProvider(previous);
    }
  },
};
