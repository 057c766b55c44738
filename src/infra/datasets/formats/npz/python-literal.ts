/**
 * The Python literals a .npy header is written in: dicts, tuples, lists, strings, integers,
 * True, False and None. Just enough to read `{'descr': '<f4', 'fortran_order': False,
 * 'shape': (3, 4), }` safely, without evaluating anything.
 */
export type PyValue = string | number | boolean | null | PyValue[] | { [key: string]: PyValue };

/** @throws Error (message for the caller to wrap) when `text` is not one literal of that kind. */
export function parsePythonLiteral(text: string): PyValue {
  let i = 0;
  const fail = (what: string): never => {
    throw new Error(`${what} at character ${i}`);
  };
  const skipSpace = () => {
    while (i < text.length && /\s/.test(text[i])) i++;
  };
  const expect = (c: string) => {
    skipSpace();
    if (text[i] !== c) fail(`expected '${c}'`);
    i++;
  };
  const sequence = (close: string, item: () => void) => {
    for (;;) {
      skipSpace();
      if (text[i] === close) {
        i++;
        return;
      }
      item();
      skipSpace();
      if (text[i] === ',') i++;
      else if (text[i] !== close) fail(`expected ',' or '${close}'`);
    }
  };
  const value = (): PyValue => {
    skipSpace();
    const c = text[i];
    if (c === '{') {
      i++;
      const dict: { [key: string]: PyValue } = {};
      sequence('}', () => {
        const key = value();
        if (typeof key !== 'string') fail('a dict key that is not a string');
        expect(':');
        dict[key as string] = value();
      });
      return dict;
    }
    if (c === '(' || c === '[') {
      i++;
      const items: PyValue[] = [];
      sequence(c === '(' ? ')' : ']', () => items.push(value()));
      return items;
    }
    if (c === "'" || c === '"') {
      const end = text.indexOf(c, i + 1);
      if (end < 0) fail('an unterminated string');
      const s = text.slice(i + 1, end);
      if (s.includes('\\')) fail('an escape sequence in a string');
      i = end + 1;
      return s;
    }
    // Python 2 wrote long integers with an L suffix.
    const word = /^(?:[+-]?\d+L?|True|False|None)/.exec(text.slice(i, i + 32));
    if (word === null) fail('an unexpected character');
    const token = word![0];
    i += token.length;
    if (token === 'True') return true;
    if (token === 'False') return false;
    if (token === 'None') return null;
    return Number(token.replace('L', ''));
  };
  const result = value();
  skipSpace();
  if (i !== text.length) fail('text after the literal');
  return result;
}
