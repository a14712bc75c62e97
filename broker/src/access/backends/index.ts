/**
 * The external access-control backends: Redis, PostgreSQL, MySQL/MariaDB and HTTP, each as an
 * authenticator kind (`password_based:<backend>`) and an authorization source kind (`<backend>`).
 */
export { redisAuthnKind, redisAuthzKind } from './redis.js';
export { postgresqlAuthnKind, postgresqlAuthzKind } from './postgresql.js';
export { mysqlAuthnKind, mysqlAuthzKind } from './mysql.js';
export { httpAuthnKind, httpAuthzKind } from './http.js';
