import { describe, expect, it } from 'vitest';
import { replayable } from './relay-policy.ts';

const fetchOf = (method: unknown) => ({ type: 'page.fetch', payload: { request: { url: 'https://v.example/api', method, headers: [], body: null } } });

describe('replayable', () => {
  it('repeats reads and safe fetches', () => {
    expect(replayable({ type: 'page.routes', payload: {} })).toBe(true);
    expect(replayable({ type: 'page.status', payload: {} })).toBe(true);
    expect(replayable(fetchOf('GET'))).toBe(true);
    expect(replayable(fetchOf('head'))).toBe(true);
  });

  it('never repeats a change: unsafe methods, registration, acknowledgement, unknown or malformed messages', () => {
    for (const m of ['POST', 'PUT', 'PATCH', 'DELETE']) expect(replayable(fetchOf(m)), m).toBe(false);
    expect(replayable(fetchOf(undefined))).toBe(false);
    expect(replayable({ type: 'page.fetch', payload: null })).toBe(false);
    expect(replayable({ type: 'page.register', payload: { data: {} } })).toBe(false);
    expect(replayable({ type: 'page.acknowledge', payload: { which: null } })).toBe(false);
    expect(replayable({ type: 'page.other', payload: {} })).toBe(false);
  });
});
