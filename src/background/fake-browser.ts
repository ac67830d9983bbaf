/**
 * An in-memory stand-in for the extension APIs the worker's key and rule code uses (storage,
 * declarativeNetRequest, alarms), for unit tests that must replay an exact interleaving: every call
 * can be held at a gate and released by the test, so a race is a sequence of steps, not luck.
 */
type Listener = (changes: Record<string, { oldValue?: unknown; newValue?: unknown }>, area: string) => void;

interface Gate {
  /** Resolves when a call reached the gate (it is held there). */
  reached: Promise<void>;
  /** Lets the held call go on. */
  release(): void;
}

export function fakeBrowser() {
  const areas = { local: new Map<string, unknown>(), session: new Map<string, unknown>() };
  const listeners: Listener[] = [];
  let rules: { id: number }[] = [];
  const alarms = new Map<string, unknown>();
  /** Tab id -> the URL it shows (the test moves tabs by setting it). */
  const tabs = new Map<number, string>();
  const gates = new Map<string, { arrive: () => void; wait: Promise<void> }[]>();

  /** The next call named `name` (e.g. "session.get", "dnr.getSessionRules") waits for release(). */
  function hold(name: string): Gate {
    let arrive!: () => void;
    let release!: () => void;
    const reached = new Promise<void>((r) => (arrive = r));
    const wait = new Promise<void>((r) => (release = r));
    const list = gates.get(name) ?? [];
    list.push({ arrive, wait });
    gates.set(name, list);
    return { reached, release };
  }

  async function pass(name: string): Promise<void> {
    await Promise.resolve();
    const g = gates.get(name)?.shift();
    if (g) {
      g.arrive();
      await g.wait;
    }
  }

  const area = (which: 'local' | 'session') => ({
    async get(key: string) {
      // The value as it is when the call is made (a real read returns what storage held then).
      const v = areas[which].has(key) ? structuredClone(areas[which].get(key)) : undefined;
      await pass(`${which}.get`);
      return v === undefined ? {} : { [key]: v };
    },
    async set(items: Record<string, unknown>) {
      await pass(`${which}.set`);
      for (const [k, v] of Object.entries(items)) areas[which].set(k, structuredClone(v));
      for (const l of listeners) l(Object.fromEntries(Object.entries(items).map(([k, v]) => [k, { newValue: v }])), which);
    },
    async remove(key: string) {
      await pass(`${which}.remove`);
      areas[which].delete(key);
      for (const l of listeners) l({ [key]: {} }, which);
    },
  });

  const browser = {
    storage: { local: area('local'), session: area('session'), onChanged: { addListener: (l: Listener) => listeners.push(l) } },
    declarativeNetRequest: {
      async getSessionRules() {
        const now = structuredClone(rules);
        await pass('dnr.getSessionRules');
        return now;
      },
      async updateSessionRules(u: { removeRuleIds?: number[]; addRules?: { id: number }[] }) {
        await pass('dnr.updateSessionRules');
        rules = rules.filter((r) => !(u.removeRuleIds ?? []).includes(r.id));
        for (const r of u.addRules ?? []) {
          if (rules.some((x) => x.id === r.id)) throw new Error(`Rule with id ${r.id} does not have a unique ID`);
          rules.push(structuredClone(r));
        }
      },
    },
    alarms: {
      async create(name: string, info: unknown) {
        alarms.set(name, info);
      },
      async clear(name: string) {
        return alarms.delete(name);
      },
    },
    runtime: {
      id: 'janus-test-id',
      getURL: (path: string) => `chrome-extension://janus-test-id/${path}`,
      sendMessage: async () => undefined,
    },
    tabs: {
      async get(id: number) {
        const url = tabs.get(id);
        if (url === undefined) throw new Error(`No tab with id: ${id}`);
        return { id, url };
      },
    },
    action: { setBadgeText: async () => undefined },
  };

  return { browser, areas, hold, rules: () => rules, alarms, tabs };
}
