/**
 * Test support: an emulator the in-process clients trust (MSAL via Node's default CAs, undici via its
 * Agent), and the product's Azure access built from the emulator's environment, as the worker builds it.
 */
import tls from 'node:tls';
import { createAzureAccess, type AzureAccess, type AzureAccessOptions } from '../../src/azure/access';
import { createAzureAgent } from '../../src/azure/http';
import { loadConfig, type WorkerConfig } from '../../src/config';
import { startEmulator, type Emulator, type EmulatorOptions } from '../../src/emulator';

export interface TestWorld {
  emulator: Emulator;
  config: WorkerConfig;
  azure: AzureAccess;
  close(): Promise<void>;
}

/** The process's CAs before any emulator was trusted. */
const systemCAs = tls.getCACertificates('default');

/**
 * Makes in-process TLS clients (MSAL through @azure/identity) trust this emulator. Replaces the CA of an
 * earlier emulator rather than adding to it: every emulator CA has the same subject and no key
 * identifiers, so with two of them trusted OpenSSL may pick the wrong one and refuse the chain.
 */
export function trustEmulator(emulator: Emulator): void {
  tls.setDefaultCACertificates([...systemCAs, emulator.caPem]);
}

export function configFor(emulator: Emulator, overrides: Record<string, string> = {}): WorkerConfig {
  return loadConfig({ ...emulator.env, ...overrides });
}

export async function startTestWorld(
  options: EmulatorOptions = {},
  env: Record<string, string> = {},
  accessOptions: AzureAccessOptions = {},
): Promise<TestWorld> {
  const emulator = await startEmulator({ devices: 20, ...options });
  trustEmulator(emulator);
  const config = configFor(emulator, env);
  const dispatcher = createAzureAgent({ ca: emulator.caPem });
  const azure = createAzureAccess(config, { dispatcher, ...accessOptions });
  return {
    emulator,
    config,
    azure,
    async close() {
      await dispatcher.close();
      await emulator.close();
    },
  };
}

/** Tokens the emulator saw on requests to `pathPart`, in order. */
export function tokensOn(
  emulator: Emulator,
  pathPart: string,
): { status: number; token: string | undefined; deviceId?: string }[] {
  return emulator
    .requestLog()
    .filter((r) => r.path.includes(pathPart))
    .map((r) => ({ status: r.status, token: r.token, ...(r.deviceId ? { deviceId: r.deviceId } : {}) }));
}
