/**
 * Run `worker` over `inputs` with at most `limit` at once; results keep the input
 * order. One rejected worker never stops the others (callers handle their errors).
 */
export async function mapPool<T, R>(inputs: readonly T[], limit: number, worker: (input: T, index: number) => Promise<R>): Promise<R[]> {
  const results = new Array<R>(inputs.length);
  let next = 0;
  const bound = Math.max(1, Math.min(limit, inputs.length));
  const lanes = Array.from({ length: bound }, async () => {
    while (next < inputs.length) {
      const index = next++;
      results[index] = await worker(inputs[index] as T, index);
    }
  });
  await Promise.all(lanes);
  return results;
}
