/**
 * docker-compose.yml checked without a Docker engine: against the Compose specification's JSON schema
 * (the one dclint ships) with ajv, plus what the schema cannot say (every depends_on names a service,
 * the product's own expectations). A deliberately broken copy must be rejected by the same checks.
 */
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, it } from 'node:test';
import Ajv from 'ajv';
import addFormats from 'ajv-formats';
import { parse } from 'yaml';
import { jsonDeviceRows } from '../src/inventory/devices-file';
import { loadPoliciesFile } from '../src/inventory/policies';

const root = join(__dirname, '..');
// The schema is draft-07, ajv's default dialect; its `$schema` spells the meta-schema's https address,
// which ajv does not know by that name, so it is dropped rather than fetched.
const { $schema: _dialect, ...schema } = JSON.parse(
  readFileSync(join(root, 'node_modules', 'dclint', 'schemas', 'compose.schema.json'), 'utf8'),
) as Record<string, unknown>;

type Service = {
  image?: string;
  ports?: string[];
  healthcheck?: { test?: string[] };
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

  it("is accepted by docker-compose's own `config -q` (1.x refuses what the schema allows, e.g. a top-level name)", () => {
    // .ci/run installs Debian's docker-compose and sets REQUIRE_DOCKER_COMPOSE: in CI this never skips.
    const binary = ['/usr/bin/docker-compose', '/usr/local/bin/docker-compose'].find((p) => existsSync(p));
    if (!binary && process.env.REQUIRE_DOCKER_COMPOSE)
      assert.fail('docker-compose is not installed (.ci/run installs it)');
    if (!binary) return;
    const result = spawnSync(binary, ['-f', join(root, 'docker-compose.yml'), 'config', '-q'], {
      cwd: root,
      encoding: 'utf8',
      env: { PATH: process.env.PATH ?? '', HOME: process.env.HOME ?? '' },
    });
    assert.equal(result.status, 0, `${result.stdout}${result.stderr}`);
    const named = spawnSync(binary, ['-f', '-', 'config', '-q'], {
      cwd: root,
      encoding: 'utf8',
      input: `name: x\n${readFileSync(join(root, 'docker-compose.yml'), 'utf8')}`,
    });
    assert.notEqual(named.status, 0, 'the same check refuses a top-level name');
  });

  it('runs Temporal (start-dev, persisted) with its UI and the search attributes, scalable workers, the emulator as a profile', () => {
    const { services, volumes } = loadCompose();
    const temporal = services.temporal!;
    assert.match(temporal.image ?? '', /^temporalio\/temporal:/);
    assert.doesNotMatch(JSON.stringify(services), /auto-setup/);
    const command = [temporal.command].flat().map(String);
    assert.deepEqual(command.slice(0, 2), ['server', 'start-dev']);
    assert.equal(command[command.indexOf('--db-filename') + 1], '/home/temporal/temporal.db');
    assert.ok((temporal.volumes ?? []).map(String).some((v) => v.split(':')[0]! in (volumes ?? {})));
    for (const name of ['IotHub', 'PolicySyncPhase'])
      assert.ok(command.includes(`${name}=Keyword`), `search attribute ${name}`);
    assert.ok(temporal.healthcheck?.test?.includes('health'));
    const worker = services.worker;
    assert.ok(worker?.build, 'the worker is built from this repository');
    assert.ok(Number(worker.deploy?.replicas) >= 2, 'several worker replicas share the task queue');
    assert.deepEqual(worker.command, ['worker']);
    assert.ok(
      !Array.isArray(worker.depends_on) && worker.depends_on?.temporal?.condition === 'service_healthy',
      'workers start once Temporal answers',
    );
    assert.deepEqual(services.emulator?.profiles, ['emulator']);
  });

  it('publishes ports on 127.0.0.1 unless BIND_ADDRESS says otherwise', () => {
    const { services } = loadCompose();
    const published = Object.values(services).flatMap((service) => service.ports ?? []);
    assert.ok(published.length >= 3, published.join(', '));
    for (const port of published) assert.match(port, /^\$\{BIND_ADDRESS:-127\.0\.0\.1\}:\d+:\d+$/, port);
  });

  it('ships sample config the workers load, and .env.example agrees with the defaults', async () => {
    const devices = jsonDeviceRows(
      JSON.parse(readFileSync(join(root, 'config', 'devices.json'), 'utf8')),
      'config/devices.json',
    );
    assert.ok(devices.length > 0);
    const { documents, rejected } = await loadPoliciesFile(join(root, 'config', 'policies.json'));
    assert.deepEqual(rejected, []);
    for (const row of devices) {
      assert.equal(row.problem, undefined, `row ${row.row}`);
      assert.ok(documents.has(String(row.policy)), `row ${row.row}: policy ${String(row.policy)}`);
    }
    const example = readFileSync(join(root, '.env.example'), 'utf8');
    assert.doesNotMatch(
      example,
      /^POLICY_TARGET=(?!arm$)/m,
      'the example does not contradict the default target',
    );
    const { services } = loadCompose();
    const env = services.worker?.environment ?? {};
    assert.equal(env.DEVICES_FILE, '${DEVICES_FILE:-/config/devices.json}');
    assert.equal(env.POLICIES_FILE, '${POLICIES_FILE:-/config/policies.json}');
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
    broken.services.temporal!.healthcheck = { test: ['CMD', 'true'], interval: 5 };
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
