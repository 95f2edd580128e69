/**
 * Replaces every known secret value with `<secret:NAME>` in any text or JSON that
 * leaves the engine. One per run; secrets are registered as they are decrypted.
 */
export class Redactor {
  readonly #values = new Map<string, string>();

  add(name: string, value: string): void {
    // Very short values would redact unrelated text and are too weak to matter.
    if (value.length >= 4) this.#values.set(value, `<secret:${name}>`);
  }

  get size(): number {
    return this.#values.size;
  }

  scrub(text: string): string {
    if (this.#values.size === 0) return text;
    let out = text;
    // Longest first, so a secret that contains another is replaced whole.
    for (const [value, label] of [...this.#values].sort((a, b) => b[0].length - a[0].length)) {
      if (out.includes(value)) out = out.split(value).join(label);
    }
    return out;
  }

  /** Deep-scrub a JSON-like value. */
  scrubValue<T>(value: T): T {
    if (this.#values.size === 0) return value;
    return this.#walk(value) as T;
  }

  #walk(value: unknown): unknown {
    if (typeof value === 'string') return this.scrub(value);
    if (Array.isArray(value)) return value.map((entry) => this.#walk(entry));
    if (value !== null && typeof value === 'object') {
      return Object.fromEntries(Object.entries(value).map(([key, entry]) => [key, this.#walk(entry)]));
    }
    return value;
  }
}
