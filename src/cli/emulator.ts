/** `policy-sync emulator`: the Azure emulator's own command line (src/emulator/cli.ts), run as is. */
import { emulatorUsage, runEmulatorCommand } from '../emulator/cli';
import type { Command } from './args';

export const emulatorCommand: Command = {
  spec: {
    name: 'emulator',
    summary: 'Runs the Azure emulator and prints the export lines that point the product at it.',
    usage: 'emulator [--port 8443] [--devices 300] [--profile calm|seed|hostile|throttled] [--seed N]',
    flags: {},
    notes: [emulatorUsage],
  },
  execute: (argv, ctx) =>
    runEmulatorCommand(argv, {
      signal: ctx.signal,
      stdout: ctx.stdout as NodeJS.WritableStream,
      stderr: ctx.stderr as NodeJS.WritableStream,
    }),
};
