/**
 * NumPy uploads: an .npz (np.savez / np.savez_compressed) or a tar of .npy files, holding x
 * (uint8 or float32, [N, ...]) and y (integer labels, [N]), optionally x_test and y_test.
 * Each array streams through once: sample values to the sink, labels to the label index, so the
 * arrays may come in any order and x is never held whole unless the caller keeps it.
 */
import type { ArchiveEntry } from '../../archive/archive-entry.js';
import { invalidDataset, quote } from '../../errors.js';
import {
  SPLIT_DRAW,
  SPLIT_TEST,
  SPLIT_TRAIN,
  type CollectedSamples,
} from '../../samples/collected.js';
import { IdList } from '../../samples/id-list.js';
import { SampleValues } from '../../samples/sample-values.js';
import type { SampleDtype } from '../../types.js';
import type { ArchiveDecoder } from '../archive-decoder.js';
import { readHeaderAndBody } from '../header-body.js';
import { BoundedLabels } from '../labels.js';
import { npyHeaderLength, parseNpyHeader, type NpyDtype } from './npy-header.js';
import { readLabels } from './npy-labels.js';
import { checkSampleBytes } from '../sample-size.js';
import { checkFinite } from './finite.js';

const ARRAY_NAMES = ['x', 'y', 'x_test', 'y_test'] as const;
type ArrayName = (typeof ARRAY_NAMES)[number];
const EXPECTED = 'x.npy and y.npy, optionally x_test.npy and y_test.npy: np.savez(path, x=x, y=y)';

interface SampleArray {
  file: string;
  dtype: SampleDtype;
  shape: number[];
  values: SampleValues;
}

interface LabelArray {
  file: string;
  length: number;
  labels: IdList;
}

export class NpzDecoder implements ArchiveDecoder {
  private readonly samples = new Map<'x' | 'x_test', SampleArray>();
  private readonly labelArrays = new Map<'y' | 'y_test', LabelArray>();
  private readonly labels = new BoundedLabels();

  constructor(private readonly keep: boolean) {}

  /**
   * @throws ServiceError INVALID_DATASET for a file that is not one of the four arrays, an
   *   array read twice, a dtype or shape an array may not have (naming the array and its dtype),
   *   NaN or Inf in float32 data (naming the array, flat index and sample), a truncated file.
   */
  async entry(entry: ArchiveEntry): Promise<void> {
    const base = entry.segments[entry.segments.length - 1];
    const name = base.endsWith('.npy') ? base.slice(0, -'.npy'.length) : null;
    if (name === null || !(ARRAY_NAMES as readonly string[]).includes(name)) {
      throw invalidDataset(
        `${quote(entry.path)} is not one of the arrays of a NumPy upload (${EXPECTED})`,
      );
    }
    const array = name as ArrayName;
    if (this.samples.has(array as 'x') || this.labelArrays.has(array as 'y'))
      throw invalidDataset(
        `the upload holds array ${quote(array)} twice (again as ${quote(entry.path)})`,
      );
    if (array === 'x' || array === 'x_test') await this.readSamples(entry, array);
    else await this.readLabels(entry, array);
  }

  private async readSamples(entry: ArchiveEntry, name: 'x' | 'x_test'): Promise<void> {
    let array: SampleArray | null = null;
    let sampleElements = 0;
    await readHeaderAndBody(entry.chunks(), entry.path, {
      headerLength: (prefix) => npyHeaderLength(prefix, entry.path),
      header: (bytes) => {
        const { dtype, shape } = parseNpyHeader(bytes, entry.path);
        const sampleDtype = sampleDtypeOf(dtype, name);
        if (shape.length < 2 || shape.slice(1).some((d) => d === 0)) {
          throw invalidDataset(
            `array ${quote(name)} has shape (${shape.join(', ')}); it must be [N, ...] with at least 2 dimensions and no empty sample dimension`,
          );
        }
        sampleElements = shape.slice(1).reduce((a, b) => a * b, 1);
        checkSampleBytes(sampleElements * dtype.bytes, `array ${quote(name)}`);
        const values = new SampleValues(sampleElements * dtype.bytes, this.keep);
        array = { file: entry.path, dtype: sampleDtype, shape, values };
        return { bodyBytes: shape[0] * values.sampleBytes, elementBytes: dtype.bytes };
      },
      body: (bytes, first) => {
        if (array!.dtype === 'float32')
          checkFinite(
            bytes,
            first,
            (index, value) =>
              `array ${quote(name)} holds ${value} at flat index ${index} (sample ${Math.floor(index / sampleElements)}); values must be finite`,
          );
        array!.values.append(bytes);
      },
    });
    this.samples.set(name, array!);
  }

  private async readLabels(entry: ArchiveEntry, name: 'y' | 'y_test'): Promise<void> {
    let dtype: NpyDtype | null = null;
    let length = 0;
    const labels = new IdList();
    await readHeaderAndBody(entry.chunks(), entry.path, {
      headerLength: (prefix) => npyHeaderLength(prefix, entry.path),
      header: (bytes) => {
        const header = parseNpyHeader(bytes, entry.path);
        dtype = header.dtype;
        if (!(dtype.kind === 'i' || dtype.kind === 'u') || ![1, 2, 4, 8].includes(dtype.bytes)) {
          throw invalidDataset(
            `array ${quote(name)} has dtype ${dtype.name} (${quote(dtype.descr)}); labels must be integers (int8 to int64, uint8 to uint64)`,
          );
        }
        if (header.shape.length !== 1) {
          throw invalidDataset(
            `array ${quote(name)} has shape (${header.shape.join(', ')}); labels must be one-dimensional [N] (y.ravel())`,
          );
        }
        length = header.shape[0];
        return { bodyBytes: length * dtype.bytes, elementBytes: dtype.bytes };
      },
      body: (bytes, first) =>
        readLabels(bytes, dtype!, (label, k) =>
          labels.push(
            this.labels.idOf(
              label,
              () => `array ${quote(name)} at flat index ${first + k} (${label})`,
            ),
          ),
        ),
    });
    this.labelArrays.set(name, { file: entry.path, length, labels });
  }

  /**
   * @throws ServiceError INVALID_DATASET when x or y is missing, x_test comes without y_test (or
   *   the reverse), an array of labels and its samples differ in length, or x_test's samples
   *   differ from x's in shape or dtype.
   */
  async finish(): Promise<CollectedSamples> {
    const x = this.samples.get('x');
    const y = this.labelArrays.get('y');
    const xTest = this.samples.get('x_test');
    const yTest = this.labelArrays.get('y_test');
    if (x === undefined || y === undefined)
      throw invalidDataset(
        `the NumPy upload has no array ${quote(x === undefined ? 'x' : 'y')}; it needs ${EXPECTED}`,
      );
    if ((xTest === undefined) !== (yTest === undefined)) {
      throw invalidDataset(
        `the NumPy upload has ${xTest ? 'x_test but no y_test' : 'y_test but no x_test'}; give both or neither`,
      );
    }
    checkLengths('x', x, 'y', y);
    const parts: [SampleArray, LabelArray][] = [[x, y]];
    if (xTest !== undefined && yTest !== undefined) {
      checkLengths('x_test', xTest, 'y_test', yTest);
      const sample = x.shape.slice(1).join(', ');
      const testSample = xTest.shape.slice(1).join(', ');
      if (sample !== testSample)
        throw invalidDataset(
          `x_test's samples have shape (${testSample}) but x's have (${sample}); they must match`,
        );
      if (xTest.dtype !== x.dtype)
        throw invalidDataset(
          `x_test has dtype ${xTest.dtype} but x has ${x.dtype}; they must match`,
        );
      parts.push([xTest, yTest]);
    }
    const labels = new Uint16Array(parts.reduce((n, [, l]) => n + l.length, 0));
    const splits = new Uint8Array(labels.length);
    let offset = 0;
    parts.forEach(([, l], k) => {
      labels.set(l.labels.toArray(), offset);
      splits.fill(
        parts.length === 1 ? SPLIT_DRAW : k === 0 ? SPLIT_TRAIN : SPLIT_TEST,
        offset,
        offset + l.length,
      );
      offset += l.length;
    });
    return {
      format: 'npz',
      dtype: x.dtype,
      inputShape: x.shape.slice(1),
      values: parts.map(([s]) => s.values),
      labels,
      splits,
      labelNames: this.labels.index.names,
      classOrder: 'numeric-when-all-numbers',
    };
  }
}

function sampleDtypeOf(dtype: NpyDtype, name: string): SampleDtype {
  if (dtype.kind === 'u' && dtype.bytes === 1) return 'uint8';
  if (dtype.kind === 'f' && dtype.bytes === 4) return 'float32';
  throw invalidDataset(
    `array ${quote(name)} has dtype ${dtype.name} (${quote(dtype.descr)}); ${name} must be uint8 or float32 (x.astype(np.float32))`,
  );
}

function checkLengths(xName: string, x: SampleArray, yName: string, y: LabelArray): void {
  if (x.shape[0] !== y.length)
    throw invalidDataset(
      `${yName} has ${y.length} labels but ${xName} has ${x.shape[0]} samples; they must match`,
    );
}
