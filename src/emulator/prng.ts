/** A seeded source of numbers in [0, 1): the same seed and stream always give the same sequence. */
export type RandomSource = () => number;

/**
 * mulberry32, seeded from the emulator's seed and a stream name. Each fault draws from its own stream, so
 * turning one fault on or off never shifts the decisions of another.
 */
export function createRandomSource(seed: number, stream: string): RandomSource {
  let state = (Math.trunc(seed) ^ hashStreamName(stream)) >>> 0;
  return () => {
    state = (state + 0x6d2b79f5) >>> 0;
    let t = state;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

/** FNV-1a: a stable 32-bit hash of the stream name. */
function hashStreamName(stream: string): number {
  let hash = 0x811c9dc5;
  for (let i = 0; i < stream.length; i++) {
    hash ^= stream.charCodeAt(i);
    hash = Math.imul(hash, 0x01000193);
  }
  return hash >>> 0;
}
