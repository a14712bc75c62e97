/**
 * The REST API's error catalog: every error response is `{code, message}` with one of these
 * codes, EMQX's names where EMQX has one. `message` says what went wrong with this request;
 * the catalog's message is the fallback and the description in docs/api.md, whose table a
 * unit test keeps in step with this object.
 *
 * Routes throw `new ApiError(code, message)`; the server is the only place that turns it
 * into a response.
 */

export const API_ERRORS = {
  INVALID_PARAMS: { status: 400, message: 'A log trace\'s fields are invalid (name, filter, times, encoding)' },
  EXCEED_LIMIT: { status: 400, message: 'Creating this would exceed a limit (trace.max_traces log traces): delete some first' },
  BAD_REQUEST: { status: 400, message: 'The request is malformed: invalid JSON, or a body field, query parameter or path parameter is invalid' },
  UNAUTHORIZED: { status: 401, message: 'No credentials: send an API key by HTTP Basic or a login token as Bearer (from loopback none is needed while no API key exists)' },
  BAD_API_KEY_OR_SECRET: { status: 401, message: 'The API key or its secret is wrong, or the key is disabled or expired' },
  BAD_TOKEN: { status: 401, message: 'The bearer token is not one this cluster issued, or was revoked (log in again: POST /api/v5/login)' },
  TOKEN_TIME_OUT: { status: 401, message: 'The bearer token expired (dashboard.token_expired_time): log in again' },
  BAD_USERNAME_OR_PWD: { status: 401, message: 'Login failed: no such user, or a wrong password' },
  LOGIN_LOCKED: { status: 401, message: 'Too many failed logins for this username or from this address: wait for the lock to end (Retry-After)' },
  WRONG_TOKEN_OR_USERNAME: { status: 401, message: 'Logout needs the bearer token of the user named in the body' },
  UNAUTHORIZED_ROLE: { status: 403, message: 'The caller\'s role may not do this (a viewer may only read, log out and change its own password)' },
  USER_NOT_FOUND: { status: 404, message: 'No dashboard user of this name' },
  ERROR_PWD_NOT_MATCH: { status: 400, message: 'The old password is wrong' },
  NOT_ALLOWED: { status: 400, message: 'Not allowed: deleting yourself, or removing the last administrator' },
  NOT_FOUND: { status: 404, message: 'No such endpoint, retained message or listener' },
  RESOURCE_NOT_FOUND: { status: 404, message: 'The named resource does not exist' },
  CLIENTID_NOT_FOUND: { status: 404, message: 'No connected client or session with this client id' },
  METHOD_NOT_ALLOWED: { status: 405, message: 'The endpoint exists but not with this method (see the Allow header)' },
  CONFLICT: { status: 409, message: 'The request conflicts with the current state of the resource' },
  ALREADY_EXISTS: { status: 409, message: 'The resource already exists' },
  DUPLICATE_CONDITION: { status: 409, message: 'A log trace of the same type and filter already starts at the same second' },
  LISTENER_ERROR: { status: 409, message: 'The listener could not be started, stopped or restarted' },
  PAYLOAD_TOO_LARGE: { status: 413, message: 'The request body is larger than 1 MiB' },
  UNSUPPORTED_MEDIA_TYPE: { status: 415, message: 'The request body must be JSON' },
  INTERNAL_ERROR: { status: 500, message: 'The node failed while handling the request' },
  SERVICE_UNAVAILABLE: { status: 503, message: 'The node is draining or stopping' },
} as const satisfies Record<string, { status: number; message: string }>;

export type ApiErrorCode = keyof typeof API_ERRORS;

export class ApiError extends Error {
  readonly code: ApiErrorCode;
  readonly status: number;
  /** Extra response headers (Allow for 405, WWW-Authenticate for 401). */
  readonly headers: Record<string, string> | null;

  constructor(code: ApiErrorCode, message?: string, headers?: Record<string, string>) {
    super(message ?? API_ERRORS[code].message);
    this.name = 'ApiError';
    this.code = code;
    this.status = API_ERRORS[code].status;
    this.headers = headers ?? null;
  }
}
