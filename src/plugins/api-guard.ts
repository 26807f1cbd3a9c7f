// Guards /api/v1 (registered inside that prefix): when RATE_LIMIT_MAX is set, a
// per-caller rate limit, then, when API_KEYS is set, a bearer key on every
// write. The limit comes first, so guessing keys spends the guesser's budget.
// Reads, probes and /metrics need no key, as the existing callers expect.
import { createHash, timingSafeEqual } from 'node:crypto';
import rateLimit from '@fastify/rate-limit';
import type { FastifyReply, FastifyRequest } from 'fastify';
import fp from 'fastify-plugin';
import type { Config } from '../config.js';
import { AppError } from '../domain/errors.js';

const WRITES = new Set(['POST', 'PUT', 'DELETE', 'PATCH']);
/** POSTs that only read (a query too long for a URL): no key needed. */
const READ_POSTS = new Set(['/api/v1/rebalances/portfolios']);

const unauthorized = (message: string) => new AppError(401, 'UNAUTHORIZED', message);

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

/** The key of "authorization: Bearer <key>"; null without the header, undefined when it is there but not that. */
function presentedKey(header: string | undefined): string | null | undefined {
  if (header === undefined || header.trim() === '') return null;
  return /^Bearer[ ]+([^\s]+)[ ]*$/i.exec(header)?.[1];
}

const seconds = (ms: number) => Math.max(1, Math.ceil(ms / 1000));

export default fp<Pick<Config, 'apiKeys' | 'rateLimit'>>(
  async (api, options) => {
    const valid = options.apiKeys.length === 0 ? undefined : keyChecker(options.apiKeys);
    // Who the request is, decided once: a valid key's digest, or else the client address.
    const callers = new WeakMap<FastifyRequest, { key: string | null | undefined; validKey: string | undefined }>();
    const callerOf = (request: FastifyRequest) => {
      let caller = callers.get(request);
      if (caller === undefined) {
        const key = presentedKey(request.headers.authorization);
        const validKey = valid !== undefined && typeof key === 'string' && valid(key) ? digest(key).toString('hex') : undefined;
        caller = { key, validKey };
        callers.set(request, caller);
      }
      return caller;
    };

    let limit: ((request: FastifyRequest, reply: FastifyReply) => Promise<unknown>) | undefined;
    const max = options.rateLimit.max;
    if (max !== undefined) {
      await api.register(rateLimit, {
        global: false,
        max,
        timeWindow: options.rateLimit.windowMs,
        keyGenerator: (request) => {
          const { validKey } = callerOf(request);
          return validKey === undefined ? `address:${request.ip}` : `key:${validKey}`;
        },
        errorResponseBuilder: (request, context) =>
          new AppError(
            429,
            'RATE_LIMITED',
            `Too many requests: at most ${context.max} per ${seconds(options.rateLimit.windowMs)} s from one ${callerOf(request).validKey === undefined ? 'client address' : 'API key'}; retry in ${seconds(context.ttl)} s`,
            [],
            seconds(context.ttl),
          ),
      });
      limit = api.rateLimit();
    }

    api.addHook('onRequest', async (request, reply) => {
      if (limit !== undefined) await limit.call(api, request, reply);
      if (valid === undefined || !WRITES.has(request.method) || READ_POSTS.has(request.routeOptions.url ?? '')) return;
      const { key, validKey } = callerOf(request);
      if (validKey !== undefined) return;
      reply.header('www-authenticate', 'Bearer realm="globeco-order-generation"');
      if (key === null) throw unauthorized('This request changes data and needs an API key: send "authorization: Bearer <key>"');
      throw unauthorized('The API key is not valid');
    });
  },
  { name: 'api-guard' },
);
