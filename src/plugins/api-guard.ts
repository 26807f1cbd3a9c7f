// Guards /api/v1 (registered inside that prefix): a per-client rate limit,
// then, when API_KEYS is set, a bearer key on every write. Reads, probes and
// /metrics stay open, as the existing callers expect.
import { createHash, timingSafeEqual } from 'node:crypto';
import rateLimit from '@fastify/rate-limit';
import fp from 'fastify-plugin';
import { AppError } from '../domain/errors.js';

export interface ApiGuardOptions {
  readonly apiKeys: readonly string[];
  readonly rateLimitMax: number;
  readonly rateLimitWindowMs: number;
}

const WRITES = new Set(['POST', 'PUT', 'DELETE', 'PATCH']);

class UnauthorizedError extends AppError {
  constructor(message: string) {
    super(401, 'UNAUTHORIZED', message);
  }
}

const digest = (key: string) => createHash('sha256').update(key, 'utf8').digest();

/**
 * Checks a presented key against every configured key in constant time: both
 * sides are hashed to the same length first, and every key is compared
 * whatever the earlier comparisons found.
 */
export function keyChecker(keys: readonly string[]): (presented: string) => boolean {
  const known = keys.map(digest);
  return (presented) => {
    const given = digest(presented);
    let match = false;
    for (const key of known) match = timingSafeEqual(key, given) || match;
    return match;
  };
}

const seconds = (ms: number) => Math.max(1, Math.ceil(ms / 1000));

export default fp<ApiGuardOptions>(
  async (api, options) => {
    await api.register(rateLimit, {
      max: options.rateLimitMax,
      timeWindow: options.rateLimitWindowMs,
      keyGenerator: (request) => request.ip,
      errorResponseBuilder: (_request, context) =>
        new AppError(
          429,
          'RATE_LIMITED',
          `Too many requests: at most ${context.max} per ${seconds(options.rateLimitWindowMs)} s from one client; retry in ${seconds(context.ttl)} s`,
          [],
          seconds(context.ttl),
        ),
    });

    if (options.apiKeys.length === 0) return;
    const valid = keyChecker(options.apiKeys);
    api.addHook('onRequest', async (request, reply) => {
      if (!WRITES.has(request.method)) return;
      const header = request.headers.authorization;
      const bearer = typeof header === 'string' ? /^Bearer[ ]+([^\s]+)[ ]*$/i.exec(header) : null;
      reply.header('www-authenticate', 'Bearer realm="globeco-order-generation"');
      if (bearer === null) throw new UnauthorizedError('This request changes data and needs an API key: send "authorization: Bearer <key>"');
      if (!valid(bearer[1]!)) throw new UnauthorizedError('The API key is not valid');
      reply.removeHeader('www-authenticate');
    });
  },
  { name: 'api-guard' },
);
