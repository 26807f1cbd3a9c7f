// Ties the app to the telemetry the process started (if any): its metrics
// registry is what OTLP metric exports read, and closing it sends what is buffered.
import fp from 'fastify-plugin';
import { telemetry } from './state.js';

export default fp(
  async (app) => {
    telemetry.registry = app.metrics.registry;
    app.addHook('onClose', async () => {
      await telemetry.stop?.();
    });
  },
  { name: 'telemetry', dependencies: ['metrics'] },
);
