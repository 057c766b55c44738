/**
 * IDX uploads (MNIST's format): a tar of train-images-idx3-ubyte, train-labels-idx1-ubyte,
 * t10k-images-idx3-ubyte and t10k-labels-idx1-ubyte, each gzipped or not (told by content).
 * src/core/data/idx.ts parses whole files held in memory; an upload is streamed instead, so the
 * header is read here and the values go straight to the sample sink.
 */
import type { ArchiveEntry } from '../../archive/archive-entry.js';
import type { ExpansionBudget } from '../../archive/budget.js';
import { gunzipChunks, isGzip } from '../../archive/gunzip.js';
import type { ReadPosition } from '../../archive/read-position.js';
import { IDX_UBYTE } from '../../../../core/data/idx.js';
import { invalidDataset, quote } from '../../errors.js';
import { SPLIT_TEST, SPLIT_TRAIN, type CollectedSamples } from '../../samples/collected.js';
import { IdList } from '../../samples/id-list.js';
import { SampleValues } from '../../samples/sample-values.js';
import type { ArchiveDecoder } from '../archive-decoder.js';
import { readHeaderAndBody } from '../header-body.js';
import { BoundedLabels } from '../labels.js';
import { checkSampleBytes } from '../sample-size.js';

/** The four files; mirrors also write `train-images.idx3-ubyte`, and any may end in `.gz`. */
const IDX_NAME = /^(train|t10k)-(images|labels)[-.]idx([13])-ubyte(?:\.gz)?$/;
const FILES = [
  'train-images-idx3-ubyte',
  'train-labels-idx1-ubyte',
  't10k-images-idx3-ubyte',
  't10k-labels-idx1-ubyte',
];

/** True when `fileName` (no folder) is one of the four IDX files. */
export function isIdxFileName(fileName: string): boolean {
  return IDX_NAME.test(fileName);
}

interface Images {
  file: string;
  count: number;
  rows: number;
  cols: number;
  values: SampleValues;
}

interface Labels {
  file: string;
  labels: IdList;
}

type Split = 'train' | 't10k';

export interface IdxDecoderOptions {
  keep: boolean;
  budget: ExpansionBudget;
  position: ReadPosition;
}

export class IdxDecoder implements ArchiveDecoder {
  private readonly images = new Map<Split, Images>();
  private readonly labelFiles = new Map<Split, Labels>();
  private readonly labels = new BoundedLabels();

  constructor(private readonly opts: IdxDecoderOptions) {}

  /**
   * @throws ServiceError INVALID_DATASET for a file that is not one of the four, one given
   *   twice, a bad magic number or type, a wrong number of dimensions, a truncated file.
   */
  async entry(entry: ArchiveEntry): Promise<void> {
    const base = entry.segments[entry.segments.length - 1];
    const m = IDX_NAME.exec(base);
    if (m === null)
      throw invalidDataset(
        `${quote(entry.path)} is not one of the files of an IDX upload (${FILES.join(', ')}; each may be gzipped)`,
      );
    const split = m[1] as Split;
    const kind = m[2] as 'images' | 'labels';
    const dims = Number(m[3]);
    if ((kind === 'images' ? this.images : this.labelFiles).has(split))
      throw invalidDataset(
        `the upload holds the ${split} ${kind} twice (again as ${quote(entry.path)})`,
      );
    const chunks = await this.contentOf(entry);
    if (kind === 'images') await this.readImages(chunks, entry.path, split, dims);
    else await this.readLabels(chunks, entry.path, split, dims);
  }

  /** The entry's bytes, gunzipped when they are gzip (by content, whatever the name says). */
  private async contentOf(entry: ArchiveEntry): Promise<AsyncIterable<Uint8Array>> {
    const iterator = entry.chunks()[Symbol.asyncIterator]();
    const first = await iterator.next();
    const head = first.done ? new Uint8Array(0) : first.value;
    const rest = { [Symbol.asyncIterator]: () => iterator };
    async function* whole() {
      yield head;
      yield* rest;
    }
    return isGzip(head) ? gunzipChunks(whole(), this.opts.budget, this.opts.position) : whole();
  }

  private async readImages(
    chunks: AsyncIterable<Uint8Array>,
    file: string,
    split: Split,
    expectedDims: number,
  ): Promise<void> {
    let images: Images | null = null;
    await readHeaderAndBody(chunks, file, {
      headerLength: (prefix) => idxHeaderLength(prefix, file),
      header: (bytes) => {
        const dims = idxDims(bytes, file, expectedDims);
        const [count, rows, cols] = dims;
        checkSampleBytes(rows * cols, quote(file));
        images = { file, count, rows, cols, values: new SampleValues(rows * cols, this.opts.keep) };
        return { bodyBytes: count * rows * cols, elementBytes: 1 };
      },
      body: (bytes) => images!.values.append(bytes),
    });
    this.images.set(split, images!);
  }

  private async readLabels(
    chunks: AsyncIterable<Uint8Array>,
    file: string,
    split: Split,
    expectedDims: number,
  ): Promise<void> {
    const labels = new IdList();
    await readHeaderAndBody(chunks, file, {
      headerLength: (prefix) => idxHeaderLength(prefix, file),
      header: (bytes) => {
        const [count] = idxDims(bytes, file, expectedDims);
        return { bodyBytes: count, elementBytes: 1 };
      },
      body: (bytes, first) => {
        bytes.forEach((label, k) =>
          labels.push(
            this.labels.idOf(
              String(label),
              () => `${quote(file)} at index ${first + k} (${label})`,
            ),
          ),
        );
      },
    });
    this.labelFiles.set(split, { file, labels });
  }

  /**
   * @throws ServiceError INVALID_DATASET naming a missing file, an images file and a labels file
   *   that disagree on the count, or train and test images of different sizes.
   */
  async finish(): Promise<CollectedSamples> {
    const splits: Split[] = ['train', 't10k'];
    for (const split of splits) {
      if (!this.images.has(split)) throw missing(`${split}-images-idx3-ubyte`);
      if (!this.labelFiles.has(split)) throw missing(`${split}-labels-idx1-ubyte`);
    }
    const [train, test] = splits.map((s) => this.images.get(s)!);
    const [trainLabels, testLabels] = splits.map((s) => this.labelFiles.get(s)!);
    for (const [images, labels] of [
      [train, trainLabels],
      [test, testLabels],
    ] as const) {
      if (images.count !== labels.labels.length) {
        throw invalidDataset(
          `${quote(labels.file)} holds ${labels.labels.length} labels but ${quote(images.file)} holds ${images.count} images; they must match`,
        );
      }
    }
    if (train.rows !== test.rows || train.cols !== test.cols) {
      throw invalidDataset(
        `${quote(test.file)} holds ${test.rows}x${test.cols} images but ${quote(train.file)} holds ${train.rows}x${train.cols}; they must match`,
      );
    }
    const labels = new Uint16Array(train.count + test.count);
    labels.set(trainLabels.labels.toArray());
    labels.set(testLabels.labels.toArray(), train.count);
    const splitOf = new Uint8Array(labels.length).fill(SPLIT_TRAIN);
    splitOf.fill(SPLIT_TEST, train.count);
    return {
      format: 'idx',
      dtype: 'uint8',
      inputShape: [train.rows, train.cols, 1],
      values: [train.values, test.values],
      labels,
      splits: splitOf,
      labelNames: this.labels.index.names,
      classOrder: 'numeric-when-all-numbers',
    };
  }
}

function missing(file: string): Error {
  return invalidDataset(
    `the IDX upload has no ${file} (gzipped or not); it needs all of ${FILES.join(', ')}`,
  );
}

function idxHeaderLength(prefix: Uint8Array, file: string): number | null {
  if (prefix.length < 4) return null;
  if (prefix[0] !== 0 || prefix[1] !== 0)
    throw invalidDataset(
      `${quote(file)} is not an IDX file (it does not start with two zero bytes)`,
    );
  if (prefix[2] !== IDX_UBYTE)
    throw invalidDataset(
      `${quote(file)} holds IDX type 0x${prefix[2].toString(16).padStart(2, '0')}; only unsigned bytes (0x08) are supported`,
    );
  return 4 + 4 * prefix[3];
}

function idxDims(header: Uint8Array, file: string, expected: number): number[] {
  const view = new DataView(header.buffer, header.byteOffset, header.byteLength);
  const dims = Array.from({ length: header[3] }, (_, i) => view.getUint32(4 + 4 * i, false));
  if (dims.length !== expected) {
    throw invalidDataset(
      `${quote(file)} has ${dims.length} dimensions [${dims.join(', ')}]; ${expected === 3 ? 'images need 3 [count, rows, cols]' : 'labels need 1 [count]'}`,
    );
  }
  return dims;
}
