// One keep-alive connection pool per service (undici) and JSON in and out,
// every payload parsed with a zod schema: an unexpected answer is a clear
// error naming the service, the path and what was wrong, never a silent zero.
import { Pool } from 'undici';
import type { z } from 'zod';
import { readablePath } from '../domain/validation.js';
import { UpstreamHttpError, UpstreamNetworkError, UpstreamUnavailableError, type ServiceKey } from './errors.js';

export interface HttpAnswer {
  readonly status: number;
  readonly body: unknown;
}

export interface ServiceHttp {
  readonly service: ServiceKey;
  /** One exchange; 2xx (and 404 to a GET: "none") come back, other statuses throw UpstreamHttpError. */
  exchange(method: 'GET' | 'POST', path: string, signal: AbortSignal, body?: unknown): Promise<HttpAnswer>;
  close(): Promise<void>;
}

/** `retry-after` in ms: delta-seconds or an HTTP date. */
export function retryAfterMs(value: string | string[] | undefined, now = Date.now()): number | undefined {
  const text = Array.isArray(value) ? value[0] : value;
  if (text === undefined || text.trim() === '') return undefined;
  if (/^\d+$/.test(text.trim())) return Number(text.trim()) * 1000;
  const at = Date.parse(text);
  return Number.isNaN(at) ? undefined : Math.max(0, at - now);
}

function errorDetail(body: string): string {
  try {
    const parsed = JSON.parse(body) as { error?: { message?: unknown }; message?: unknown };
    const message = parsed.error?.message ?? parsed.message;
    if (typeof message === 'string') return message.slice(0, 200);
  } catch {
    // not JSON: fall through to the raw text
  }
  return body.slice(0, 200);
}

export function createServiceHttp(service: ServiceKey, baseUrl: string, connections: number): ServiceHttp {
  const url = new URL(baseUrl);
  const prefix = url.pathname.replace(/\/+$/, '');
  const pool = new Pool(url.origin, { connections, keepAliveTimeout: 10_000 });

  return {
    service,
    async exchange(method, path, signal, body) {
      let response;
      try {
        response = await pool.request({
          method,
          path: `${prefix}${path}`,
          signal,
          headers: { accept: 'application/json', ...(body === undefined ? {} : { 'content-type': 'application/json' }) },
          ...(body === undefined ? {} : { body: JSON.stringify(body) }),
        });
      } catch (error) {
        if (signal.aborted) throw error;
        throw new UpstreamNetworkError(service, method, path, error);
      }
      let text: string;
      try {
        text = await response.body.text();
      } catch (error) {
        if (signal.aborted) throw error;
        throw new UpstreamNetworkError(service, method, path, error);
      }
      const status = response.statusCode;
      // A 404 is an answer to a lookup (upstreams.md); to a write it is an error like any other 4xx.
      if (status === 404 && method === 'GET') return { status, body: null };
      if (status >= 200 && status < 300) {
        try {
          return { status, body: text === '' ? null : (JSON.parse(text) as unknown) };
        } catch {
          throw new UpstreamUnavailableError(service, `${method} ${path}: answered malformed JSON (${JSON.stringify(text.slice(0, 60))})`);
        }
      }
      throw new UpstreamHttpError(service, method, path, status, retryAfterMs(response.headers['retry-after']), errorDetail(text));
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
