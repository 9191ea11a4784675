// The evdb server: `import { startServer } from 'evdb/server'`.
export { startServer, DEFAULT_PORT, DEFAULT_BODY_LIMIT_BYTES } from './gateway/server.js';
export type { StartServerOptions, EvdbServer } from './gateway/server.js';
export type { ConnectionLimits } from './gateway/connections.js';
export type { TokenSpec, Principal } from './gateway/auth.js';
export type { Role } from './protocol/operations.js';
export { httpStatusOf } from './gateway/problem.js';
export type { FrameHandler, WsSession } from './gateway/ws-session.js';
export type { LogLevel, LogSink } from './telemetry/request-log.js';
export type { WorkerRegistryOptions } from './store/worker-registry.js';
