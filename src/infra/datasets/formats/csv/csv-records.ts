/**
 * Splits CSV text into records (RFC 4180): comma-separated fields, fields in double quotes may
 * hold commas, line breaks and doubled quotes (""), records end at CRLF, LF or CR. Text arrives
 * in pieces as the file streams in, so any state can span pieces. Lines with nothing on them
 * are skipped but still counted, so row numbers match what an editor or spreadsheet shows for
 * files without line breaks inside quotes.
 */
import { invalidDataset } from '../../errors.js';

/** Longest field accepted: bounds memory when a file has no line breaks or an unclosed quote. */
export const MAX_FIELD_CHARS = 1024 * 1024;
/** Most fields a record may have. */
export const MAX_FIELDS = 100_000;

/** Receives each record with its row number (1-based; the header is row 1). */
export type RecordHandler = (fields: string[], row: number) => void;

const FIELD_START = 0;
const UNQUOTED = 1;
const QUOTED = 2;
/** A quote inside a quoted field: the field's end, or the first half of "". */
const QUOTE_IN_QUOTED = 3;

const UNQUOTED_STOP = /[,\r\n]/g;

export class CsvRecords {
  private fields: string[] = [];
  private field = '';
  private state = FIELD_START;
  private wasQuoted = false;
  private afterCR = false;
  private row = 1;

  constructor(private readonly onRecord: RecordHandler) {}

  /** Row number of the record being read. */
  get currentRow(): number {
    return this.row;
  }

  /**
   * @throws ServiceError INVALID_DATASET (row and column) for text after a closing quote, a
   *   field over MAX_FIELD_CHARS or a record over MAX_FIELDS; whatever the handler throws.
   */
  push(text: string): void {
    const n = text.length;
    let i = 0;
    while (i < n) {
      if (this.afterCR) {
        this.afterCR = false;
        if (text.charCodeAt(i) === 0x0a) {
          i++;
          continue;
        }
      }
      if (this.state === FIELD_START) {
        if (text.charCodeAt(i) === 0x22) {
          this.state = QUOTED;
          this.wasQuoted = true;
          i++;
          continue;
        }
        this.state = UNQUOTED;
      }
      if (this.state === UNQUOTED) {
        UNQUOTED_STOP.lastIndex = i;
        const stop = UNQUOTED_STOP.exec(text);
        const j = stop === null ? n : stop.index;
        this.take(text, i, j);
        if (j === n) return;
        this.endOfField(text.charCodeAt(j));
        i = j + 1;
      } else if (this.state === QUOTED) {
        const j = text.indexOf('"', i);
        this.take(text, i, j < 0 ? n : j);
        if (j < 0) return;
        this.state = QUOTE_IN_QUOTED;
        i = j + 1;
      } else {
        const c = text.charCodeAt(i);
        if (c === 0x22) {
          this.take('"', 0, 1);
          this.state = QUOTED;
        } else if (c === 0x2c || c === 0x0a || c === 0x0d) {
          this.endOfField(c);
        } else {
          throw invalidDataset(
            `row ${this.row}, column ${this.fields.length + 1}: text after the closing quote of a quoted field ` +
              `(a quote inside a quoted field is written "")`,
          );
        }
        i++;
      }
    }
  }

  /**
   * Ends the text: the last record needs no line break.
   * @throws ServiceError INVALID_DATASET when a quoted field is still open.
   */
  end(): void {
    if (this.state === QUOTED) {
      throw invalidDataset(
        `row ${this.row}, column ${this.fields.length + 1}: a quoted field is never closed (its closing quote is missing)`,
      );
    }
    if (this.state !== FIELD_START || this.fields.length > 0) this.endOfField(0x0a);
  }

  private take(text: string, from: number, to: number): void {
    if (to === from) return;
    if (this.field.length + (to - from) > MAX_FIELD_CHARS) {
      throw invalidDataset(
        `row ${this.row}, column ${this.fields.length + 1}: a field longer than ${MAX_FIELD_CHARS} characters`,
      );
    }
    this.field += text.slice(from, to);
  }

  /** `c`: the comma or line break that ended the field. */
  private endOfField(c: number): void {
    this.fields.push(this.field);
    if (this.fields.length > MAX_FIELDS)
      throw invalidDataset(`row ${this.row}: more than ${MAX_FIELDS} fields`);
    this.field = '';
    this.state = FIELD_START;
    if (c === 0x2c) return;
    if (c === 0x0d) this.afterCR = true;
    const fields = this.fields;
    const blank = fields.length === 1 && fields[0] === '' && !this.wasQuoted;
    this.fields = [];
    this.wasQuoted = false;
    const row = this.row++;
    if (!blank) this.onRecord(fields, row);
  }
}
