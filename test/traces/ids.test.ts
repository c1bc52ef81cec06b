import { describe, expect, it } from 'vitest';
import { rowIdFor } from '../../src/traces/ids.js';
import { UUID_RE } from '../../src/uuid.js';

describe('rowIdFor', () => {
  it('keeps UUIDs, formats OpenTelemetry trace ids, hashes other text deterministically per kind', () => {
    expect(rowIdFor('trace', '0190F5A8-7D0E-7C3A-9B1E-3F1E2D4C5B6A')).toBe('0190f5a8-7d0e-7c3a-9b1e-3f1e2d4c5b6a');
    expect(rowIdFor('trace', '4BF92F3577B34DA6A3CE929D0E0E4736')).toBe('4bf92f35-77b3-4da6-a3ce-929d0e0e4736');
    const span = rowIdFor('observation', '00f067aa0ba902b7');
    expect(span).toMatch(UUID_RE);
    expect(span[14]).toBe('8');
    expect('89ab').toContain(span[19]);
    expect(rowIdFor('observation', '00f067aa0ba902b7')).toBe(span);
    expect(rowIdFor('trace', '00f067aa0ba902b7')).not.toBe(span);
    expect(rowIdFor('session', 'chat-42')).not.toBe(rowIdFor('session', 'chat-43'));
    expect(() => rowIdFor('trace', '')).toThrow(RangeError);
  });
});
