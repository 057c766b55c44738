/**
 * Streamed UTF-8 decoding that can say where the text stops being UTF-8. TextDecoder's fatal
 * mode only says that a chunk is invalid; here each chunk is cut at a character boundary and
 * decoded on its own, so on failure the same bytes decoded leniently show where the first bad
 * sequence is, and the CSV reader can name the row.
 */

const BOM = '\uFEFF';

export interface DecodedPiece {
  /** The text, up to the first invalid sequence when there is one. */
  text: string;
  /** True when the text stops early at an invalid sequence. */
  invalid: boolean;
}

export class Utf8Text {
  private readonly strict = new TextDecoder('utf-8', { fatal: true, ignoreBOM: true });
  private readonly lenient = new TextDecoder('utf-8', { ignoreBOM: true });
  private carry: Uint8Array = new Uint8Array(0);
  private started = false;

  /** Decodes `chunk` (a character cut at its end waits for the next chunk). */
  decode(chunk: Uint8Array): DecodedPiece {
    const bytes = this.carry.length === 0 ? chunk : concat(this.carry, chunk);
    const end = completeLength(bytes);
    this.carry = bytes.slice(end);
    return this.piece(bytes.subarray(0, end));
  }

  /** The end of the input: a character still cut is invalid. */
  end(): DecodedPiece {
    const rest = this.carry;
    this.carry = new Uint8Array(0);
    return rest.length === 0
      ? { text: '', invalid: false }
      : { ...this.piece(rest), invalid: true };
  }

  private piece(bytes: Uint8Array): DecodedPiece {
    let text: string;
    let invalid = false;
    try {
      text = this.strict.decode(bytes);
    } catch {
      const lenient = this.lenient.decode(bytes);
      text = lenient.slice(0, Math.max(0, lenient.indexOf('\uFFFD')));
      invalid = true;
    }
    if (!this.started && (text.length > 0 || invalid)) {
      this.started = true;
      if (text.startsWith(BOM)) text = text.slice(1);
    }
    return { text, invalid };
  }
}

/**
 * Bytes of `bytes` that end on a character boundary, assuming well-formed UTF-8 (malformed input is
 * caught by decoding).
 */
function completeLength(bytes: Uint8Array): number {
  const n = bytes.length;
  for (let back = 1; back <= Math.min(3, n); back++) {
    const b = bytes[n - back];
    if ((b & 0xc0) === 0x80) continue; // a continuation byte: look further back
    const needed = b >= 0xf0 ? 4 : b >= 0xe0 ? 3 : b >= 0xc0 ? 2 : 1;
    return needed > back ? n - back : n;
  }
  return n;
}

function concat(a: Uint8Array, b: Uint8Array): Uint8Array {
  const out = new Uint8Array(a.length + b.length);
  out.set(a);
  out.set(b, a.length);
  return out;
}
