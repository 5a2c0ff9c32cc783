import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import {
  complementRanges,
  nextPage,
  offsetsToRanges,
  rangesSize,
} from '../../src/workflows/inventory-ranges';

void describe('inventory ranges', () => {
  void it('pages through the first range, then the next', () => {
    const ranges = [
      { from: 0, to: 250 },
      { from: 400, to: 450 },
    ];
    const first = nextPage(ranges, 200);
    assert.deepEqual(first, {
      offset: 0,
      limit: 200,
      rest: [
        { from: 200, to: 250 },
        { from: 400, to: 450 },
      ],
    });
    const second = nextPage(first!.rest, 200);
    assert.deepEqual(second, { offset: 200, limit: 50, rest: [{ from: 400, to: 450 }] });
    assert.deepEqual(nextPage(second!.rest, 200), { offset: 400, limit: 50, rest: [] });
    assert.equal(nextPage([], 200), undefined);
    assert.equal(rangesSize(ranges), 300);
  });

  void it('folds offsets into ranges, keeping their order', () => {
    assert.deepEqual(offsetsToRanges([3, 4, 5, 9, 10, 2]), [
      { from: 3, to: 6 },
      { from: 9, to: 11 },
      { from: 2, to: 3 },
    ]);
    assert.deepEqual(offsetsToRanges([]), []);
  });

  void it('finds what was already taken', () => {
    assert.deepEqual(complementRanges([{ from: 0, to: 10 }], 10), []);
    assert.deepEqual(complementRanges([], 10), [{ from: 0, to: 10 }]);
    assert.deepEqual(
      complementRanges(
        [
          { from: 6, to: 8 },
          { from: 2, to: 4 },
          { from: 3, to: 5 },
        ],
        10,
      ),
      [
        { from: 0, to: 2 },
        { from: 5, to: 6 },
        { from: 8, to: 10 },
      ],
    );
  });
});
