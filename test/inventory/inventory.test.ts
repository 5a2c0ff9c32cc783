import assert from 'node:assert/strict';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { deviceIdProblem } from '../../src/inventory/device-id';
import { InventoryStore, loadInventory } from '../../src/inventory/inventory';
import { isInventoryError } from '../../src/inventory/errors';

let dir: string;
before(async () => {
  dir = await mkdtemp(join(tmpdir(), 'inventory-test-'));
});
after(async () => {
  await rm(dir, { recursive: true, force: true });
});

async function file(name: string, content: string | Buffer): Promise<string> {
  const path = join(dir, name);
  await writeFile(path, content);
  return path;
}

const policies = { default: { version: 1 }, baseline: { version: 3, rules: [] }, strict: { version: 5 } };

void describe('deviceIdProblem', () => {
  void it("accepts IoT Hub's allowed set and refuses the rest", () => {
    assert.equal(deviceIdProblem("a-b.c+d%e_f#g*h?i!j(k)l,m:n=o@p$q'r"), undefined);
    assert.equal(deviceIdProblem('x'.repeat(128)), undefined);
    assert.match(deviceIdProblem('x'.repeat(129)) ?? '', /129 characters .* at most 128/);
    assert.match(deviceIdProblem('a b') ?? '', /' ' \(space\)/);
    assert.match(deviceIdProblem('a/b') ?? '', /'\/'/);
    assert.match(deviceIdProblem('café') ?? '', /'é'/);
    assert.match(deviceIdProblem('') ?? '', /empty/);
  });

  void it("refuses '.' and '..', percent-encoded once or more, which would leave their URL segment", () => {
    for (const id of ['.', '..', '%2e', '%2E%2e', '.%2e', '%252e%252E', '%2525252e']) {
      assert.match(deviceIdProblem(id) ?? '', /relative path segment/, id);
    }
    for (const id of ['...', '.a', 'a.', '%2e%2e%2e', '%', '%zz', 'a%2e']) {
      assert.equal(deviceIdProblem(id), undefined, id);
    }
  });
});

void describe("device ids '.' and '..' in a devices file", () => {
  void it('are rejected by row, naming the id, and the other devices load', async () => {
    const policiesFile = await file('policies-dots.json', JSON.stringify(policies));
    const devicesFile = await file(
      'dots.json',
      JSON.stringify([{ deviceId: '..' }, { deviceId: '.' }, { deviceId: '%2e%2e' }, { deviceId: 'ok-1' }]),
    );
    const inventory = await loadInventory({ source: 'file', devicesFile, policiesFile });
    assert.deepEqual(inventory.devices, [{ deviceId: 'ok-1', policy: 'default' }]);
    assert.deepEqual(
      inventory.rejected.map((r) => [
        r.row,
        /deviceId '(.*?)' is a relative path segment/.exec(r.reason)?.[1],
      ]),
      [
        [1, '..'],
        [2, '.'],
        [3, '%2e%2e'],
      ],
    );
  });
});

void describe('an inventory whose every row is refused', () => {
  void it('is unusable as a whole (naming the file and the first rows), while one good row is enough to go on', async () => {
    const policiesFile = await file('policies-all-refused.json', JSON.stringify(policies));
    const rows = ['a b,default', 'c/d,default', 'e,nope', 'f,nope', 'g,nope'];
    const devicesFile = await file('all-refused.csv', ['deviceId,policy', ...rows].join('\n'));
    await assert.rejects(loadInventory({ source: 'file', devicesFile, policiesFile }), (error: unknown) => {
      assert.ok(isInventoryError(error));
      assert.equal(error.code, 'InvalidInventoryFile');
      assert.equal(error.path, devicesFile);
      assert.match(
        error.message,
        /none of its 5 device rows can be synced \(row 1: deviceId 'a b' contains ' '/,
      );
      assert.match(error.message, /row 3: policy 'nope' of device 'e'/);
      assert.match(error.message, /and 2 more\); fix the rows and run again$/);
      return true;
    });
    // Every row refused for its policy: the message points at POLICIES_FILE.
    const onlyPolicies = await file('only-policies.csv', ['deviceId,policy', 'e,nope', 'f,nope'].join('\n'));
    await assert.rejects(
      loadInventory({ source: 'file', devicesFile: onlyPolicies, policiesFile }),
      new RegExp(
        `every row names a policy POLICIES_FILE ${policiesFile} does not provide: fix that file or the rows`,
      ),
    );
    const oneGood = await file('one-good.csv', ['deviceId,policy', ...rows, 'h,default'].join('\n'));
    const inventory = await loadInventory({ source: 'file', devicesFile: oneGood, policiesFile });
    assert.deepEqual(inventory.devices, [{ deviceId: 'h', policy: 'default' }]);
    assert.equal(inventory.rejected.length, 5);
  });
});

void describe('a 1,000-row CSV inventory with 50 bad rows of different kinds', () => {
  void it('yields 950 devices and 50 precise rejections', async () => {
    const lines: string[] = ['\uFEFFdeviceId,policy'];
    const expected = new Map<number, RegExp>();
    let row = 0;
    const push = (line: string, reason?: RegExp) => {
      row += 1;
      lines.push(line);
      if (reason) expected.set(row, reason);
    };
    for (let i = 1; i <= 1000; i++) {
      const id = `dev-${String(i).padStart(4, '0')}`;
      const kind = i % 20 === 0 ? (i / 20) % 7 : -1;
      switch (kind) {
        case 0:
          push(`dev ${i},baseline`, /^deviceId 'dev \d+' contains ' ' \(space\)/);
          break;
        case 1:
          push(
            `${'x'.repeat(130)}${i},baseline`,
            /^deviceId is 13\d characters long; IoT Hub allows at most 128/,
          );
          break;
        case 2:
          push(`,strict`, /^deviceId is empty/);
          break;
        case 3:
          push(`dev-0001,strict`, /^deviceId 'dev-0001' duplicates row 1; the first one is kept/);
          break;
        case 4:
          push(`${id},gold`, new RegExp(`^policy 'gold' of device '${id}' is not in POLICIES_FILE`));
          break;
        case 5:
          push(`${id},baseline,extra`, /^row has 3 fields but the header has 2/);
          break;
        default:
          if (kind === 6) push(`"${id}/x",baseline`, /contains '\/', which IoT Hub does not allow/);
          else if (i % 3 === 0)
            push(`"${id}",""`); // quoted, empty policy → default
          else if (i % 3 === 1) push(`${id},baseline`);
          else push(`${id}`); // no policy column → default
      }
      if (i % 100 === 0) lines.push(''); // blank lines are not rows
    }
    const devicesFile = await file('devices.csv', `${lines.join('\r\n')}\r\n`);
    const policiesFile = await file('policies.json', JSON.stringify(policies));
    const inventory = await loadInventory({ source: 'file', devicesFile, policiesFile });

    assert.equal(expected.size, 50);
    assert.equal(inventory.devices.length, 950);
    assert.equal(inventory.rejected.length, 50);
    for (const rejection of inventory.rejected) {
      assert.equal(rejection.source, devicesFile);
      const reason = expected.get(rejection.row);
      assert.ok(reason, `unexpected rejection of row ${rejection.row}: ${rejection.reason}`);
      assert.match(rejection.reason, reason, `row ${rejection.row}`);
      assert.match(rejection.reason, /\(line \d+\)$/, 'names the line too');
    }
    assert.deepEqual(inventory.devices[0], { deviceId: 'dev-0001', policy: 'baseline' });
    assert.deepEqual(inventory.devices[1], { deviceId: 'dev-0002', policy: 'default' });
    assert.deepEqual(inventory.devices[2], { deviceId: 'dev-0003', policy: 'default' });
    assert.match(inventory.id, /^inv-[0-9a-f]{40}$/);
  });
});

void describe('JSON devices file', () => {
  void it('rejects bad rows precisely and keeps the rest', async () => {
    const devicesFile = await file(
      'devices.json',
      JSON.stringify([
        { deviceId: 'a', policy: 'baseline' },
        { deviceId: 'b' },
        'c',
        { deviceId: 7 },
        { policy: 'baseline' },
        { deviceId: 'd', policy: 3 },
        { deviceId: 'a', policy: 'strict' },
        null,
      ]),
    );
    const policiesFile = await file('policies2.json', JSON.stringify(policies));
    const inventory = await loadInventory({ source: 'file', devicesFile, policiesFile });
    assert.deepEqual(inventory.devices, [
      { deviceId: 'a', policy: 'baseline' },
      { deviceId: 'b', policy: 'default' },
    ]);
    assert.deepEqual(
      inventory.rejected.map((r) => [r.row, r.reason.split(/[,:]/)[0]]),
      [
        [3, 'row must be an object like {"deviceId"'],
        [4, 'deviceId must be a string'],
        [5, 'deviceId is missing'],
        [6, 'policy must be a string naming a policy in POLICIES_FILE'],
        [7, "deviceId 'a' duplicates row 1; the first one is kept"],
        [8, 'row must be an object like {"deviceId"'],
      ],
    );
  });
});

void describe('POLICIES_FILE', () => {
  void it('rejects a document over 32 KB or not an object, and the devices naming it', async () => {
    const devicesFile = await file('d3.csv', 'deviceId,policy\nok,small\nbig-one,huge\narr,list\n');
    const policiesFile = await file(
      'p3.json',
      JSON.stringify({ small: { a: 1 }, huge: { blob: 'x'.repeat(33 * 1024) }, list: [1, 2] }),
    );
    const inventory = await loadInventory({ source: 'file', devicesFile, policiesFile });
    assert.deepEqual(inventory.devices, [{ deviceId: 'ok', policy: 'small' }]);
    assert.equal(inventory.rejected.length, 4);
    assert.match(inventory.rejected[0]!.reason, /policy 'huge': the document is \d+ bytes; at most 32768/);
    assert.equal(inventory.rejected[0]!.source, policiesFile);
    assert.equal(inventory.rejected[0]!.row, 2);
    assert.match(
      inventory.rejected[1]!.reason,
      /policy 'list': the document must be a JSON object, not an array/,
    );
    assert.match(
      inventory.rejected[2]!.reason,
      /policy 'huge' of device 'big-one' was rejected in POLICIES_FILE/,
    );
  });
});

void describe('a deeply nested policy document', () => {
  void it('is refused by name with the depth limit, its devices are rejected, the rest load', async () => {
    // 10,000 nested arrays: 20 KB, under the size limit, but deeper than any recursive walk can go.
    const deep = `${'['.repeat(10_000)}${']'.repeat(10_000)}`;
    const devicesFile = await file('d-deep.csv', 'deviceId,policy\nok,small\nnested,deep\nedge,limit\n');
    // 32 levels (the document itself and 31 arrays) is the most allowed.
    const limit = { a: JSON.parse(`${'['.repeat(31)}${']'.repeat(31)}`) as unknown };
    const policiesFile = await file(
      'p-deep.json',
      `{"small":{"a":1},"deep":{"x":${deep}},"limit":${JSON.stringify(limit)}}`,
    );
    const inventory = await loadInventory({ source: 'file', devicesFile, policiesFile });
    assert.deepEqual(inventory.devices, [
      { deviceId: 'ok', policy: 'small' },
      { deviceId: 'edge', policy: 'limit' },
    ]);
    assert.equal(inventory.rejected.length, 2);
    assert.equal(inventory.rejected[0]!.source, policiesFile);
    assert.equal(inventory.rejected[0]!.row, 2);
    assert.match(inventory.rejected[0]!.reason, /policy 'deep': the document nests more than 32 levels/);
    assert.match(inventory.rejected[1]!.reason, /policy 'deep' of device 'nested' was rejected.*32 levels/);
  });
});

void describe('whole-file problems name the file', () => {
  const cases: [string, string | Buffer | undefined, RegExp][] = [
    ['missing.json', undefined, /DEVICES_FILE .*missing\.json does not exist/],
    ['empty.json', '', /DEVICES_FILE .*empty\.json is empty/],
    ['empty.csv', '\n\n', /DEVICES_FILE .*empty\.csv is empty/],
    [
      'truncated.json',
      '[{"deviceId":"a"},{"devi',
      /DEVICES_FILE .*truncated\.json is not valid JSON \(the file looks truncated\)/,
    ],
    ['object.json', '{"deviceId":"a"}', /must hold a JSON array/],
    ['noheader.csv', 'dev-1,baseline\n', /must be a header naming a deviceId column/],
    ['unclosed.csv', 'deviceId,policy\n"dev-1,baseline\n', /DEVICES_FILE .*unclosed\.csv is not valid CSV/],
    // Latin-1: 'é' is the lone byte 0xE9.
    [
      'latin1.csv',
      Buffer.from('deviceId,policy\r\ndev-1,baseline\r\ncafé-2,baseline\r\n', 'latin1'),
      /DEVICES_FILE .*latin1\.csv is not valid UTF-8: byte 0xE9 at offset 36 \(line 3\)/,
    ],
    [
      'latin1.json',
      Buffer.from('[{"deviceId":"dev-1"},\n{"deviceId":"café-2"}]', 'latin1'),
      /DEVICES_FILE .*latin1\.json is not valid UTF-8: byte 0xE9 at offset 39 \(line 2\)/,
    ],
    [
      // Far past the first chunk the CSV stream reads (64 KB).
      'latin1-late.csv',
      Buffer.concat([
        Buffer.from(`deviceId,policy\n${'dev-x,baseline\n'.repeat(10_000)}`),
        Buffer.from('café,baseline\n', 'latin1'),
      ]),
      /DEVICES_FILE .*latin1-late\.csv is not valid UTF-8: byte 0xE9 at offset 150019 \(line 10002\)/,
    ],
  ];
  for (const [name, content, pattern] of cases) {
    void it(name, async () => {
      const devicesFile = content === undefined ? join(dir, name) : await file(name, content);
      const policiesFile = await file(`p-${name}.json`, JSON.stringify(policies));
      await assert.rejects(loadInventory({ source: 'file', devicesFile, policiesFile }), (error: unknown) => {
        assert.ok(isInventoryError(error));
        assert.equal(error.code, 'InvalidInventoryFile');
        assert.match(error.message, pattern);
        return true;
      });
    });
  }
  void it('a POLICIES_FILE that is not UTF-8, while a UTF-8 one with a byte-order mark loads', async () => {
    const devicesFile = await file('utf8.csv', '\uFEFFdeviceId,policy\r\na,baseline\r\n');
    const latin1 = await file(
      'latin1-policies.json',
      Buffer.from('{"baseline": {"label": "écran"}}', 'latin1'),
    );
    await assert.rejects(
      loadInventory({ source: 'file', devicesFile, policiesFile: latin1 }),
      (error: unknown) => {
        assert.ok(isInventoryError(error));
        assert.equal(error.code, 'InvalidInventoryFile');
        assert.match(
          error.message,
          /POLICIES_FILE .*latin1-policies\.json is not valid UTF-8: byte 0xE9 at offset 24 \(line 1\) .*save the file as UTF-8/,
        );
        return true;
      },
    );
    const withBom = await file(
      'bom-policies.json',
      `\uFEFF${JSON.stringify({ baseline: { label: 'écran' } })}`,
    );
    const inventory = await loadInventory({ source: 'file', devicesFile, policiesFile: withBom });
    assert.deepEqual(inventory.devices, [{ deviceId: 'a', policy: 'baseline' }]);
    assert.deepEqual(inventory.policies.get('baseline'), { label: 'écran' });
  });

  void it('a truncated POLICIES_FILE', async () => {
    const devicesFile = await file('ok.csv', 'deviceId\na\n');
    const policiesFile = await file('bad-policies.json', '{"default": {"a":');
    await assert.rejects(
      loadInventory({ source: 'file', devicesFile, policiesFile }),
      /POLICIES_FILE .*bad-policies\.json is not valid JSON/,
    );
  });
});

void describe('InventoryStore', () => {
  void it('serves pages and lookups by snapshot id, re-loads on a cache miss, and refuses a changed inventory', async () => {
    const devicesFile = await file('store.csv', 'deviceId,policy\na,baseline\nb,strict\nc\n');
    const policiesFile = await file('store-policies.json', JSON.stringify(policies));
    const selectionDir = join(dir, 'selections');
    const store = new InventoryStore({ source: 'file', devicesFile, policiesFile, selectionDir });
    const { snapshot } = await store.load();
    assert.deepEqual(await store.readPage(snapshot.id, 1, 5), [
      { deviceId: 'b', policy: 'strict' },
      { deviceId: 'c', policy: 'default' },
    ]);
    assert.deepEqual(await store.findDevices(snapshot.id, ['c', 'zz']), {
      devices: [{ deviceId: 'c', policy: 'default' }],
      unknown: ['zz'],
    });
    assert.deepEqual(await store.policyDocument(snapshot.id, 'strict'), { version: 5 });
    await assert.rejects(
      store.policyDocument(snapshot.id, 'nope'),
      (e: unknown) => isInventoryError(e) && e.code === 'PolicyNotFound',
    );

    // A selection (run --devices a,zz)
    const narrowed = await store.load(['a', 'zz']);
    assert.equal(narrowed.snapshot.devices.length, 1);
    assert.deepEqual(narrowed.rejected, [
      { source: '--devices', row: 2, reason: "deviceId 'zz' cannot be synced: it is not in the inventory" },
    ]);

    // A selection of which nothing can be synced is refused as a whole.
    await assert.rejects(store.load(['zz', 'yy', 'zz']), (e: unknown) => {
      assert.ok(isInventoryError(e));
      assert.equal(e.code, 'NothingSelected');
      assert.match(
        e.message,
        /^--devices: none of the 2 device ids given can be synced \(deviceId 'zz' cannot be synced: it is not in the inventory; deviceId 'yy'/,
      );
      return true;
    });

    // Another worker process: nothing cached, same files → same snapshot.
    const other = new InventoryStore({ source: 'file', devicesFile, policiesFile, selectionDir });
    assert.equal((await other.readPage(snapshot.id, 0, 10)).length, 3);
    assert.deepEqual(await other.readPage(narrowed.snapshot.id, 0, 10), [
      { deviceId: 'a', policy: 'baseline' },
    ]);

    // The file changes: a third worker cannot find the snapshot any more.
    await writeFile(devicesFile, 'deviceId,policy\na,baseline\n');
    const third = new InventoryStore({ source: 'file', devicesFile, policiesFile, selectionDir });
    await assert.rejects(third.readPage(snapshot.id, 0, 10), (e: unknown) => {
      assert.ok(isInventoryError(e));
      assert.equal(e.code, 'InventoryChanged');
      assert.match(e.message, /changed since this sync loaded it/);
      return true;
    });
    // …while the worker that has it cached still serves it.
    assert.equal((await store.readPage(snapshot.id, 0, 10)).length, 3);
  });
});
