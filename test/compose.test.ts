/**
 * docker-compose.yml checked without a Docker engine: against the Compose specification's JSON schema
 * (the one dclint ships) with ajv, plus what the schema cannot say (every depends_on names a service,
 * the product's own expectations). A deliberately broken copy must be rejected by the same checks.
 */
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, it } from 'node:test';
import Ajv from 'ajv';
import addFormats from 'ajv-formats';
import { parse } from 'yaml';

const root = join(__dirname, '..');
// The schema is draft-07, ajv's default dialect; its `$schema` spells the meta-schema's https address,
// which ajv does not know by that name, so it is dropped rather than fetched.
const { $schema: _dialect, ...schema } = JSON.parse(
  readFileSync(join(root, 'node_modules', 'dclint', 'schemas', 'compose.schema.json'), 'utf8'),
) as Record<string, unknown>;

type Service = {
  image?: string;
  build?: unknown;
  depends_on?: string[] | Record<string, { condition?: string }>;
  profiles?: string[];
  deploy?: { replicas?: number | string };
  command?: string[] | string;
  environment?: Record<string, unknown>;
  volumes?: (string | { source?: string; target?: string })[];
};
type ComposeFile = { services: Record<string, Service>; volumes?: Record<string, unknown> };

const ajv = new Ajv({ allErrors: true, strict: false });
addFormats(ajv);
const validateSchema = ajv.compile(schema);

/** Every problem with a compose document: schema violations, then cross-references. */
function composeProblems(doc: unknown): string[] {
  const problems: string[] = [];
  if (!validateSchema(doc)) {
    for (const error of validateSchema.errors ?? [])
      problems.push(`schema: ${error.instancePath || '/'} ${error.message}`);
  }
  const services = (doc as Partial<ComposeFile>).services ?? {};
  for (const [name, service] of Object.entries(services)) {
    const deps = service.depends_on;
    const names = Array.isArray(deps) ? deps : Object.keys(deps ?? {});
    for (const dep of names) {
      if (!(dep in services))
        problems.push(`services.${name}.depends_on names '${dep}', which is not a service`);
    }
    if (!service.image && !service.build) problems.push(`services.${name} has neither image nor build`);
  }
  return problems;
}

function loadCompose(): ComposeFile {
  // Compose resolves YAML merge keys (<<), as YAML 1.1 did; the yaml package needs to be told.
  return parse(readFileSync(join(root, 'docker-compose.yml'), 'utf8'), { merge: true }) as ComposeFile;
}

describe('docker-compose.yml', () => {
  it('validates against the Compose specification and every depends_on names a service', () => {
    assert.deepEqual(composeProblems(loadCompose()), []);
  });

  it('runs Temporal on PostgreSQL, the UI, scalable workers, the search attributes at setup, the emulator as a profile', () => {
    const { services } = loadCompose();
    assert.match(services.postgresql?.image ?? '', /^postgres:/);
    assert.match(services.temporal?.image ?? '', /^temporalio\/(auto-setup|server):/);
    assert.equal(services.temporal?.environment?.DB, 'postgres12');
    assert.match(services['temporal-ui']?.image ?? '', /^temporalio\/ui:/);
    const worker = services.worker;
    assert.ok(worker?.build, 'the worker is built from this repository');
    assert.ok(Number(worker.deploy?.replicas) >= 2, 'several worker replicas share the task queue');
    assert.deepEqual(worker.command, ['worker']);
    const setup = [services['temporal-setup']?.command].flat().join('\n');
    assert.match(setup, /temporal operator search-attribute create/);
    for (const name of ['IotHub', 'PolicySyncPhase']) assert.match(setup, new RegExp(`\\b${name}\\b`));
    assert.ok(
      !Array.isArray(worker.depends_on) &&
        worker.depends_on?.['temporal-setup']?.condition === 'service_completed_successfully',
      'workers start once the search attributes exist',
    );
    assert.deepEqual(services.emulator?.profiles, ['emulator']);
  });

  it('runs the emulator reachable as https://emulator:8443, its state on the volume the workers mount', () => {
    const { services, volumes } = loadCompose();
    const emulator = services.emulator!;
    const command = [emulator.command].flat().map(String);
    const flag = (name: string): string | undefined => command[command.indexOf(name) + 1];
    assert.equal(command[0], 'emulator');
    assert.equal(flag('--host'), '0.0.0.0');
    assert.equal(flag('--public-host'), 'emulator');
    assert.equal(flag('--port'), '8443');
    const stateDir = flag('--state-dir');
    assert.ok(stateDir, 'the emulator writes its CA bundle and files to --state-dir');
    const mount = (emulator.volumes ?? []).map(String).find((v) => v.split(':')[1] === stateDir);
    const volume = mount?.split(':')[0] ?? '';
    assert.ok(volume in (volumes ?? {}), `--state-dir ${stateDir} is a named volume: ${mount}`);
    assert.ok(
      (services.worker?.volumes ?? []).map(String).some((v) => v.startsWith(`${volume}:`)),
      'the workers mount the same volume',
    );
  });

  it('rejects a broken copy: schema violations and a dangling depends_on', () => {
    const broken = loadCompose() as unknown as { services: Record<string, Record<string, unknown>> };
    const worker = broken.services.worker!;
    worker.deploy = { replicas: ['two'] };
    worker.restart_policy = 'always';
    worker.depends_on = { 'temporal-setupp': { condition: 'service_completed_successfully' } };
    broken.services.postgresql!.healthcheck = { test: ['CMD-SHELL', 'pg_isready'], interval: 5 };
    const problems = composeProblems(broken);
    assert.ok(
      problems.some((p) => p.startsWith('schema: /services/worker/deploy/replicas')),
      problems.join('\n'),
    );
    assert.ok(
      problems.some((p) => p.includes('must NOT have additional properties')),
      problems.join('\n'),
    );
    assert.ok(
      problems.some((p) => p.includes("names 'temporal-setupp'")),
      problems.join('\n'),
    );
  });

  it('rejects a file that is not a compose document at all', () => {
    assert.notDeepEqual(composeProblems({ services: 'worker' }), []);
    assert.notDeepEqual(composeProblems({ servics: {} }), []);
  });
});
