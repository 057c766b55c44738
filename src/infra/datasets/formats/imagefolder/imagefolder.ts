/**
 * ImageFolder uploads: PNG or JPEG images in class folders (see layout.ts), all of one size and
 * all greyscale or all colour. Each image is checked against the first by its header as it
 * streams past, then decoded (a few at a time, see DecodeQueue) and its pixels go to the sample
 * sink; only its folder is remembered (a small id per sample) until the layout, and so each
 * sample's class and split, is known at the end.
 */
import { readEntryBytes, type ArchiveEntry } from '../../archive/archive-entry.js';
import { invalidDataset, quote } from '../../errors.js';
import {
  SPLIT_DRAW,
  SPLIT_TEST,
  SPLIT_TRAIN,
  type CollectedSamples,
} from '../../samples/collected.js';
import { IdList } from '../../samples/id-list.js';
import { LabelIndex } from '../../samples/label-index.js';
import { SampleValues } from '../../samples/sample-values.js';
import { MAX_CLASSES } from '../../types.js';
import type { ArchiveDecoder } from '../archive-decoder.js';
import { DecodeQueue } from './decode-queue.js';
import type { ImageHeader } from './image-header.js';
import { decodePixels, MAX_IMAGE_FILE_BYTES, readImageInfo } from './image.js';
import { resolveLayout, type ImageDir } from './layout.js';

/** Folders that may hold images: a class folder in each split, plus a few strays to report. */
const MAX_IMAGE_DIRS = 2 * MAX_CLASSES + 2;

interface Reference extends ImageHeader {
  file: string;
}

export class ImageFolderDecoder implements ArchiveDecoder {
  private reference: Reference | null = null;
  private values: SampleValues | null = null;
  private readonly queue = new DecodeQueue();
  private readonly dirIds = new Map<string, number>();
  private readonly dirs: ImageDir[] = [];
  private readonly dirOfSample = new IdList();

  constructor(private readonly keep: boolean) {}

  /**
   * @throws ServiceError INVALID_DATASET naming the file when it is not a PNG or JPEG, cannot be
   *   decoded, or differs in size or in greyscale/colour from the first image (named too).
   */
  async entry(entry: ArchiveEntry): Promise<void> {
    const bytes = await readEntryBytes(entry, MAX_IMAGE_FILE_BYTES);
    const header = readImageInfo(bytes, entry.path);
    const values = this.checkLikeFirst(header, entry.path);
    this.dirOfSample.push(this.dirId(entry));
    // Samples reach the sink in queue order, which is archive order.
    await this.queue.add(
      decodePixels(bytes, header, entry.path),
      bytes.length + header.width * header.height * header.channels,
      (pixels) => values.append(pixels),
    );
  }

  private dirId(entry: ArchiveEntry): number {
    const dir = entry.segments.slice(0, -1);
    const key = dir.join('/');
    let id = this.dirIds.get(key);
    if (id === undefined) {
      id = this.dirs.length;
      if (id >= MAX_IMAGE_DIRS)
        throw invalidDataset(
          `more than ${MAX_IMAGE_DIRS} folders hold images (the last is ${quote(key)}); at most ${MAX_CLASSES} classes are supported`,
        );
      this.dirIds.set(key, id);
      this.dirs.push({ segments: dir, firstFile: entry.path });
    }
    return id;
  }

  private checkLikeFirst(image: ImageHeader, file: string): SampleValues {
    const ref = this.reference;
    if (ref === null || this.values === null) {
      this.reference = { ...image, file };
      this.values = new SampleValues(image.width * image.height * image.channels, this.keep);
      return this.values;
    }
    if (image.width !== ref.width || image.height !== ref.height) {
      throw invalidDataset(
        `${quote(file)} is ${image.width}x${image.height} pixels but the images before it are ${ref.width}x${ref.height} ` +
          `(like ${quote(ref.file)}); all images must have one size`,
      );
    }
    if (image.channels !== ref.channels) {
      throw invalidDataset(
        `${quote(file)} is ${colour(image.channels)} but the images before it are ${colour(ref.channels)} (like ${quote(ref.file)}); ` +
          `all images must be greyscale or all colour`,
      );
    }
    return this.values;
  }

  /**
   * @throws ServiceError INVALID_DATASET when an image cannot be decoded or the folders fit no
   * layout (see layout.ts).
   */
  async finish(): Promise<CollectedSamples> {
    await this.queue.drain();
    const ref = this.reference;
    if (ref === null || this.values === null) throw invalidDataset('the archive holds no images');
    const placements = resolveLayout(this.dirs);
    const classes = new LabelIndex();
    const labelOfDir = placements.map((p) => classes.idOf(p.className));
    const splitOfDir = placements.map((p) =>
      p.split === 'train' ? SPLIT_TRAIN : p.split === 'test' ? SPLIT_TEST : SPLIT_DRAW,
    );
    const dirOfSample = this.dirOfSample.toArray();
    return {
      format: 'imagefolder',
      dtype: 'uint8',
      inputShape: [ref.height, ref.width, ref.channels],
      values: [this.values],
      labels: dirOfSample.map((d) => labelOfDir[d]),
      splits: Uint8Array.from(dirOfSample, (d) => splitOfDir[d]),
      labelNames: classes.names,
      classOrder: 'lexicographic',
    };
  }
}

function colour(channels: 1 | 3): string {
  return channels === 1 ? 'greyscale' : 'colour';
}
