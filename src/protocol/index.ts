/** The Janus protocol core: pure, platform-free, the same in the extension, a page and Node. */
export * from './constants.ts';
export * from './identity.ts';
export * from './janus.ts';
export * from './slot.ts';
export * from './http.ts';
export * from './secure.ts';
export * from './discovery.ts';
export * from './paths.ts';
export * from './tokens.ts';
export * from './payword.ts';
export * from './receipt.ts';
export * from './record.ts';
export * from './credential.ts';
export * from './skep.ts';
export * from './delivery.ts';
export * from './client-fetch.ts';
export * from './rotate.ts';
export { JanusError, ERRORS, isErrorCode, type ErrorCode } from '../errors.ts';
