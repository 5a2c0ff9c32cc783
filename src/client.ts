/**
 * Connecting to Temporal from a Config: the CLI's Client and the worker's NativeConnection share these
 * options (address, namespace, mTLS for self-hosted or Temporal Cloud, or a Temporal Cloud API key).
 */
import { readFileSync } from 'node:fs';
import { Client, Connection, type ConnectionOptions } from '@temporalio/client';
import type { Config } from './config';

/** What both Connection.connect and NativeConnection.connect take. */
export interface TemporalConnectionOptions {
  address: string;
  tls?: { clientCertPair: { crt: Buffer; key: Buffer } } | true;
  apiKey?: string;
  metadata?: Record<string, string>;
}

/** Connection options for `config.temporal`; reads the mTLS certificate and key files when set. */
export function temporalConnectionOptions(temporal: Config['temporal']): TemporalConnectionOptions {
  const options: TemporalConnectionOptions = { address: temporal.address };
  if (temporal.tlsCertPath && temporal.tlsKeyPath) {
    options.tls = {
      clientCertPair: { crt: readFileSync(temporal.tlsCertPath), key: readFileSync(temporal.tlsKeyPath) },
    };
  }
  if (temporal.apiKey) {
    // Temporal Cloud with an API key: TLS on, and the namespace header routes the call.
    options.apiKey = temporal.apiKey;
    options.tls ??= true;
    options.metadata = { 'temporal-namespace': temporal.namespace };
  }
  return options;
}

/** A Client on `config.temporal.namespace`; close it with `client.connection.close()`. */
export async function connectClient(
  config: Pick<Config, 'temporal'>,
  options: Pick<ConnectionOptions, 'connectTimeout'> = {},
): Promise<Client> {
  const connection = await Connection.connect({ ...temporalConnectionOptions(config.temporal), ...options });
  return new Client({ connection, namespace: config.temporal.namespace });
}
