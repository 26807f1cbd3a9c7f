// One keep-alive connection pool per service (undici) and JSON in and out,
// every payload parsed with a zod schema: an unexpected answer is a clear
// error naming the service, the path and what was wrong, never a silent zero.
import type { IncomingHttpHeaders } from 'node:http';
import { type Dispatcher, Pool } from 'undici';
import type { z } from 'zod';
import { readablePath } from '../domain/validation.js';
import { type ServiceKey, UpstreamAnswerToCheck, UpstreamHttpError, UpstreamNetworkError, UpstreamUnavailableError } from './errors.js';

/** `retry-after` in ms: delta-seconds or an HTTP date. */
export function retryAfterMs(value: string | string[] | undefined, now = Date.now()): number | undefined {
  const text = Array.isArray(value) ? value[0] : value;
  if (text === undefined || text.trim() === '') return undefined;
  if (/^\d+$/.test(text.trim())) return Number(text.trim()) * 1000;
  const at = Date.parse(text);
  return Number.isNaN(at) ? undefined : Math.max(0, at - now);
}

/**
 * What an error body says, in whichever shape the service uses (upstreams.md):
 * `{"error":{"message"}}` (Portfolio Accounting), `{"detail": ...}` (FastAPI:
 * a string or a list of problems), Spring's `{"error","message","path","status"}`
 * (an empty message falls back to `error`), an Order service batch answer
 * (`message`), or plain text; `parsed` is the body as bodyOf reads it.
 */
function errorDetail(text: string, parsed: unknown): string {
  const clip = (value: string) => value.trim().slice(0, 200);
  if (typeof parsed === 'string') return clip(parsed);
  if (parsed === null || typeof parsed !== 'object' || Array.isArray(parsed)) return clip(text);
  const body = parsed as Record<string, unknown>;
  const nested = body.error as Record<string, unknown> | string | undefined;
  if (nested !== null && typeof nested === 'object' && typeof nested.message === 'string' && nested.message.trim() !== '') {
    return clip(nested.message);
  }
  if (typeof body.detail === 'string') return clip(body.detail);
  if (Array.isArray(body.detail)) {
    const problems = body.detail.map((d) =>
      d !== null && typeof d === 'object' && typeof (d as { msg?: unknown }).msg === 'string'
        ? (d as { msg: string }).msg
        : JSON.stringify(d),
    );
    return clip(problems.join('; '));
  }
  if (typeof body.message === 'string' && body.message.trim() !== '') return clip(body.message);
  if (typeof nested === 'string' && nested.trim() !== '') return clip(nested);
  return clip(text);
}

/** The body of an answer: JSON when it parses, else the text (null when empty). */
function bodyOf(text: string): unknown {
  if (text === '') return null;
  try {
    return JSON.parse(text) as unknown;
  } catch {
    return text;
  }
}

/**
 * One exchange through the pool, its whole body collected as text: undici's
 * dispatch with a handler that keeps the chunks (no body stream per answer;
 * thousands are read per rebalance). Rejects with undici's error, or the
 * signal's reason once it aborts.
 */
function send(
  pool: Pool,
  options: Dispatcher.DispatchOptions,
  signal: AbortSignal,
): Promise<{ status: number; headers: IncomingHttpHeaders; text: string }> {
  return new Promise((resolve, reject) => {
    if (signal.aborted) {
      reject(signal.reason);
      return;
    }
    let control: Dispatcher.DispatchController | null = null;
    const reason = () => (signal.reason instanceof Error ? signal.reason : new Error('the call was aborted'));
    // Still waiting for a connection: the call fails now, and the request is aborted when it starts.
    const abort = () => (control === null ? reject(reason()) : control.abort(reason()));
    signal.addEventListener('abort', abort, { once: true });
    let status = 0;
    let headers: IncomingHttpHeaders = {};
    let chunks: Buffer[] = [];
    pool.dispatch(options, {
      onRequestStart(controller) {
        control = controller;
        if (signal.aborted) controller.abort(reason());
      },
      onResponseStart(_controller, statusCode, responseHeaders) {
        // 1xx answers come first and carry no body: the last start is the answer.
        status = statusCode;
        headers = responseHeaders;
        chunks = [];
      },
      onResponseData(_controller, chunk) {
        chunks.push(chunk);
      },
      onResponseEnd() {
        signal.removeEventListener('abort', abort);
        const bytes = chunks.length === 1 ? chunks[0]! : Buffer.concat(chunks);
        // As a body's text(): UTF-8, a leading byte-order mark dropped.
        const start = bytes.length >= 3 && bytes[0] === 0xef && bytes[1] === 0xbb && bytes[2] === 0xbf ? 3 : 0;
        resolve({ status, headers, text: bytes.toString('utf8', start) });
      },
      onResponseError(_controller, error) {
        signal.removeEventListener('abort', abort);
        reject(error);
      },
    });
  });
}

export type ServiceHttp = ReturnType<typeof createServiceHttp>;

export function createServiceHttp(service: ServiceKey, baseUrl: string, connections: number) {
  const url = new URL(baseUrl);
  const prefix = url.pathname.replace(/\/+$/, '');
  const pool = new Pool(url.origin, { connections, keepAliveTimeout: 10_000 });

  return {
    service,
    /**
     * One exchange; 2xx and 404 to a GET ("none", body null) come back, other statuses throw UpstreamHttpError,
     * save `answers`: statuses the caller looks into itself rather than failures (an Accounting summary's 500
     * that may mean "no balances yet"), thrown as UpstreamAnswerToCheck, neither retried nor counted by the circuit.
     */
    async exchange(
      method: 'GET' | 'POST',
      path: string,
      signal: AbortSignal,
      options: { readonly body?: unknown; readonly answers?: readonly number[] } = {},
    ) {
      const { body } = options;
      let answer;
      try {
        answer = await send(
          pool,
          {
            method,
            path: `${prefix}${path}`,
            headers: { accept: 'application/json', ...(body === undefined ? {} : { 'content-type': 'application/json' }) },
            ...(body === undefined ? {} : { body: JSON.stringify(body) }),
          },
          signal,
        );
      } catch (error) {
        if (signal.aborted) throw error;
        throw new UpstreamNetworkError(error);
      }
      const { status, text } = answer;
      // A 404 is an answer to a lookup (upstreams.md); to a write it is an error like any other 4xx.
      if (status === 404 && method === 'GET') return { status, body: null };
      if (options.answers?.includes(status) === true) throw new UpstreamAnswerToCheck(status);
      if (status >= 200 && status < 300) {
        try {
          return { status, body: text === '' ? null : (JSON.parse(text) as unknown) };
        } catch {
          throw new UpstreamUnavailableError(service, `${method} ${path}: answered malformed JSON (${JSON.stringify(text.slice(0, 60))})`);
        }
      }
      const answered = bodyOf(text);
      throw new UpstreamHttpError(status, retryAfterMs(answer.headers['retry-after']), errorDetail(text, answered), answered);
    },
    close: () => pool.close(),
  };
}

/** Parses an upstream payload, or fails naming the service, the path and the first problem. */
export function parsePayload<S extends z.ZodType>(schema: S, body: unknown, service: ServiceKey, where: string): z.output<S> {
  const result = schema.safeParse(body);
  if (result.success) return result.data;
  const issue = result.error.issues[0];
  const field = issue === undefined ? '' : readablePath(issue.path as (string | number)[]);
  throw new UpstreamUnavailableError(
    service,
    `${where}: answered an unexpected payload (${field === '' ? 'the body' : field} ${issue?.message ?? 'is invalid'})`,
  );
}
