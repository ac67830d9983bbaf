import { argon2id as nobleArgon2id } from '@noble/hashes/argon2.js';
import { describe, expect, it } from 'vitest';
import { fromHex, toHex } from './bytes.ts';
import { argon2id, JANUS_ARGON2 } from './argon2.ts';

describe('argon2id', () => {
  it('matches the RFC 9106 §5.3 Argon2id test vector', async () => {
    const tag = await argon2id(new Uint8Array(32).fill(1), new Uint8Array(16).fill(2), { m: 32, t: 3, p: 4 }, {
      key: new Uint8Array(8).fill(3),
      personalization: new Uint8Array(12).fill(4),
    });
    expect(toHex(tag)).toBe('0d640df58d78766c08c037a34a8b53c9d01ef0452d75b65eb52520e96b01e659');
  });

  it('reports increasing progress ending at 1 (JavaScript), and start and end (WebAssembly)', async () => {
    const wasm: number[] = [];
    await argon2id(new Uint8Array(32).fill(1), new Uint8Array(16).fill(2), { m: 32, t: 3, p: 4 }, { onProgress: (f) => wasm.push(f), engine: 'wasm' });
    expect(wasm).toEqual([0, 1]);
    const seen: number[] = [];
    await argon2id(new Uint8Array(32).fill(1), new Uint8Array(16).fill(2), { m: 32, t: 3, p: 4 }, {
      onProgress: (f) => seen.push(f),
      engine: 'js',
    });
    expect(seen.length).toBeGreaterThan(1);
    for (let i = 1; i < seen.length; i++) expect(seen[i]!).toBeGreaterThan(seen[i - 1]!);
    expect(seen[0]!).toBeGreaterThan(0);
    expect(seen.at(-1)).toBeCloseTo(1, 9);
  });

  it('agrees with the synchronous noble implementation for other lengths and p = 1', async () => {
    const pw = fromHex('70617373776f7264');
    const salt = fromHex('73616c7473616c7473616c74');
    const opts = { m: 64, t: 2, p: 1 };
    const got = await argon2id(pw, salt, opts, { dkLen: 64 });
    expect(got.length).toBe(64);
    expect(toHex(got)).toBe(toHex(nobleArgon2id(pw, salt, { ...opts, dkLen: 64 })));
  });

  it('yields to the event loop during a long derivation (JavaScript)', async () => {
    let ticks = 0;
    const timer = setInterval(() => ticks++, 1);
    try {
      await argon2id(new Uint8Array(8), new Uint8Array(16), { m: 8192, t: 2, p: 1 }, { engine: 'js' });
    } finally {
      clearInterval(timer);
    }
    expect(ticks).toBeGreaterThan(0);
  });

  it('rejects invalid parameters', async () => {
    const pw = new Uint8Array(4);
    const salt = new Uint8Array(16);
    await expect(argon2id(pw, salt, { m: 31, t: 1, p: 4 })).rejects.toThrow(RangeError); // m < 8p
    await expect(argon2id(pw, salt, { m: 64, t: 0, p: 1 })).rejects.toThrow(RangeError);
    await expect(argon2id(pw, salt, { m: 64, t: 1, p: 0 })).rejects.toThrow(RangeError);
    await expect(argon2id(pw, salt, { m: 64, t: 1.5, p: 1 })).rejects.toThrow(RangeError);
    await expect(argon2id(pw, new Uint8Array(7), { m: 64, t: 1, p: 1 })).rejects.toThrow(/salt/);
    await expect(argon2id(pw, salt, { m: 64, t: 1, p: 1 }, { dkLen: 3 })).rejects.toThrow(/dkLen/);
    await expect(argon2id('pw' as unknown as Uint8Array, salt, { m: 64, t: 1, p: 1 })).rejects.toThrow(TypeError);
  });

  it('WebAssembly and JavaScript agree byte for byte (lanes, passes, memory, tag lengths)', async () => {
    for (const [params, dkLen] of [
      [{ m: 8, t: 1, p: 1 }, 4],
      [{ m: 64, t: 2, p: 1 }, 32],
      [{ m: 256, t: 3, p: 2 }, 64],
      [{ m: 1024, t: 1, p: 4 }, 33],
      [{ m: 4096, t: 4, p: 1 }, 32],
    ] as const) {
      const pw = fromHex('70617373776f7264');
      const salt = new Uint8Array(16).map((_, i) => i * 7);
      const wasm = await argon2id(pw, salt, params, { dkLen, engine: 'wasm' });
      const js = await argon2id(pw, salt, params, { dkLen, engine: 'js' });
      expect(toHex(wasm)).toBe(toHex(js));
    }
  });

  it('at the Janus parameters too, and WebAssembly is what runs by default', async () => {
    const { argon2Engine: _before, ...mod } = await import('./argon2.ts');
    const pw = new TextEncoder().encode('correct horse battery staple');
    const salt = new Uint8Array(32).fill(9);
    const wasm = await mod.argon2id(pw, salt, JANUS_ARGON2);
    expect((await import('./argon2.ts')).argon2Engine).toBe('wasm');
    const js = await mod.argon2id(pw, salt, JANUS_ARGON2, { engine: 'js' });
    expect(toHex(wasm)).toBe(toHex(js));
  });

  it('falls back to JavaScript where WebAssembly cannot run, with the same result', async () => {
    const pw = new Uint8Array(8).fill(5);
    const salt = new Uint8Array(16).fill(6);
    const want = toHex(nobleArgon2id(pw, salt, { m: 64, t: 2, p: 1, dkLen: 32 }));
    const mod = await import('./argon2.ts');
    // What hash-wasm does where a CSP forbids compiling WebAssembly.
    mod._useWasmArgon2(async () => {
      throw new Error("WebAssembly.compile(): Refused to compile or instantiate WebAssembly module because 'wasm-unsafe-eval' is not allowed");
    });
    try {
      expect(toHex(await mod.argon2id(pw, salt, { m: 64, t: 2, p: 1 }))).toBe(want);
      expect(mod.argon2Engine).toBe('js');
      expect(toHex(await mod.argon2id(pw, salt, { m: 64, t: 2, p: 1 }))).toBe(want); // decided once
      await expect(mod.argon2id(pw, salt, { m: 64, t: 2, p: 1 }, { engine: 'wasm' })).rejects.toThrow(/wasm-unsafe-eval/);
    } finally {
      mod._useWasmArgon2(null);
    }
  });

  it('exposes the Janus parameters', () => {
    expect(JANUS_ARGON2).toEqual({ m: 65536, t: 3, p: 1 });
    expect(Object.isFrozen(JANUS_ARGON2)).toBe(true);
  });
});
