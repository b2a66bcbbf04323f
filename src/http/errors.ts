/**
 * Every error the HTTP endpoint answers with, in one place: the command registry's failure codes
 * and the endpoint's own refusals, each with its status. Bodies are `{"error": text, "code": code}`;
 * docs/errors.md lists the codes.
 */
import type { FailureCode } from '../commands/registry.js';

/** A command's failure as an HTTP status. */
export const FAILURE_STATUS: Readonly<Record<FailureCode, number>> = {
  bad_arguments: 400,
  forbidden: 403,
  not_found: 404,
  // The route's command is not registered (a plugin unregistered it, or this build lacks it).
  unknown_command: 404,
  // It already is so.
  conflict: 409,
  // Understood and well-formed, but a rule or a plugin hook said no.
  refused: 422,
  internal: 500,
  unavailable: 503,
};

/** Refusals made by the endpoint itself, before or instead of any command. */
export const REFUSAL_STATUS = {
  /** The body is not JSON, or not a JSON object. */
  bad_json: 400,
  /** Missing or wrong `Authorization: Bearer <token>`. */
  unauthorized: 401,
  /** An `Origin` other than this server's own, or `Sec-Fetch-Site` other than same-origin/none. */
  cross_origin: 403,
  /** No route by that path. */
  no_route: 404,
  /** The path exists, the method does not. */
  method_not_allowed: 405,
  /** The body is larger than the limit. */
  body_too_large: 413,
  /** A body (or a POST/PUT/PATCH/DELETE) without `Content-Type: application/json`. */
  unsupported_media_type: 415,
  /** Without a token: a `Host` header that does not name this machine (DNS rebinding). */
  wrong_host: 421,
} as const;

export type RefusalCode = keyof typeof REFUSAL_STATUS;
export type HttpErrorCode = FailureCode | RefusalCode;

/** A failure that becomes a JSON error response. */
export class HttpError extends Error {
  readonly status: number;

  constructor(
    readonly code: HttpErrorCode,
    message: string,
    /** Extra response headers (WWW-Authenticate, Allow, Connection). */
    readonly headers: Record<string, string> = {},
  ) {
    super(message);
    this.status = code in REFUSAL_STATUS ? REFUSAL_STATUS[code as RefusalCode] : FAILURE_STATUS[code as FailureCode];
  }
}
