const PRECISION = 12;
const REGISTERS = 1 << PRECISION;
const ALPHA = 0.7213 / (1 + 1.079 / REGISTERS);

/** Murmur3-style 32-bit string hash, good enough to spread HyperLogLog registers. */
function hash32(value: string): number {
  let h = 0x9747b28c ^ value.length;
  for (let i = 0; i < value.length; i++) {
    h = Math.imul(h ^ value.charCodeAt(i), 0x5bd1e995);
    h ^= h >>> 15;
  }
  h ^= h >>> 16;
  h = Math.imul(h, 0x85ebca6b);
  h ^= h >>> 13;
  h = Math.imul(h, 0xc2b2ae35);
  return (h ^ (h >>> 16)) >>> 0;
}

/**
 * Distinct-count estimate in 4 KB whatever the column size (HyperLogLog, ~1.6% standard error),
 * so profiling a 16-million-row file keeps flat memory.
 */
export class HyperLogLog {
  private readonly registers = new Uint8Array(REGISTERS);

  add(value: string): void {
    const h = hash32(value);
    const register = h >>> (32 - PRECISION);
    const rank = Math.clz32((h << PRECISION) | (1 << (PRECISION - 1))) + 1;
    if (rank > (this.registers[register] as number)) this.registers[register] = rank;
  }

  estimate(): number {
    let sum = 0;
    let zeros = 0;
    for (const value of this.registers) {
      sum += 2 ** -value;
      if (value === 0) zeros++;
    }
    const raw = (ALPHA * REGISTERS * REGISTERS) / sum;
    // Linear counting is far more accurate while many registers are still empty.
    if (raw <= 2.5 * REGISTERS && zeros > 0)
      return Math.round(REGISTERS * Math.log(REGISTERS / zeros));
    return Math.round(raw);
  }
}
