/**
 * Runs `temporal server start-dev` as a child process: for the demo, the tests and the benchmarks.
 * We start it ourselves instead of TestWorkflowEnvironment.createLocal(): its 5 s start-up budget is
 * too short on a loaded 2-core machine, and we want the UI and a database file for restart tests.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { createServer } from 'node:net';
import { Connection } from '@temporalio/client';
import { requireTemporalCli } from './temporal-cli';

/** Search attributes the product writes; registered at start-up. */
export const SEARCH_ATTRIBUTES = { IotHub: 'Keyword', PolicySyncPhase: 'Keyword' } as const;

export interface DevServerOptions {
  /** gRPC port; 0 picks a free one. @default 0 */
  port?: number;
  /** Web UI port; 0 picks a free one. @default 0 */
  uiPort?: number;
  /** Serve the UI. @default true */
  ui?: boolean;
  /** Persist to this SQLite file (survives a restart); in memory when unset. */
  dbFile?: string;
  namespace?: string;
  /** How long to wait for the frontend. @default 120000 */
  startTimeoutInMs?: number;
  /** Register the product's search attributes (SEARCH_ATTRIBUTES) at start. @default true */
  searchAttributes?: boolean;
  /** Server log lines go here. @default dropped */
  onLog?: (line: string) => void;
}

export interface DevServer {
  readonly address: string;
  readonly port: number;
  readonly uiPort?: number;
  readonly uiUrl?: string;
  readonly namespace: string;
  readonly process: ChildProcess;
  stop(): Promise<void>;
}

export async function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = createServer();
    server.once('error', reject);
    server.listen(0, '127.0.0.1', () => {
      const address = server.address();
      const port = typeof address === 'object' && address ? address.port : 0;
      server.close(() => resolve(port));
    });
  });
}

export async function startDevServer(options: DevServerOptions = {}): Promise<DevServer> {
  const cli = requireTemporalCli();
  const port = options.port || (await freePort());
  const ui = options.ui ?? true;
  const uiPort = ui ? options.uiPort || (await freePort()) : undefined;
  const namespace = options.namespace ?? 'default';
  const args = ['server', 'start-dev', '--ip', '127.0.0.1', '--port', String(port), '--namespace', namespace];
  args.push('--log-level', 'warn', '--dynamic-config-value', 'frontend.enableUpdateWorkflowExecution=true');
  if (ui && uiPort) args.push('--ui-port', String(uiPort), '--ui-ip', '127.0.0.1');
  else args.push('--headless');
  if (options.dbFile) args.push('--db-filename', options.dbFile);
  if (options.searchAttributes ?? true)
    for (const [name, type] of Object.entries(SEARCH_ATTRIBUTES))
      args.push('--search-attribute', `${name}=${type}`);

  const child = spawn(cli, args, { stdio: ['ignore', 'pipe', 'pipe'] });
  const onLog = options.onLog;
  const tail: string[] = [];
  const collect = (chunk: Buffer) => {
    for (const line of chunk.toString('utf8').split('\n')) {
      if (!line) continue;
      tail.push(line);
      if (tail.length > 30) tail.shift();
      onLog?.(line);
    }
  };
  child.stdout?.on('data', collect);
  child.stderr?.on('data', collect);
  let exited: number | null | undefined;
  child.once('exit', (code) => (exited = code));

  const address = `127.0.0.1:${port}`;
  const deadline = Date.now() + (options.startTimeoutInMs ?? 120_000);
  for (;;) {
    if (exited !== undefined)
      throw new Error(`temporal server start-dev exited with ${exited}:\n${tail.join('\n')}`);
    try {
      const connection = await Connection.connect({ address, connectTimeout: 2_000 });
      try {
        await connection.workflowService.describeNamespace({ namespace });
        break;
      } finally {
        await connection.close();
      }
    } catch (error) {
      if (Date.now() > deadline) {
        child.kill('SIGKILL');
        throw new Error(
          `Temporal dev server did not answer on ${address}: ${String(error)}\n${tail.join('\n')}`,
          {
            cause: error,
          },
        );
      }
      await new Promise((r) => setTimeout(r, 250));
    }
  }

  return {
    address,
    port,
    uiPort,
    uiUrl: uiPort ? `http://127.0.0.1:${uiPort}` : undefined,
    namespace,
    process: child,
    async stop() {
      if (exited !== undefined) return;
      const done = new Promise<void>((resolve) => child.once('exit', () => resolve()));
      child.kill('SIGTERM');
      const timer = setTimeout(() => child.kill('SIGKILL'), 10_000);
      await done;
      clearTimeout(timer);
    },
  };
}
