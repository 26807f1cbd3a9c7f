// Request bodies as real clients send them (api.md, Errors). The portal's axios
// sends `Content-Type: application/json` on every request, bodiless ones
// included, so an empty body is no body whatever its content type; a route
// that needs a body says so in the one error shape; a body that is not JSON
// (text/plain, form data) is a 415.
import type { FastifyRequest } from 'fastify';
import fp from 'fastify-plugin';
import { AppError, ValidationError } from '../domain/errors.js';

const isEmpty = (body: string | Buffer) => body.length === 0 || (typeof body === 'string' ? body : body.toString('latin1')).trim() === '';

const notJson = () =>
  new AppError(415, 'UNSUPPORTED_MEDIA_TYPE', 'The request body is not JSON; send it with content-type application/json');

export default fp(
  async (app) => {
    // Same JSON parsing as Fastify's own (prototype poisoning refused), but nothing to parse is no body.
    const parseJson = app.getDefaultJsonParser('error', 'error');
    app.removeAllContentTypeParsers();
    app.addContentTypeParser('application/json', { parseAs: 'string' }, (request: FastifyRequest, body: string | Buffer, done) => {
      if (isEmpty(body)) {
        done(null, undefined);
        return;
      }
      parseJson(request, body as string, done);
    });
    // Any other content type (or none, with a body): empty is no body, anything else is not JSON.
    app.addContentTypeParser('*', { parseAs: 'buffer' }, (_request: FastifyRequest, body: string | Buffer, done) => {
      if (isEmpty(body)) done(null, undefined);
      else done(notJson(), undefined);
    });

    app.addHook('preValidation', async (request) => {
      const schema = request.routeOptions.schema?.body as { safeParse?: (value: unknown) => { success: boolean } } | undefined;
      // A body schema that accepts no body (an optional body) lets the request through.
      if (request.body === undefined && schema !== undefined && schema.safeParse?.(undefined).success !== true) {
        throw new ValidationError('a JSON body is required', [{ path: '', message: 'a JSON body is required' }]);
      }
    });
  },
  { name: 'bodies' },
);
