/**
 * Without the Temporal CLI and without Go (a fresh laptop), the demo stops with a message that says how to
 * get the CLI on this platform; with a CLI on PATH or in TEMPORAL_CLI_PATH, that one is used.
 */
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { chmodSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, describe, it } from 'node:test';
import {
  requireTemporalCli,
  resolveTemporalCli,
  TemporalCliNotFoundError,
  temporalCliInstallHelp,
} from '../../src/devserver/temporal-cli';
import { BIN, show, type CliResult } from '../cli/helpers';

const empty = mkdtempSync(join(tmpdir(), 'no-temporal-'));
after(() => rmSync(empty, { recursive: true, force: true }));

describe('the Temporal CLI', () => {
  it('is not found with PATH stripped and no TEMPORAL_CLI_PATH; the error says how to install it', () => {
    const env = { PATH: empty };
    assert.equal(resolveTemporalCli({ env }), undefined);
    assert.throws(
      () => requireTemporalCli({ env }),
      (error: unknown) => {
        assert.ok(error instanceof TemporalCliNotFoundError);
        assert.equal(error.code, 'TEMPORAL_CLI_NOT_FOUND');
        assert.match(error.message, /no `temporal` on PATH and no Go/);
        assert.ok(error.message.includes(temporalCliInstallHelp()));
        return true;
      },
    );
  });

  it('names every install route, with the download for the platform', () => {
    const linux = temporalCliInstallHelp('linux', 'x64');
    assert.match(linux, /brew install temporal/);
    assert.match(linux, /https:\/\/temporal\.download\/cli\/archive\/latest\?platform=linux&arch=amd64/);
    assert.match(linux, /https:\/\/github\.com\/temporalio\/cli\/releases/);
    assert.match(linux, /go install github\.com\/temporalio\/cli\/cmd\/temporal@v\d/);
    assert.match(linux, /TEMPORAL_CLI_PATH/);
    const windows = temporalCliInstallHelp('win32', 'arm64');
    assert.match(windows, /platform=windows&arch=arm64/);
    assert.doesNotMatch(windows, /brew/);
  });

  it('takes TEMPORAL_CLI_PATH, then `temporal` on PATH', () => {
    const fake = join(empty, 'temporal');
    writeFileSync(fake, '#!/bin/sh\n');
    chmodSync(fake, 0o755);
    assert.equal(resolveTemporalCli({ env: { PATH: empty } }), fake);
    assert.equal(resolveTemporalCli({ env: { PATH: '', TEMPORAL_CLI_PATH: fake } }), fake);
    assert.throws(
      () => resolveTemporalCli({ env: { PATH: '', TEMPORAL_CLI_PATH: join(empty, 'nothing') } }),
      /TEMPORAL_CLI_PATH=\S+nothing is not an executable file/,
    );
    rmSync(fake);
  });

  it('`policy-sync demo` without it exits 1 with the install routes, nothing else started', async () => {
    const result = await new Promise<CliResult>((resolve) => {
      const child = spawn(process.execPath, [BIN, 'demo', '--exit'], {
        env: { PATH: empty, HOME: empty },
        cwd: empty,
        stdio: ['ignore', 'pipe', 'pipe'],
      });
      let stdout = '';
      let stderr = '';
      child.stdout.on('data', (chunk: Buffer) => (stdout += chunk.toString('utf8')));
      child.stderr.on('data', (chunk: Buffer) => (stderr += chunk.toString('utf8')));
      child.once('close', (code, signal) => resolve({ code, signal, stdout, stderr }));
    });
    assert.equal(result.code, 1, show(result));
    assert.match(result.stderr, /policy-sync: No Temporal CLI: /, show(result));
    assert.match(result.stderr, /brew install temporal/, show(result));
    assert.match(result.stderr, /go install github\.com\/temporalio\/cli/, show(result));
    assert.doesNotMatch(result.stderr, /Starting the Azure emulator|\n\s+at /, show(result));
  });
});
