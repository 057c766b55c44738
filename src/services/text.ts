/** Text Postgres refuses: NUL bytes (22021 in text, 22P05 in jsonb) and lone UTF-16 surrogates (22P02). */
// eslint-disable-next-line no-control-regex
const UNSTORABLE = /\u0000|[\uD800-\uDBFF](?![\uDC00-\uDFFF])|(?<![\uD800-\uDBFF])[\uDC00-\uDFFF]/;

/** Whether Postgres can store `s` as text or inside jsonb. */
export function isStorableText(s: string): boolean {
  return !UNSTORABLE.test(s);
}

/**
 * The path of the first string (or object key) in `value` that Postgres cannot store, or null.
 * Iterative: bodies reach here already bounded in depth, but no recursion is needed either.
 */
export function findUnstorableText(value: unknown, path: string): string | null {
  const stack: [unknown, string][] = [[value, path]];
  while (stack.length > 0) {
    const [v, p] = stack.pop()!;
    if (typeof v === 'string') {
      if (!isStorableText(v)) return p;
    } else if (Array.isArray(v)) {
      v.forEach((item, i) => stack.push([item, `${p}[${i}]`]));
    } else if (v && typeof v === 'object') {
      for (const [k, item] of Object.entries(v)) {
        if (!isStorableText(k)) return `${p} (a key)`;
        stack.push([item, `${p}.${k}`]);
      }
    }
  }
  return null;
}

export const UNSTORABLE_TEXT_MESSAGE =
  'contains a NUL character or an unpaired UTF-16 surrogate, which cannot be stored; remove it';
