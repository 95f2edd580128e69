import { describe, expect, it } from 'vitest';
import type { AnyItemType } from '../protocols/item.js';
import { buildGraph } from './graph.js';
import type { BuiltItem, Common } from './items.js';

/** Items of one folder: each file implicitly needs its folder, as items-files' files do. */
const folderType = { name: 'dir' } as unknown as AnyItemType;
const fileType = { name: 'file', implicitNeeds: (item: { name: string }) => [`dir:${item.name.slice(0, item.name.lastIndexOf('/'))}`] } as unknown as AnyItemType;

function item(type: AnyItemType, name: string, common: Common = {}): BuiltItem {
  const typeName = (type as { name: string }).name;
  return { id: `${typeName}:${name}`, typeName, name, type, attrs: {}, common, role: 'r', usesSecrets: false };
}

describe('buildGraph', () => {
  it('gives the files that need only their folder one set between them, and copies it before one of them needs more', () => {
    const items = [item(folderType, '/d'), item(fileType, '/d/a'), item(fileType, '/d/b'), item(fileType, '/d/c', { needs: ['file:/d/a'] }), item(folderType, '/e', { needed_by: ['file:/d/b'] })];
    const graph = buildGraph(items, 'web1');
    const [a, b, c] = ['file:/d/a', 'file:/d/b', 'file:/d/c'].map((id) => graph.needs.get(id));
    expect([...(a ?? [])]).toEqual(['dir:/d']);
    // /d/b needs /e too (needed_by on /e, found after the folder): its own set, the shared one unchanged.
    expect([...(b ?? [])].sort()).toEqual(['dir:/d', 'dir:/e']);
    expect([...(c ?? [])].sort()).toEqual(['dir:/d', 'file:/d/a']);
    expect(graph.needs.get('file:/d/a')).toBe(a);
    expect(b).not.toBe(a);
    expect(c).not.toBe(a);
    expect(a?.size).toBe(1);
    // Every item after what it needs.
    const at = (id: string): number => graph.order.indexOf(id);
    for (const [id, deps] of graph.needs) for (const dep of deps) expect(at(dep)).toBeLessThan(at(id));
    expect(graph.order).toHaveLength(items.length);
  });

  it('shares the set of a file that needs its folder between items, not between hosts', () => {
    const items = () => [item(folderType, '/d'), item(fileType, '/d/a'), item(fileType, '/d/b')];
    const one = buildGraph(items(), 'web1');
    const two = buildGraph(items(), 'web2');
    expect(one.needs.get('file:/d/a')).toBe(one.needs.get('file:/d/b'));
    expect(one.needs.get('file:/d/a')).not.toBe(two.needs.get('file:/d/a'));
  });

  it('still names a cycle', () => {
    const items = [item(folderType, '/x', { needs: ['dir:/y'] }), item(folderType, '/y', { needs: ['dir:/x'] })];
    expect(() => buildGraph(items, 'web1')).toThrow(/dependency cycle: dir:\/x -> dir:\/y -> dir:\/x/);
  });
});
