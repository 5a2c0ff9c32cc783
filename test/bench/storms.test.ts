import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { resolveFaultSettings } from '../../src/emulator';
import { parseBenchArgs, UsageError } from '../../bench/args';
import type { SideResult } from '../../bench/metrics';
import { mergeOverrides, stormCells, stormLimit, type StormSweepOptions } from '../../bench/storm-cells';
import { judgeStormSide, worstCells, type StormTargetCheck } from '../../bench/storm-targets';
import { judgeStorms, renderStormMarkdown, type StormReport } from '../../bench/storm-report';

/** The cells the driver runs for a command line (what bench/storms.ts does with the parsed flags). */
function cellsFor(argv: string[]) {
  const args = parseBenchArgs(['--storms', ...argv]);
  const options: StormSweepOptions = {
    delaysMs: args.stormDelaysMs,
    ratios: args.stormRatios,
    windowsMs: args.stormWindowsMs,
    fleets: args.fleets.length ? args.fleets : [300],
    references: args.stormReferences,
  };
  return stormCells(options);
}

const side = (overrides: Partial<SideResult>): SideResult => ({
  side: 'ours',
  wallMs: 20_000,
  devices: 300,
  inSync: 300,
  failures: 0,
  requestsByStatus: {},
  requestsPerDevice: 2,
  writeAttempts: 300,
  write429s: 0,
  sustainedWritesPerSec: null,
  peakRssBytes: null,
  resources: null,
  reported: {},
  ...overrides,
});

const metOf = (checks: StormTargetCheck[]) => Object.fromEntries(checks.map((c) => [c.target, c.met]));

void describe('storm cells from the flags', () => {
  void it('runs 18 storm cells at 300, the seed world at 1,000, then the three references by default', () => {
    const cells = cellsFor([]);
    assert.equal(cells.length, 18 + 1 + 3);
    const storms = cells.filter((c) => c.kind === 'storm' && Object.keys(c.faults).length > 0);
    assert.equal(storms.length, 18);
    assert.ok(storms.every((c) => c.profile === 'seed' && c.fleet === 300));
    const worlds = new Set(storms.map((c) => JSON.stringify(c.faults.propagation)));
    assert.equal(worlds.size, 18, 'every delay × ratio × window once');
    assert.ok(worlds.has(JSON.stringify({ delayMs: 10_000, flakyRatio: 0.9, flakyWindowMs: 5_000 })));
    assert.deepEqual(
      cells.slice(18).map((c) => [c.kind, c.profile, c.fleet, c.faults]),
      [
        ['storm', 'seed', 1_000, {}],
        ['reference', 'calm', 300, {}],
        ['reference', 'throttled', 1_000, {}],
        ['reference', 'hostile', 300, {}],
      ],
    );
  });

  void it('narrows to one cell with seconds and ratios from the flags, without references', () => {
    const cells = cellsFor([
      '--storm-delays',
      '1',
      '--storm-ratios',
      '0.9',
      '--storm-windows',
      '15',
      '--no-references',
    ]);
    assert.deepEqual(
      cells.map((c) => [c.profile, c.fleet, c.faults]),
      [['seed', 300, { propagation: { delayMs: 1_000, flakyRatio: 0.9, flakyWindowMs: 15_000 } }]],
    );
  });

  void it('keeps the seed world at 1,000 only when the grid holds the seed world, and --fleets picks the storm fleet', () => {
    const seedWorld = [
      '--storm-delays',
      '3',
      '--storm-ratios',
      '0.6',
      '--storm-windows',
      '15',
      '--no-references',
    ];
    assert.deepEqual(
      cellsFor(seedWorld).map((c) => c.fleet),
      [300, 1_000],
    );
    assert.deepEqual(
      cellsFor([...seedWorld, '--fleets', '1000']).map((c) => c.fleet),
      [1_000],
      'not twice at 1,000',
    );
    assert.deepEqual(
      cellsFor([
        '--storm-delays',
        '3,10',
        '--storm-ratios',
        '0.6',
        '--storm-windows',
        '15',
        '--fleets',
        '500',
      ]).map((c) => `${c.kind} ${c.profile} ${c.fleet}`),
      [
        'storm seed 500',
        'storm seed 500',
        'storm seed 1000',
        'reference calm 300',
        'reference throttled 1000',
        'reference hostile 300',
      ],
    );
  });

  void it('refuses bad storm flags by name, and storm flags or --before without --storms', () => {
    assert.throws(
      () => parseBenchArgs(['--storms', '--storm-ratios', '1.5']),
      (e: unknown) => {
        assert.ok(e instanceof UsageError);
        assert.match(e.message, /--storm-ratios: 1\.5 is not a number from 0 to 1/);
        return true;
      },
    );
    assert.throws(() => parseBenchArgs(['--storms', '--storm-delays', 'soon']), /--storm-delays: soon/);
    assert.throws(
      () => parseBenchArgs(['--storms', '--storm-windows', '']),
      /--storm-windows needs at least one value/,
    );
    assert.throws(
      () => parseBenchArgs(['--storm-delays', '1']),
      /--storm-delays narrows the storm sweep: add --storms/,
    );
    assert.throws(() => parseBenchArgs(['--no-references']), /add --storms/);
    assert.throws(() => parseBenchArgs(['--before', '../before']), /--before is a side of the storm sweep/);
    assert.throws(
      () => parseBenchArgs(['--storms', '--sides', 'before']),
      /--sides before needs --before DIR/,
    );
  });

  void it('--before adds the before side between the baseline and ours', () => {
    assert.deepEqual(parseBenchArgs(['--storms', '--before', '/x']).sides, ['baseline', 'before', 'ours']);
    assert.deepEqual(parseBenchArgs(['--storms']).sides, ['baseline', 'ours']);
    assert.equal(parseBenchArgs(['--storms', '--before', '/x']).beforeDir, '/x');
  });

  void it('puts the cell overrides over --faults, field by field', () => {
    assert.deepEqual(
      mergeOverrides(
        { propagation: { flakyRatio: 0.1, delayMs: 5 }, latency: { fixedMs: 0 } },
        { propagation: { delayMs: 1_000 } },
      ),
      { propagation: { flakyRatio: 0.1, delayMs: 1_000 }, latency: { fixedMs: 0 } },
    );
  });
});

void describe('the limit', () => {
  void it('is the end of the refusal window where ARM does not meter writes', () => {
    const settings = resolveFaultSettings('seed', {
      propagation: { delayMs: 10_000, flakyWindowMs: 5_000, flakyRatio: 0.9 },
    });
    assert.deepEqual(stormLimit(settings, 300), { refusalEndMs: 15_000, writesMs: 0, limitMs: 15_000 });
    assert.equal(stormLimit(resolveFaultSettings('seed'), 1_000).limitMs, 18_000, 'seed: 3 s + 15 s');
    assert.equal(stormLimit(resolveFaultSettings('calm'), 300).limitMs, 0);
  });

  void it('adds the writes beyond the burst at the refill rate where ARM meters them', () => {
    // throttled: 200 burst, 10/s; no propagation fault.
    assert.deepEqual(stormLimit(resolveFaultSettings('throttled'), 1_000), {
      refusalEndMs: 0,
      writesMs: 80_000,
      limitMs: 80_000,
    });
    assert.equal(stormLimit(resolveFaultSettings('throttled'), 150).writesMs, 0, 'within the burst');
    // hostile: 2 s + 8 s of propagation, then (300 − 200) ÷ 10 s.
    assert.equal(stormLimit(resolveFaultSettings('hostile'), 300).limitMs, 20_000);
  });
});

void describe('storm targets', () => {
  const limitMs = 16_000; // bound: 1.3 × 16 + 3 = 23.8 s
  const baseline = side({ side: 'baseline', wallMs: 24_000 });

  void it('meets all four when in sync, fast enough and frugal', () => {
    assert.deepEqual(metOf(judgeStormSide(side({ wallMs: 18_000 }), baseline, limitMs)), {
      inSync: true,
      vsBaseline: true,
      vsLimit: true,
      requests: true,
    });
  });

  void it('misses each target alone at its bound', () => {
    const just = (o: Partial<SideResult>) =>
      metOf(judgeStormSide(side({ wallMs: 18_000, ...o }), baseline, limitMs));
    assert.equal(just({ inSync: 299 }).inSync, false);
    assert.equal(just({ wallMs: 18_000 }).vsBaseline, true, '0.75 × 24 s = 18 s is within');
    assert.equal(just({ wallMs: 18_001 }).vsBaseline, false);
    assert.equal(just({ wallMs: 23_800 }).vsLimit, true);
    assert.equal(
      metOf(judgeStormSide(side({ wallMs: 23_801 }), side({ side: 'baseline', wallMs: 60_000 }), limitMs))
        .vsLimit,
      false,
    );
    assert.equal(just({ requestsPerDevice: 3 }).requests, true);
    assert.equal(just({ requestsPerDevice: 3.01 }).requests, false);
  });

  void it('says when the bound against the baseline comes before the limit', () => {
    const early = judgeStormSide(
      side({ wallMs: 26_000 }),
      side({ side: 'baseline', wallMs: 31_000 }),
      25_000,
    );
    const check = early.find((c) => c.target === 'vsBaseline')!;
    assert.equal(check.met, false);
    assert.match(check.detail, /the bound, 23\.3 s, comes before the limit, 25\.0 s/);
    const later = judgeStormSide(side({ wallMs: 18_000 }), baseline, limitMs);
    assert.doesNotMatch(later.find((c) => c.target === 'vsBaseline')!.detail, /before the limit/);
  });

  void it('cannot judge against a missing baseline, and a side that failed misses everything', () => {
    assert.equal(metOf(judgeStormSide(side({}), undefined, limitMs)).vsBaseline, null);
    assert.equal(metOf(judgeStormSide(side({}), side({ error: 'boom' }), limitMs)).vsBaseline, null);
    const failed = judgeStormSide(side({ error: 'worker died' }), baseline, limitMs);
    assert.ok(failed.every((c) => c.met === false && /worker died/.test(c.detail)));
  });

  void it('names the worst cell of each target, a failed cell first', () => {
    const cells = [
      {
        label: 'A',
        checks: judgeStormSide(side({ wallMs: 20_000, requestsPerDevice: 2 }), baseline, limitMs),
      },
      {
        label: 'B',
        checks: judgeStormSide(side({ wallMs: 23_000, requestsPerDevice: 5 }), baseline, limitMs),
      },
      { label: 'C', checks: judgeStormSide(side({ wallMs: 12_000, inSync: 290 }), baseline, limitMs) },
    ];
    const worst = Object.fromEntries(worstCells(cells).map((w) => [w.target, w]));
    assert.equal(worst.inSync?.cell, 'C');
    assert.equal(worst.inSync?.metCount, 2);
    assert.equal(worst.vsBaseline?.cell, 'B');
    assert.equal(worst.requests?.cell, 'B');
    assert.match(worst.requests?.detail ?? '', /5\.00 requests\/device/);
    const withFailure = worstCells([
      ...cells,
      { label: 'D', checks: judgeStormSide(side({ error: 'x' }), baseline, limitMs) },
    ]);
    assert.ok(withFailure.every((w) => w.cell === 'D' && w.met === false));
  });

  void it('judges storm cells only, and renders each verdict and the worst-cell lines', () => {
    const report: StormReport = {
      startedAt: '',
      finishedAt: '',
      command: 'npm run bench -- --storms',
      machine: { cpus: 2, memoryGiB: 8, node: '24' },
      settings: {
        emulatorSeed: 7,
        emulatorFaults: {},
        oursInput: {},
        workerMaxConcurrentActivities: null,
        workerOptions: {},
        baselineTokenReset: 'new-credential',
        ours: { dir: '/a', commit: 'abc' },
        before: null,
      },
      cells: [
        ...cellsFor(['--storm-delays', '1', '--storm-ratios', '0.9', '--storm-windows', '15']).map((cell) => {
          const settings = resolveFaultSettings(cell.profile, cell.faults);
          return {
            ...cell,
            propagation: settings.propagation,
            armWrites: settings.throttling.armWrites,
            limit: stormLimit(settings, cell.fleet),
            baseline,
            ours: side({ wallMs: 30_000, requestsPerDevice: 14 }),
          };
        }),
      ],
      summary: { ours: [] },
    };
    judgeStorms(report);
    assert.ok(report.cells[0]?.targets?.ours);
    assert.equal(report.cells.filter((c) => c.targets).length, 1, 'references are not judged');
    const md = renderStormMarkdown(report);
    assert.match(md, /## Reference cells/);
    assert.match(md, /\| 1\.0 \| 0\.9 \| 15\.0 \| 300 \| 16\.0 \|/);
    assert.match(
      md,
      /ours, ≤ 3 requests\/device: met in 0 of 1 cells; worst: .*14\.00 requests\/device \(missed\)/,
    );
  });
});
