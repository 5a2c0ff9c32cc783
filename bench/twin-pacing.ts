/**
 * `node --import tsx bench/twin-pacing.ts`: how close a full twin write comes to the hub's twin-update rate,
 * and how many of its writes the hub answers 429. Per cell (hub limit × fleet) one emulator on the throttled
 * profile with `twinUpdatesPerSec` set to the hub limit; the product's TwinPolicyWriter (GET, then PATCH
 * through the worker-wide twin pacer, built by createAzureAccess as the worker builds it) writes every device
 * from `--concurrency` callers, as the worker's activity slots would. A Throttled failure is retried after
 * its Retry-After, as the activity's retry would.
 *
 * What the emulator saw decides the figures: PATCHes answered 2xx and 429 (request log), the sustained rate
 * once the hub's one-second burst is spent, and devices/s end to end.
 *
 * `--pacer legacy` builds the twin pacer as it was before adaptive pacing (unpaced until the first 429, then
 * 50/s), for the before/after comparison in bench/results/twin-pacing.md.
 */
import tls from 'node:tls';
import { mkdirSync, writeFileSync } from 'node:fs';
import { loadavg } from 'node:os';
import { join, resolve } from 'node:path';
import { parseArgs } from 'node:util';
import { createAzureAccess, type AzureAccessOptions } from '../src/azure/access';
import { isAzureRequestError } from '../src/azure/errors';
import { createAzureAgent } from '../src/azure/http';
import { loadConfig } from '../src/config';
import { startEmulator } from '../src/emulator';
import { sustainedWriteRate, type WriteRecord } from './metrics';

const ROOT = resolve(__dirname, '..');
/**
 * The CAs before any emulator was trusted: each emulator's CA replaces the last one's (they share a subject,
 * and with two trusted OpenSSL may pick the wrong one).
 */
const SYSTEM_CAS = tls.getCACertificates('default');

export interface TwinPacingCell {
  /** The emulator's twinUpdatesPerSec. */
  hubLimitPerSec: number;
  /** What the product was told (IOT_HUB_TWIN_UPDATES_PER_SECOND). */
  configuredPerSec: number;
  fleet: number;
  pacer: 'adaptive' | 'legacy';
  concurrency: number;
  wallMs: number;
  devicesPerSec: number;
  /** Successful PATCHes per second after the hub's burst (one second's worth) was spent. */
  sustainedPerSec: number | null;
  /** sustainedPerSec ÷ hubLimitPerSec. */
  shareOfLimit: number | null;
  patches: number;
  patch429s: number;
  share429: number;
  failedDevices: number;
  loadAverage: [number, number];
}

function log(message: string): void {
  process.stderr.write(`[twin-pacing ${new Date().toISOString().slice(11, 19)}] ${message}\n`);
}

const LEGACY_TWIN_PACING = {
  remainingHeader: undefined,
  assumeLimits: false,
  refillPerSecond: 50,
  burst: 50,
} as const;

async function runCell(options: {
  hubLimitPerSec: number;
  configuredPerSec: number;
  fleet: number;
  pacer: 'adaptive' | 'legacy';
  concurrency: number;
}): Promise<TwinPacingCell> {
  const emulator = await startEmulator({
    port: 0,
    devices: options.fleet,
    profile: 'throttled',
    seed: 7,
    faults: { throttling: { twinUpdatesPerSec: options.hubLimitPerSec } },
  });
  tls.setDefaultCACertificates([...SYSTEM_CAS, emulator.caPem]);
  const config = loadConfig({
    ...emulator.env,
    POLICY_TARGET: 'twin',
    IOT_HUB_TWIN_UPDATES_PER_SECOND: String(options.configuredPerSec),
  });
  const dispatcher = createAzureAgent({ ca: emulator.caPem, connections: 256 });
  const accessOptions: AzureAccessOptions = {
    dispatcher,
    ...(options.pacer === 'legacy' ? { twinPacing: LEGACY_TWIN_PACING } : {}),
  };
  const azure = createAzureAccess(config, accessOptions);
  const writer = azure.writers.twin;
  const deviceIds = Object.keys(emulator.state().devices);
  const document = { bench: 'twin-pacing', version: 1 };
  let failedDevices = 0;
  try {
    // The token first, so that the clock measures writes only.
    await azure.iotHubTokens.getToken();
    emulator.reset({ devices: options.fleet });
    const loadAtStart = loadavg()[0] ?? 0;
    const started = Date.now();
    let next = 0;
    const worker = async () => {
      for (;;) {
        const deviceId = deviceIds[next++];
        if (deviceId === undefined) return;
        for (let attempt = 1; ; attempt++) {
          try {
            await writer.writePolicy({ deviceId, document });
            break;
          } catch (error) {
            const retryable = isAzureRequestError(error) && error.retryable && attempt < 20;
            if (!retryable) {
              failedDevices++;
              log(`${deviceId} failed: ${error instanceof Error ? error.message : String(error)}`);
              break;
            }
            const wait = (isAzureRequestError(error) ? error.retryAfterInMs : undefined) ?? 1000;
            await new Promise((r) => setTimeout(r, wait));
          }
        }
      }
    };
    await Promise.all(Array.from({ length: options.concurrency }, worker));
    const wallMs = Date.now() - started;
    const patches: WriteRecord[] = emulator
      .requestLog()
      .filter((r) => r.method === 'PATCH' && r.path.includes('/twins/'))
      .map((r) => ({ atMs: Date.parse(r.at), status: r.status }));
    const patch429s = patches.filter((p) => p.status === 429).length;
    const sustainedPerSec = sustainedWriteRate(patches, options.hubLimitPerSec);
    return {
      ...options,
      wallMs,
      devicesPerSec: options.fleet / (wallMs / 1000),
      sustainedPerSec,
      shareOfLimit: sustainedPerSec === null ? null : sustainedPerSec / options.hubLimitPerSec,
      patches: patches.length,
      patch429s,
      share429: patches.length ? patch429s / patches.length : 0,
      failedDevices,
      loadAverage: [Number(loadAtStart.toFixed(2)), Number((loadavg()[0] ?? 0).toFixed(2))],
    };
  } finally {
    await azure.close();
    await dispatcher.close();
    await emulator.close();
  }
}

function numbers(flag: string, text: string): number[] {
  return text.split(',').map((part) => {
    const n = Number(part.trim().replace(/_/g, ''));
    if (!Number.isFinite(n) || n <= 0) throw new Error(`${flag}: '${part}' is not a positive number`);
    return n;
  });
}

async function main(): Promise<void> {
  const { values } = parseArgs({
    options: {
      'hub-limits': { type: 'string', default: '50,100,20' },
      fleets: { type: 'string', default: '1000,10000' },
      /** What the product is told; default: the hub limit itself. */
      configured: { type: 'string' },
      pacer: { type: 'string', default: 'adaptive' },
      concurrency: { type: 'string', default: '200' },
      out: { type: 'string', default: 'bench/results/tmp/twin-pacing.json' },
    },
  });
  const pacer = values.pacer;
  if (pacer !== 'adaptive' && pacer !== 'legacy') throw new Error('--pacer must be adaptive or legacy');
  const limits = numbers('--hub-limits', values['hub-limits']);
  const fleets = numbers('--fleets', values.fleets);
  const configured = values.configured ? numbers('--configured', values.configured)[0] : undefined;
  const concurrency = numbers('--concurrency', values.concurrency)[0] ?? 200;
  const cells: TwinPacingCell[] = [];
  const out = resolve(ROOT, values.out);
  for (const fleet of fleets) {
    for (const hubLimitPerSec of limits) {
      log(`hub limit ${hubLimitPerSec}/s × ${fleet} devices, ${pacer} pacer`);
      const cell = await runCell({
        hubLimitPerSec,
        configuredPerSec: configured ?? hubLimitPerSec,
        fleet,
        pacer,
        concurrency,
      });
      log(
        `  ${cell.devicesPerSec.toFixed(1)} devices/s end to end, ${cell.sustainedPerSec?.toFixed(1) ?? '–'}/s ` +
          `sustained (${((cell.shareOfLimit ?? 0) * 100).toFixed(1)}% of the limit), ${cell.patch429s} 429s of ` +
          `${cell.patches} PATCHes (${(cell.share429 * 100).toFixed(2)}%), load ${cell.loadAverage.join('→')}`,
      );
      cells.push(cell);
      mkdirSync(join(out, '..'), { recursive: true });
      writeFileSync(out, `${JSON.stringify({ measuredAt: new Date().toISOString(), cells }, null, 2)}\n`);
    }
  }
}

main().catch((error: unknown) => {
  process.stderr.write(
    `twin-pacing failed: ${error instanceof Error ? (error.stack ?? error.message) : String(error)}\n`,
  );
  process.exit(1);
});
