/**
 * Replaces every known secret with `<secret:NAME>` in any text or JSON that leaves
 * the engine. One per run (one per CLI invocation); secrets are registered as they
 * are decrypted, before anyone can print them.
 *
 * A secret is caught in every shape it could be printed in: whole, each of its
 * lines, its JSON-escaped, base64 and hex forms, and any substring of
 * {@link WINDOW} characters or more (a message that quotes the first 40 characters
 * of a value, a diff line, a cut-off preview).
 */
export class Redactor {
  /** Whole forms: the value, its lines, its encodings → label. */
  readonly #forms = new Map<string, string>();
  /** Every WINDOW-long substring of every secret → label. */
  readonly #windows = new Map<string, string>();
  #sortedForms: [string, string][] | undefined;

  add(name: string, value: string | Uint8Array): void {
    const label = `<secret:${name}>`;
    const bytes = typeof value === 'string' ? Buffer.from(value, 'utf8') : Buffer.from(value);
    // Very short values would redact unrelated text and are too weak to matter.
    if (bytes.length < MIN_LENGTH) return;
    const texts = new Set([bytes.toString('utf8'), bytes.toString('latin1')]);
    for (const text of texts) {
      this.#addForm(text, label);
      this.#addForm(JSON.stringify(text).slice(1, -1), label);
      for (const line of text.split(/\r?\n/)) {
        this.#addForm(line, label, WINDOW);
        this.#addForm(line.trim(), label, WINDOW);
      }
      for (let start = 0; start + WINDOW <= text.length; start++) {
        const window = text.slice(start, start + WINDOW);
        if (isDistinctive(window)) this.#windows.set(window, label);
      }
    }
    this.#addForm(bytes.toString('base64'), label);
    this.#addForm(bytes.toString('base64url'), label);
    this.#addForm(bytes.toString('hex'), label);
    this.#addForm(bytes.toString('hex').toUpperCase(), label);
    this.#sortedForms = undefined;
  }

  get size(): number {
    return this.#forms.size;
  }

  scrub(text: string): string {
    if (this.#forms.size === 0) return text;
    // Longest first, so a secret that contains another is replaced whole.
    this.#sortedForms ??= [...this.#forms].sort((a, b) => b[0].length - a[0].length);
    let out = text;
    for (const [form, label] of this.#sortedForms) {
      if (out.includes(form)) out = out.split(form).join(label);
    }
    return this.#scrubWindows(out);
  }

  /** Deep-scrub a JSON-like value. Bytes print as their secret's name, or as their length. */
  scrubValue<T>(value: T): T {
    if (this.#forms.size === 0) return value;
    return this.#walk(value) as T;
  }

  #addForm(form: string, label: string, min = MIN_LENGTH): void {
    if (form.length >= min) this.#forms.set(form, label);
  }

  /** Redact every run of text covered by secret windows (what the whole forms missed). */
  #scrubWindows(text: string): string {
    if (this.#windows.size === 0 || text.length < WINDOW) return text;
    let out = '';
    let copied = 0;
    let coverEnd = -1;
    let label = '';
    for (let start = 0; start + WINDOW <= text.length; start++) {
      const found = this.#windows.get(text.slice(start, start + WINDOW));
      if (found === undefined) continue;
      if (start > coverEnd) {
        if (coverEnd >= 0) out += label;
        out += text.slice(copied, start);
        label = found;
      }
      coverEnd = start + WINDOW;
      copied = coverEnd;
    }
    if (coverEnd < 0) return text;
    return out + label + text.slice(copied);
  }

  #walk(value: unknown): unknown {
    if (typeof value === 'string') return this.scrub(value);
    if (value instanceof Uint8Array) {
      const shown = this.scrub(Buffer.from(value).toString('latin1'));
      return shown.startsWith('<secret:') && shown.endsWith('>') ? shown : `<${value.length} bytes>`;
    }
    if (Array.isArray(value)) return value.map((entry) => this.#walk(entry));
    if (value !== null && typeof value === 'object') {
      return Object.fromEntries(Object.entries(value).map(([key, entry]) => [key, this.#walk(entry)]));
    }
    return value;
  }
}

/** Secrets shorter than this are not redacted at all. */
const MIN_LENGTH = 4;
/** Lines and substrings of a secret this long or longer are redacted wherever they appear. */
export const WINDOW = 8;

/**
 * A window of a secret worth redacting on its own: not padding or a row of one
 * character (`--------`), and not only digits and punctuation, which a timestamp, a
 * version or a count printed anywhere would match. (Such a secret is still redacted
 * whole, line by line and in its encodings.)
 */
function isDistinctive(window: string): boolean {
  return new Set(window.replace(/\s/g, '')).size >= 4 && /[^\d\s\p{P}\p{S}]/u.test(window);
}
