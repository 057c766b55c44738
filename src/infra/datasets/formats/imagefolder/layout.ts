/**
 * Which folder is which in an ImageFolder archive, decided once every image has been seen
 * (a tar can only be read in order, so the layout cannot be known from its first entries):
 *   train/<class>/<image> and test/<class>/<image>   the upload's own split
 *   <class>/<image>                                  a seeded, stratified split is drawn
 * either one optionally inside a single top-level folder (`cifar10/train/cat/1.jpg`).
 */
import { invalidDataset, quote } from '../../errors.js';

/** A folder holding images: its path segments and the first image met in it, for messages. */
export interface ImageDir {
  segments: readonly string[];
  firstFile: string;
}

export interface DirPlacement {
  split: 'train' | 'test' | 'draw';
  className: string;
}

const SPLIT_FOLDERS = new Set(['train', 'test']);
const EXPECTED =
  'expected train/<class>/<image> and test/<class>/<image>, or <class>/<image>, optionally all inside one top-level folder';

/**
 * @param dirs every folder that holds images, in first-seen order.
 * @returns the placement of each, same order.
 * @throws ServiceError INVALID_DATASET naming a file that fits no layout, or a class folder
 *   present in one split and missing in the other.
 */
export function resolveLayout(dirs: readonly ImageDir[]): DirPlacement[] {
  const top = commonTopFolder(dirs);
  for (const strip of top === null ? [0] : [0, 1]) {
    const rest = dirs.map((d) => d.segments.slice(strip));
    const prefix = strip === 0 ? '' : `${top}/`;
    if (rest.every((s) => s.length === 2 && SPLIT_FOLDERS.has(s[0]))) {
      const placements = rest.map(([split, className]) => ({
        split: split as 'train' | 'test',
        className,
      }));
      checkSameClasses(placements, prefix);
      return placements;
    }
    if (rest.every((s) => s.length === 1)) {
      const misplaced = rest.findIndex((s) => SPLIT_FOLDERS.has(s[0]));
      if (misplaced >= 0) {
        throw invalidDataset(
          `${quote(dirs[misplaced].firstFile)} is directly in a ${rest[misplaced][0]}/ folder; put images in class folders: ${prefix}${rest[misplaced][0]}/<class>/<image>`,
        );
      }
      return rest.map(([className]) => ({ split: 'draw', className }));
    }
  }
  throw layoutError(dirs);
}

function commonTopFolder(dirs: readonly ImageDir[]): string | null {
  const first = dirs[0]?.segments[0];
  return first !== undefined && dirs.every((d) => d.segments.length > 1 && d.segments[0] === first)
    ? first
    : null;
}

function checkSameClasses(placements: DirPlacement[], prefix: string): void {
  const classes = { train: new Set<string>(), test: new Set<string>() };
  for (const p of placements) classes[p.split as 'train' | 'test'].add(p.className);
  for (const [split, other] of [
    ['test', 'train'],
    ['train', 'test'],
  ] as const) {
    if (classes[split].size === 0) {
      throw invalidDataset(
        `the archive has a ${prefix}${other}/ folder but no ${prefix}${split}/ folder; give both, or put every image in ${prefix}<class>/ folders for a seeded split`,
      );
    }
    const absent = [...classes[other]].sort().find((c) => !classes[split].has(c));
    if (absent !== undefined) {
      throw invalidDataset(
        `${prefix}${split}/ has no folder for class ${quote(absent)} (${prefix}${other}/${absent}/ has images); train and test must have the same class folders`,
      );
    }
  }
}

function layoutError(dirs: readonly ImageDir[]): Error {
  const atRoot = dirs.find((d) => d.segments.length === 0);
  if (atRoot !== undefined)
    return invalidDataset(`${quote(atRoot.firstFile)} is not inside a class folder; ${EXPECTED}`);
  const first = dirs[0];
  const other = dirs.find((d) => d.segments.length !== first.segments.length);
  if (other !== undefined) {
    return invalidDataset(
      `${quote(first.firstFile)} and ${quote(other.firstFile)} are at different folder depths; ${EXPECTED}`,
    );
  }
  const tops = [...new Set(dirs.map((d) => d.segments[0]))];
  if (tops.length > 1 && first.segments.length > 2) {
    return invalidDataset(
      `the archive has ${tops.length} top-level folders (${tops.slice(0, 3).map(quote).join(', ')}); ${EXPECTED}`,
    );
  }
  const odd =
    dirs.find((d) => d.segments.length !== 2 || !SPLIT_FOLDERS.has(d.segments[0])) ?? first;
  return invalidDataset(`${quote(odd.firstFile)} does not fit the layout; ${EXPECTED}`);
}
