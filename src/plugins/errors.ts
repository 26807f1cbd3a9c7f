// Turns every failure, the framework's own included, into the one error shape
// of api.md. 5xx answers never carry internals; they are logged instead.
import { randomUUID } from 'node:crypto';
import { STATUS_CODES } from 'node:http';
import type { Socket } from 'node:net';
import type { FastifyBaseLogger, FastifyError, FastifyReply, FastifyRequest, FastifySchemaValidationError } from 'fastify';
import fp from 'fastify-plugin';
import { AppError, type ErrorCode, type ErrorDetail } from '../domain/errors.js';
import { detail, type PathSegment, summarise } from '../domain/validation.js';
import { isDatabaseUnavailable } from './mongo.js';

const SUBJECTS: Record<string, string> = {
  body: 'the request body',
  querystring: 'the query string',
  params: 'the path',
  headers: 'the headers',
};

function validationDetails(items: readonly FastifySchemaValidationError[], context: string | undefined): ErrorDetail[] {
  const subject = SUBJECTS[context ?? 'body'] ?? 'the request';
  const details: ErrorDetail[] = [];
  for (const item of items) {
    const path: PathSegment[] = item.instancePath
      .split('/')
      .filter((s) => s !== '')
      .map((s) => (/^\d+$/.test(s) ? Number(s) : s));
    const predicate = item.message ?? 'is invalid';
    const keys = item.params?.keys;
    const fields = Array.isArray(keys) && predicate === 'is not a known field' ? (keys as string[]) : [undefined];
    for (const field of fields) details.push(detail(field === undefined ? path : [...path, field], predicate, subject));
  }
  return details;
}

/** What an error answer says: an AppError's fields. */
type ErrorAnswer = Pick<AppError, 'statusCode' | 'code' | 'message' | 'details' | 'retryAfterSeconds'>;

const genericCodes: Record<number, ErrorCode> = {
  400: 'VALIDATION_ERROR',
  401: 'UNAUTHORIZED',
  404: 'NOT_FOUND',
  405: 'METHOD_NOT_ALLOWED',
  409: 'CONFLICT',
  413: 'PAYLOAD_TOO_LARGE',
  415: 'UNSUPPORTED_MEDIA_TYPE',
  429: 'RATE_LIMITED',
};

const answer = (statusCode: number, code: ErrorCode, message: string): ErrorAnswer => ({ statusCode, code, message, details: [] });

// The database is a dependency like the upstreams: the same code, so callers retry it the same way.
const DATABASE_UNAVAILABLE = answer(503, 'UPSTREAM_UNAVAILABLE', 'MongoDB, the service database, is unavailable; retry later');
const INTERNAL = answer(500, 'INTERNAL', 'An internal error occurred; the correlation id identifies it in the service logs');

/** How a failure of the service's own work is answered: the AppError's own, the database's 503, else a 500 without internals. */
export const answerOf = (error: unknown): ErrorAnswer =>
  error instanceof AppError ? error : isDatabaseUnavailable(error) ? DATABASE_UNAVAILABLE : INTERNAL;

function classify(error: FastifyError, bodyLimit: number): ErrorAnswer {
  if (error instanceof AppError) return error;
  if (Array.isArray(error.validation)) {
    const details = validationDetails(error.validation, error.validationContext);
    return { statusCode: 400, code: 'VALIDATION_ERROR', message: summarise(details), details };
  }
  switch (error.code) {
    case 'FST_ERR_CTP_INVALID_JSON_BODY':
      return answer(400, 'VALIDATION_ERROR', 'The request body is not valid JSON');
    case 'FST_ERR_CTP_BODY_TOO_LARGE':
      return answer(413, 'PAYLOAD_TOO_LARGE', `The request body is larger than the limit of ${bodyLimit} bytes`);
    case 'FST_ERR_CTP_INVALID_MEDIA_TYPE':
      return answer(415, 'UNSUPPORTED_MEDIA_TYPE', 'The request content-type is not supported; send application/json');
  }
  const status = error.statusCode ?? 500;
  if (status >= 400 && status < 500 && !isDatabaseUnavailable(error)) {
    // A framework 4xx (bad URL, bad content-length, prototype poisoning...): its message is safe to show.
    return answer(status, genericCodes[status] ?? 'VALIDATION_ERROR', error.message);
  }
  return answerOf(error);
}

/** A 503 always says when to come back; this when its cause did not say. */
export const DEFAULT_503_RETRY_AFTER_S = 5;

export function sendError(request: FastifyRequest, reply: FastifyReply, answer: ErrorAnswer): FastifyReply {
  const retryAfter = answer.retryAfterSeconds ?? (answer.statusCode === 503 ? DEFAULT_503_RETRY_AFTER_S : undefined);
  if (retryAfter !== undefined) reply.header('retry-after', String(retryAfter));
  return reply.code(answer.statusCode).send(errorBody(answer, request.id));
}

/** The one error shape; `detail` repeats `message` for callers written against the Python service (FastAPI's field). */
export function errorBody(answer: ErrorAnswer, correlationId: string) {
  return {
    status_code: answer.statusCode,
    code: answer.code,
    message: answer.message,
    detail: answer.message,
    details: answer.details,
    correlation_id: correlationId,
  };
}

/**
 * Fastify's router failures, answered before any route or hook runs (so the
 * correlation id header is set here): a malformed percent-encoding in the path,
 * or a path parameter above the router's length limit.
 */
export function frameworkErrorHandler(error: FastifyError, request: FastifyRequest, reply: FastifyReply): void {
  reply.header('x-correlation-id', request.id);
  const message =
    error.code === 'FST_ERR_MAX_PARAM_LENGTH'
      ? 'A path parameter is too long to be a valid id'
      : error.code === 'FST_ERR_BAD_URL'
        ? 'The URL path is not valid: it has a malformed percent-encoding'
        : 'The request URL could not be routed';
  request.log.info({ code: 'VALIDATION_ERROR', status: 400, reason: error.code }, 'request rejected');
  void sendError(request, reply, answer(400, 'VALIDATION_ERROR', message));
}

/**
 * Errors below the request (too slow to send, not HTTP, headers too large) in
 * the one error shape; the connection is closed after the answer.
 */
export function clientErrorHandler(requestTimeoutMs: number, log: FastifyBaseLogger) {
  return (error: Error & { code?: string }, socket: Socket): void => {
    if (error.code === 'ECONNRESET' || socket.destroyed) return;
    const [statusCode, code, message]: [number, ErrorCode, string] =
      error.code === 'ERR_HTTP_REQUEST_TIMEOUT'
        ? [408, 'REQUEST_TIMEOUT', `The request was not received in full within ${requestTimeoutMs} ms`]
        : error.code === 'HPE_HEADER_OVERFLOW'
          ? [431, 'VALIDATION_ERROR', 'The request headers are too large']
          : [400, 'VALIDATION_ERROR', 'The request is not valid HTTP'];
    const correlationId = randomUUID();
    log.info({ correlation_id: correlationId, code, status: statusCode, reason: error.code ?? error.message }, 'request rejected');
    const body = JSON.stringify(errorBody(answer(statusCode, code, message), correlationId));
    if (socket.writable) {
      socket.write(
        `HTTP/1.1 ${statusCode} ${STATUS_CODES[statusCode] ?? ''}\r\nconnection: close\r\ncontent-type: application/json; charset=utf-8\r\n` +
          `content-length: ${Buffer.byteLength(body)}\r\nx-correlation-id: ${correlationId}\r\n\r\n${body}`,
      );
    }
    socket.destroy();
  };
}

export default fp<{ bodyLimit: number }>(
  async (app, { bodyLimit }) => {
    app.setErrorHandler((error: FastifyError, request, reply) => {
      const answer = classify(error, bodyLimit);
      if (answer.statusCode >= 500 && !(error instanceof AppError)) {
        request.log.error({ err: error }, 'request failed');
      } else if (answer.statusCode >= 500) {
        request.log.warn({ code: answer.code, status: answer.statusCode, reason: answer.message }, 'request failed');
      } else {
        request.log.info({ code: answer.code, status: answer.statusCode, reason: answer.message }, 'request rejected');
      }
      return sendError(request, reply, answer);
    });

    app.setNotFoundHandler((request, reply) => {
      const path = (request.url.split('?')[0] ?? '').slice(0, 200);
      return sendError(request, reply, answer(404, 'NOT_FOUND', `Route ${request.method} ${path} does not exist`));
    });
  },
  { name: 'errors' },
);
