/**
 * The lifecycle the end-to-end and chaos files share. Per file: one Temporal connection and the SDK's warning
 * lines. Per scenario (`world`): an emulator this process trusts and the product's worker in-process on a task
 * queue of its own. After the file, every world is torn down, its emulator's secrets and every log written to
 * the run's ledger, which the secrets scan reads.
 */
import { after, before } from 'node:test';
import type { Emulator, EmulatorOptions } from '../../src/emulator';
import { connectTestTemporal, type TestTemporal } from '../support/temporal';
import { recordEmulatorSecrets, recordLogs } from './secrets';
import {
  captureSdkLogs,
  productEnv,
  startInProcessWorker,
  startTrustedEmulator,
  type InProcessWorker,
} from './support';

export interface EmulatorWorld {
  emulator: Emulator;
  worker: InProcessWorker;
  /** Tears the world down now (else after the file); a second call does nothing. */
  close(): Promise<void>;
}

export interface WorldOptions {
  /** Variables added to (or replacing) the worker's environment. */
  env?: Record<string, string>;
  logLevel?: 'DEBUG' | 'INFO' | 'WARN';
}

export interface EmulatorSuite {
  /** The file's Temporal connection (from `before` on). */
  readonly temporal: TestTemporal;
  /** The SDK's WARN and ERROR lines of this process so far (scanned for secrets like the worker's logs). */
  readonly sdkLogs: readonly string[];
  world(name: string, emulatorOptions: EmulatorOptions, options?: WorldOptions): Promise<EmulatorWorld>;
}

/** Registers the file's before/after hooks; `ledgerPrefix` names what the worlds write to the ledger. */
export function useEmulatorSuite(ledgerPrefix: string): EmulatorSuite {
  let temporal: TestTemporal | undefined;
  let sdkLogs: string[] = [];
  const teardowns: (() => Promise<void>)[] = [];

  before(async () => {
    temporal = await connectTestTemporal();
    sdkLogs = captureSdkLogs();
  });
  after(async () => {
    // Every world is torn down and the connection closed even if one teardown fails; the first error is raised.
    const errors: unknown[] = [];
    for (const teardown of teardowns.splice(0).reverse())
      await teardown().catch((error) => errors.push(error));
    await temporal?.close().catch((error: unknown) => errors.push(error));
    if (errors.length > 0) throw errors[0];
  });
  const names = new Set<string>();

  const suite: EmulatorSuite = {
    get temporal(): TestTemporal {
      if (!temporal) throw new Error('useEmulatorSuite: the Temporal connection is opened in before()');
      return temporal;
    },

    get sdkLogs(): readonly string[] {
      return sdkLogs;
    },

    async world(name, emulatorOptions, options = {}) {
      // The name keys the ledger entries and the task queue: two worlds of one name would share both.
      if (names.has(name)) throw new Error(`useEmulatorSuite: a world named '${name}' exists already`);
      names.add(name);
      const connection = suite.temporal;
      const emulator = await startTrustedEmulator(emulatorOptions);
      const started: { worker?: InProcessWorker } = {};
      let closed = false;
      const close = async (): Promise<void> => {
        if (closed) return;
        closed = true;
        try {
          await started.worker?.stop();
        } finally {
          try {
            recordEmulatorSecrets(`${ledgerPrefix}-${name}`, emulator);
            recordLogs(`${ledgerPrefix}-${name}`, [...(started.worker?.logs ?? []), ...sdkLogs].join('\n'));
          } finally {
            await emulator.close();
          }
        }
      };
      teardowns.push(close);
      const worker = await startInProcessWorker(
        connection,
        productEnv(emulator, connection, `${connection.taskQueue}-${name}`, options.env),
        options.logLevel ? { logLevel: options.logLevel } : {},
      );
      started.worker = worker;
      return { emulator, worker, close };
    },
  };
  return suite;
}
