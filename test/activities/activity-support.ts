/** Test support: runs an activity the way Temporal would retry it, carrying heartbeat details between attempts. */
import { setTimeout as sleep } from 'node:timers/promises';
import { ApplicationFailure } from '@temporalio/common';
import { MockActivityEnvironment } from '@temporalio/testing';
import { DefaultLogger } from '@temporalio/worker';
import { createActivities, createActivityDeps, type ActivityDepsOptions } from '../../src/activities';
import type {
  ApplyPolicyInput,
  ApplyPolicyResult,
  PolicySyncActivities,
} from '../../src/domain/activity-contract';
import { createAzureAgent } from '../../src/azure/http';
import { startEmulator, type Emulator, type EmulatorOptions } from '../../src/emulator';
import { createLogger, type LoggerOptions } from '../../src/logger';
import { configFor, trustEmulator } from '../azure/emulator-support';

/** The SDK's activity logger, quiet: failures are what these tests provoke. */
const quietLogger = new DefaultLogger('ERROR', () => undefined);

export interface ActivitiesAgainstEmulator {
  emulator: Emulator;
  activities: PolicySyncActivities;
  /** Closes the activities' dependencies, their HTTP agent, then the emulator. */
  close(): Promise<void>;
}

/**
 * An emulator this process trusts and the product's activities against it, built as the worker builds them
 * (real credential, real HTTPS), logging JSON lines to `log.write`.
 */
export async function startActivitiesAgainstEmulator(
  emulatorOptions: EmulatorOptions,
  log: Pick<LoggerOptions, 'level' | 'write'>,
  depsOptions: Omit<ActivityDepsOptions, 'dispatcher' | 'logger'> = {},
): Promise<ActivitiesAgainstEmulator> {
  const emulator = await startEmulator(emulatorOptions);
  trustEmulator(emulator);
  const dispatcher = createAzureAgent({ ca: emulator.caPem });
  const deps = createActivityDeps(configFor(emulator), {
    ...depsOptions,
    dispatcher,
    logger: createLogger({ format: 'json', ...log }),
  });
  return {
    emulator,
    activities: createActivities(deps),
    async close() {
      await deps.close();
      await dispatcher.close();
      await emulator.close();
    },
  };
}

export interface RetryRun {
  result?: ApplyPolicyResult;
  failures: ApplicationFailure[];
  final?: ApplicationFailure;
}

/** Runs applySecurityPolicy until it succeeds, fails for good, or maxAttempts pass; delays are capped for speed. */
export async function applyWithRetries(
  activities: PolicySyncActivities,
  input: ApplyPolicyInput,
  options: { maxAttempts?: number; delayCapInMs?: number } = {},
): Promise<RetryRun> {
  const failures: ApplicationFailure[] = [];
  let heartbeatDetails: unknown;
  const maxAttempts = options.maxAttempts ?? 20;
  // As Temporal schedules it: the first attempt now, a 10-minute schedule-to-close budget (the mock's default
  // is 1 s from 1970, which would make every failure final).
  const scheduled = { scheduledTimestampMs: Date.now(), scheduleToCloseTimeoutMs: 600_000 };
  for (let attempt = 1; attempt <= maxAttempts; attempt++) {
    const env = new MockActivityEnvironment(
      { attempt, heartbeatDetails, ...scheduled },
      { logger: quietLogger },
    );
    env.on('heartbeat', (details: unknown) => {
      heartbeatDetails = details;
    });
    try {
      const result: ApplyPolicyResult = await env.run(activities.applySecurityPolicy, input);
      return { result, failures };
    } catch (error) {
      if (!(error instanceof ApplicationFailure)) throw error;
      failures.push(error);
      if (error.nonRetryable) return { failures, final: error };
      const delay = typeof error.nextRetryDelay === 'number' ? error.nextRetryDelay : 200;
      await sleep(Math.min(options.delayCapInMs ?? 300, delay));
    }
  }
  return { failures, final: failures.at(-1) };
}

export async function runActivity<R>(
  fn: () => Promise<R>,
  info: ConstructorParameters<typeof MockActivityEnvironment>[0] = {},
): Promise<R> {
  return new MockActivityEnvironment(info, { logger: quietLogger }).run(fn);
}
