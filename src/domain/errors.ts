// The error hierarchy: thrown where a rule is broken, turned into the one JSON
// error shape of api.md by plugins/errors.ts.

export interface ErrorDetail {
  readonly path: string;
  readonly message: string;
}

export type ErrorCode =
  | 'VALIDATION_ERROR'
  | 'UNAUTHORIZED'
  | 'NOT_FOUND'
  | 'METHOD_NOT_ALLOWED'
  | 'VERSION_CONFLICT'
  | 'CONFLICT'
  | 'PAYLOAD_TOO_LARGE'
  | 'UNSUPPORTED_MEDIA_TYPE'
  | 'REQUEST_TIMEOUT'
  | 'INFEASIBLE'
  | 'RATE_LIMITED'
  | 'UPSTREAM_UNAVAILABLE'
  | 'OVERLOADED'
  | 'NOT_READY'
  | 'INTERNAL';

export class AppError extends Error {
  constructor(
    readonly statusCode: number,
    readonly code: ErrorCode,
    message: string,
    readonly details: readonly ErrorDetail[] = [],
    /** Seconds a client should wait before retrying, sent as `retry-after`. */
    readonly retryAfterSeconds?: number,
  ) {
    super(message);
    this.name = new.target.name;
  }
}

export class ValidationError extends AppError {
  constructor(message: string, details: readonly ErrorDetail[] = []) {
    super(400, 'VALIDATION_ERROR', message, details);
  }
}

export class NotFoundError extends AppError {
  constructor(message: string) {
    super(404, 'NOT_FOUND', message);
  }
}

export class VersionConflictError extends AppError {
  constructor(message: string) {
    super(409, 'VERSION_CONFLICT', message);
  }
}

export class ConflictError extends AppError {
  constructor(message: string, details: readonly ErrorDetail[] = []) {
    super(409, 'CONFLICT', message, details);
  }
}

/** One portfolio cannot be valued (an unknown security, no usable price): reported in its own element, not fatal to the others. */
export class PortfolioCannotBeValued extends AppError {
  constructor(message: string) {
    super(422, 'INFEASIBLE', message);
  }
}
