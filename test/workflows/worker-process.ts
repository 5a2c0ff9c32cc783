/**
 * A worker in its own process, for the worker-restart test to kill: fake activities that write slowly and
 * print `wrote <deviceId>` for every write.
 * Usage: node --import tsx test/workflows/worker-process.ts <address> <taskQueue> <bundlePath> <deviceCount>
 */
import { setTimeout as delay } from 'node:timers/promises';
import { DefaultLogger, NativeConnection, Runtime, Worker } from '@temporalio/worker';
import { deviceIds, FakeAzure } from './fake-azure';

async function main(): Promise<void> {
  const [address, taskQueue, bundlePath, count] = process.argv.slice(2);
  if (!address || !taskQueue || !bundlePath || !count)
    throw new Error('usage: <address> <taskQueue> <bundlePath> <deviceCount>');
  Runtime.install({ logger: new DefaultLogger('ERROR') });
  const fake = new FakeAzure(deviceIds(Number(count)));
  fake.behavior = async ({ deviceId, attempt }, f) => {
    await delay(30);
    const result = f.succeed(deviceId, attempt);
    process.stdout.write(`wrote ${deviceId}\n`);
    return result;
  };
  const connection = await NativeConnection.connect({ address });
  const worker = await Worker.create({
    connection,
    taskQueue,
    workflowBundle: { codePath: bundlePath },
    activities: fake.activities(),
    // After a kill, the server hands this worker's sticky workflow tasks to others after 1 s.
    stickyQueueScheduleToStartTimeout: '1s',
  });
  process.stdout.write('ready\n');
  await worker.run();
}

main().catch((error: unknown) => {
  process.stderr.write(`${String(error)}\n`);
  process.exit(1);
});
