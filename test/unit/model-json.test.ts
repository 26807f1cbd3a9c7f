// GET /models writes each model's JSON text directly: it is the JSON of the ModelDTO.
import { describe, expect, it } from 'vitest';
import { dec } from '../../src/domain/decimal.js';
import type { Model } from '../../src/modules/models/repository.js';
import { modelJson, modelsJson, toModelDto } from '../../src/modules/models/schemas.js';

describe('a ModelDTO written as text', () => {
  it('is the JSON of the DTO, with and without a rebalance date, portfolios and odd names, alone and in a list', () => {
    const positions = [
      { securityId: 'a'.repeat(24), target: dec('0.125'), highDrift: dec('0.05'), lowDrift: dec('0') },
      { securityId: 'b'.repeat(24), target: dec('0.3'), highDrift: dec('1'), lowDrift: dec('0.001') },
    ];
    const model: Model = {
      id: 'c'.repeat(24),
      name: 'Growth "A" \\ B\u0001',
      positions,
      portfolios: ['p1', 'p"2'],
      lastRebalanceDate: null,
      rebalanceTo: 'target',
      version: 3,
      createdAt: new Date('2026-12-01T00:00:00Z'),
    };
    const models: Model[] = [
      model,
      { ...model, lastRebalanceDate: new Date('2026-12-02T10:11:12.345Z') },
      { ...model, positions: [], portfolios: [] },
      { ...model, rebalanceTo: 'band' as const, name: '"positions":[]' },
      { ...model, name: 'Équilibré €' },
    ];
    for (const m of models) {
      expect(modelJson(m).toString()).toBe(JSON.stringify(toModelDto(m)));
      expect(modelJson(m).toString()).toBe(JSON.stringify(toModelDto(m))); // the second time from the kept positions
    }
    // A list: the same as the DTOs' JSON, in UTF-8.
    expect(modelsJson(models).toString()).toBe(JSON.stringify(models.map(toModelDto)));
    expect(modelsJson([]).toString()).toBe('[]');
  });
});
