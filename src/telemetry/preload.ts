// Loaded first, with `node --import ./dist/src/telemetry/preload.js` (npm start,
// the Dockerfile): when the configuration turns OpenTelemetry on, starts the
// SDK before the service's modules load so that they can be instrumented.
// Otherwise it loads nothing more. A configuration error is left to server.ts to report.
import { loadEnvironment } from '../config.js';

const settings = loadEnvironment(() => undefined)?.telemetry;
if (settings !== undefined && (settings.traces !== 'none' || settings.metrics !== 'none')) {
  const { startTelemetry } = await import('./sdk.js');
  await startTelemetry(settings);
}
