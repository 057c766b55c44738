/**
 * CSV uploads: a header row, numeric feature columns and one label column. Read as a stream of
 * records; each row's features go to the sample sink as float32, its label to the label index.
 * There is no test-split column: the seeded draw holds out the test samples.
 */
import { invalidDataset, quote } from '../../errors.js';
import { IdList } from '../../samples/id-list.js';
import { SampleValues } from '../../samples/sample-values.js';
import { SPLIT_DRAW, type CollectedSamples } from '../../samples/collected.js';
import { BoundedLabels } from '../labels.js';
import { CsvRecords } from './csv-records.js';
import { parseFeature } from './csv-number.js';
import { Utf8Text, type DecodedPiece } from './utf8-text.js';

export interface CsvOptions {
  labelColumn: string;
  keep: boolean;
}

interface Columns {
  names: string[];
  label: number;
  features: number[];
  row: Float32Array;
  rowBytes: Uint8Array;
  values: SampleValues;
}

/**
 * Reads a whole CSV file.
 *
 * @param bytes the file's bytes (decompressed); an optional UTF-8 byte-order mark is skipped.
 * @throws ServiceError INVALID_DATASET naming the row and column of the first bad cell (empty,
 *   not a number, NaN/Inf, out of float32 range), a row with another number of fields than the
 *   header, a missing label column (listing the header), text that is not UTF-8, or labels with
 *   more than MAX_CLASSES distinct values.
 */
export async function readCsv(
  bytes: AsyncIterable<Uint8Array>,
  opts: CsvOptions,
): Promise<CollectedSamples> {
  let columns: Columns | null = null;
  const labels = new BoundedLabels();
  const labelOfRow = new IdList();

  const onRecord = (fields: string[], row: number) => {
    if (columns === null) {
      columns = readHeader(fields, opts);
      return;
    }
    if (fields.length !== columns.names.length) throw raggedRow(fields.length, row, columns.names);
    for (let k = 0; k < columns.features.length; k++) {
      const col = columns.features[k];
      const value = parseFeature(fields[col]);
      if (typeof value !== 'number')
        throw invalidDataset(`row ${row}, ${columnName(col, columns.names)}: ${value.problem}`);
      columns.row[k] = value;
    }
    const label = fields[columns.label];
    if (label === '')
      throw invalidDataset(`row ${row}, ${columnName(columns.label, columns.names)}: empty label`);
    const labelColumn = columns.label;
    const names = columns.names;
    labelOfRow.push(
      labels.idOf(label, () => `row ${row}, ${columnName(labelColumn, names)}: ${quote(label)}`),
    );
    columns.values.append(columns.rowBytes);
  };

  const records = new CsvRecords(onRecord);
  const text = new Utf8Text();
  const push = ({ text: piece, invalid }: DecodedPiece) => {
    records.push(piece);
    if (invalid)
      throw invalidDataset(
        `row ${records.currentRow}: the CSV is not valid UTF-8 text from there on (save it as UTF-8)`,
      );
  };
  for await (const chunk of bytes) push(text.decode(chunk));
  push(text.end());
  records.end();

  const found = columns as Columns | null;
  if (found === null) throw invalidDataset('the CSV is empty: it has no header row');
  if (labelOfRow.length === 0) throw invalidDataset('the CSV has a header row but no data rows');
  const n = labelOfRow.length;
  return {
    format: 'csv',
    dtype: 'float32',
    inputShape: [found.features.length],
    values: [found.values],
    labels: labelOfRow.toArray(),
    splits: new Uint8Array(n).fill(SPLIT_DRAW),
    labelNames: labels.index.names,
    classOrder: 'numeric-when-all-numbers',
  };
}

function readHeader(names: string[], opts: CsvOptions): Columns {
  const matches = names.flatMap((name, i) => (name === opts.labelColumn ? [i] : []));
  if (matches.length === 0) {
    throw invalidDataset(
      `the CSV has no label column ${quote(opts.labelColumn)}; its header is: ${names.map(quote).join(', ')} ` +
        `(name the label column in the upload's labelColumn option)`,
    );
  }
  if (matches.length > 1) {
    throw invalidDataset(
      `the label column ${quote(opts.labelColumn)} appears ${matches.length} times in the header (columns ${matches.map((i) => i + 1).join(', ')})`,
    );
  }
  const features = names.flatMap((_, i) => (i === matches[0] ? [] : [i]));
  if (features.length === 0)
    throw invalidDataset(
      `the CSV has no feature columns besides the label column ${quote(opts.labelColumn)}`,
    );
  const row = new Float32Array(features.length);
  return {
    names,
    label: matches[0],
    features,
    row,
    rowBytes: new Uint8Array(row.buffer),
    values: new SampleValues(row.byteLength, opts.keep),
  };
}

function raggedRow(count: number, row: number, names: string[]): Error {
  const where =
    count < names.length
      ? `${columnName(count, names)} and after are missing`
      : `column ${names.length + 1} and after are not in the header`;
  return invalidDataset(
    `row ${row} has ${count} fields but the header has ${names.length}: ${where}`,
  );
}

/** `column 3 ("petal_width")`: the 1-based position and the header's name for it. */
function columnName(index: number, names: readonly string[]): string {
  return `column ${index + 1} (${quote(names[index])})`;
}
