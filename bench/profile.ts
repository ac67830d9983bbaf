/**
 * A V8 CPU profile of a vendor process attributed to the phases of a secure request (a module, not a
 * script): routing, parsing, the challenge, the record lookup, the signature base and MAC, replay
 * bookkeeping and the commit, the handler, sealing, and the HTTP work around them (the framework,
 * Node's HTTP parser and header writing, socket I/O), GC, and native time outside JavaScript.
 *
 * Each sample goes to the innermost frame on its stack that names a phase (by function name; the
 * bench bundles keep names), so `utf8()` inside `responseAad()` inside `sealResponse()` is sealing.
 * Samples whose stack passes through node:crypto are also counted as the phase's "primitive" share:
 * the native HMAC / AES-GCM / SHA-256 calls, the part that is the floor's.
 */
import { Session } from 'node:inspector/promises';

interface ProfileNode {
  id: number;
  callFrame: { functionName: string; url: string };
  children?: number[];
}

export interface CpuProfile {
  nodes: ProfileNode[];
  samples: number[];
  timeDeltas: number[];
  startTime: number;
  endTime: number;
}

const PHASES: Record<string, string> = {};
const phase = (name: string, fns: string[]) => fns.forEach((f) => (PHASES[f] = name));
phase('routing', ['classify', 'splitTarget', 'canonicalPath', 'answers', 'handles']);
phase('parsing', ['parseDelivery', 'parseSecureRequest', 'parseSignature', 'parseCanonical', 'parseSignatureGeneral', 'parseKeyid', 'canonicalComponents', 'checkHeaderSize', 'nodeHeaders', 'header', 'requireHeader', 'parseAck']);
phase('challenge (check + issue)', ['checkChallenge', 'issueChallenge', 'challengeTag', 'challengeCovered']);
phase('record lookup', ['getClient', 'load', 'record', 'fromRow', 'decryptKey', 'assertRecord', 'assertInGoodStanding', 'publicClient']);
phase('signature base + MAC', ['verifySecureRequest', 'verifyHmac', 'buildBase', 'componentValue', 'fieldValue', 'mac', 'verifyContentDigestAsync', 'expectedDigest', 'slotKey', 'openDelivery', 'decodeRequestBody']);
phase('replay bookkeeping + commit', ['commit', 'flush', 'useAll', 'append', 'checkKey', 'snapshotUsed', 'restoreUsed', 'sync', 'remember', 'take', 'refund', 'checkValues', 'statement']);
phase('handler', ['runHandler', 'handlerOutput', 'page']);
phase('sealing', ['sealDelivery', 'sealResponse', 'responseAad', 'aadOf', 'sealDeliveryError', 'frame', 'ivFor']);
phase('response object + header writing', ['toResponse', 'responseViaResponseObject', 'responseViaCache', 'buildOutgoingHttpHeaders', 'writeHead', '_storeHeader', 'processHeader', 'writeMessage', 'setHeader', 'end', '_finish', 'writeHeaders']);

/** Frames by URL when no function name decided (outermost rules last). */
function byUrl(url: string): string | null {
  if (url.includes('better-sqlite3')) return 'replay bookkeeping + commit';
  if (/node_modules\/pg|pg-protocol/.test(url)) return 'replay bookkeeping + commit';
  if (/hono/.test(url)) return 'framework (Hono, node-server)';
  if (url.startsWith('node:_http') || url.startsWith('node:internal/http')) return 'Node HTTP (parser, server)';
  if (url.startsWith('node:net') || url.startsWith('node:internal/stream') || url.startsWith('node:stream') || url.startsWith('node:internal/streams')) return 'socket I/O';
  return null;
}

/** node:crypto's JavaScript, and the native calls it makes (sampled inside its frames). */
const isCrypto = (f: ProfileNode['callFrame']) => f.url.startsWith('node:internal/crypto') || f.url === 'node:crypto';

export interface Attribution {
  /** Phase -> sampled microseconds, and of them inside node:crypto. */
  phases: Map<string, { us: number; crypto: number }>;
  /** All sampled microseconds that were not idle. */
  busy: number;
}

export function attribute(p: CpuProfile): Attribution {
  const byId = new Map<number, ProfileNode>();
  const parent = new Map<number, number>();
  for (const n of p.nodes) {
    byId.set(n.id, n);
    for (const c of n.children ?? []) parent.set(c, n.id);
  }
  // One answer per node (samples repeat nodes).
  const memo = new Map<number, { phase: string; crypto: boolean }>();
  const classify = (id: number): { phase: string; crypto: boolean } => {
    const known = memo.get(id);
    if (known) return known;
    const leaf = byId.get(id)!.callFrame.functionName;
    let out: { phase: string; crypto: boolean };
    if (leaf === '(garbage collector)') out = { phase: 'GC', crypto: false };
    else if (leaf === '(idle)') out = { phase: '(idle)', crypto: false };
    else if (leaf === '(program)') out = { phase: 'native, outside JavaScript', crypto: false };
    else {
      let crypto = false;
      let found: string | null = null;
      let urlGuess: string | null = null;
      for (let at: number | undefined = id; at !== undefined; at = parent.get(at)) {
        const f = byId.get(at)!.callFrame;
        if (isCrypto(f)) crypto = true;
        const ph = PHASES[f.functionName];
        if (ph) {
          found = ph;
          break;
        }
        urlGuess ??= byUrl(f.url);
      }
      out = { phase: found ?? urlGuess ?? 'other JavaScript', crypto };
    }
    memo.set(id, out);
    return out;
  };
  const phases = new Map<string, { us: number; crypto: number }>();
  let busy = 0;
  for (let i = 0; i < p.samples.length; i++) {
    const dt = p.timeDeltas[i + 1] ?? 0; // the time until the next sample belongs to this one
    const c = classify(p.samples[i]!);
    if (c.phase === '(idle)') continue;
    busy += dt;
    const e = phases.get(c.phase) ?? { us: 0, crypto: 0 };
    e.us += dt;
    if (c.crypto) e.crypto += dt;
    phases.set(c.phase, e);
  }
  return { phases, busy };
}

/** Rows `phase  us/request (primitive us)` scaled so that they add up to `perRequest` (the unprofiled figure). */
export function phaseTable(a: Attribution, requests: number, perRequest?: number): { phase: string; us: number; crypto: number }[] {
  const scale = perRequest !== undefined ? perRequest / (a.busy / requests) : 1;
  return [...a.phases.entries()]
    .map(([phase, v]) => ({ phase, us: (v.us / requests) * scale, crypto: (v.crypto / requests) * scale }))
    .sort((x, y) => y.us - x.us);
}

/** Starts V8's sampling profiler in this process; `stop()` returns the profile. */
export async function startProfile(intervalUs = 50): Promise<{ stop(): Promise<CpuProfile> }> {
  const s = new Session();
  s.connect();
  await s.post('Profiler.enable');
  await s.post('Profiler.setSamplingInterval', { interval: intervalUs });
  await s.post('Profiler.start');
  return {
    async stop() {
      const { profile } = (await s.post('Profiler.stop')) as { profile: CpuProfile };
      await s.post('Profiler.disable');
      s.disconnect();
      return profile;
    },
  };
}
