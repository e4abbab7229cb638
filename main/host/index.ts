/** The browser host's public surface: `createHost` and its options. */
export { type Host, type HostOptions, DEFAULT_MAX_BODY, WIRE_TYPE, createHost } from './server.ts';
export { TOKEN_HEADER, cookieName } from './security.ts';
export { FolderAllowlist, guardDispatch } from './paths.ts';
export { CHANNEL_BODY_LIMITS, UPLOAD_MAX_BODY, bodyLimit } from './limits.ts';
