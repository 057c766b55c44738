/**
 * The one path every upload takes, for inspectDataset and decodeDataset alike: check the
 * options, tell the container from the content, check the declared format, stream the entries
 * through the format's decoder into the sample sink (which keeps or drops the values), then the
 * shared checks and the split.
 */
import { createReadStream } from 'node:fs';
import type { ArchiveEntry } from './archive/archive-entry.js';
import { ExpansionBudget } from './archive/budget.js';
import { gunzipChunks } from './archive/gunzip.js';
import { ReadPosition } from './archive/read-position.js';
import { readTar } from './archive/tar.js';
import { readZip } from './archive/zip.js';
import { describeContainer, type Container } from './detect/container.js';
import { sniffUpload } from './detect/sniff.js';
import { invalidDataset, quote, unsupportedFormat } from './errors.js';
import type { ArchiveDecoder } from './formats/archive-decoder.js';
import { archiveFormatOf, createArchiveDecoder } from './formats/archive-format.js';
import { readCsv } from './formats/csv/csv.js';
import type { CollectedSamples } from './samples/collected.js';
import { assembleDataset, planSplits, type SplitPlan } from './samples/finish.js';
import {
  DEFAULT_LABEL_COLUMN,
  DEFAULT_TEST_FRACTION,
  type DatasetFormat,
  type DecodeOptions,
  type DecodedDataset,
} from './types.js';

interface ReadContext {
  declared: DatasetFormat | undefined;
  labelColumn: string;
  keep: boolean;
  budget: ExpansionBudget;
  position: ReadPosition;
}

/**
 * Reads and validates the upload at `path`; with `keep` the sample values are kept and the
 * arrays assembled, without it only the summary is made.
 */
export async function readDataset(
  path: string,
  opts: DecodeOptions,
  keep: true,
): Promise<DecodedDataset>;
export async function readDataset(
  path: string,
  opts: DecodeOptions,
  keep: false,
): Promise<SplitPlan>;
export async function readDataset(
  path: string,
  opts: DecodeOptions,
  keep: boolean,
): Promise<DecodedDataset | SplitPlan> {
  const { testFraction, seed, labelColumn, maxExpandedBytes } = resolveOptions(opts);
  const ctx: ReadContext = {
    declared: opts.format,
    labelColumn,
    keep,
    budget: new ExpansionBudget(maxExpandedBytes),
    position: new ReadPosition(),
  };
  const container = await sniffUpload(path);
  const collected =
    container.kind === 'csv'
      ? await readCsvUpload(path, container, ctx)
      : await readArchiveUpload(path, container, ctx);
  const plan = planSplits(collected, { testFraction, seed });
  return keep ? assembleDataset(collected, plan) : plan;
}

function resolveOptions(opts: DecodeOptions) {
  const {
    testFraction = DEFAULT_TEST_FRACTION,
    seed = 0,
    labelColumn = DEFAULT_LABEL_COLUMN,
    maxExpandedBytes,
  } = opts;
  // Options come from our own API layer, which validates them: a bad one is a bug there.
  if (!(testFraction > 0 && testFraction < 1))
    throw new RangeError(`testFraction must be in (0, 1), got ${testFraction}`);
  if (!Number.isSafeInteger(seed)) throw new RangeError(`seed must be an integer, got ${seed}`);
  if (!(maxExpandedBytes > 0))
    throw new RangeError(`maxExpandedBytes must be positive, got ${maxExpandedBytes}`);
  return { testFraction, seed, labelColumn, maxExpandedBytes };
}

function checkDeclared(
  declared: DatasetFormat | undefined,
  detected: DatasetFormat,
  what: string,
): void {
  if (declared !== undefined && declared !== detected) {
    throw unsupportedFormat(
      `declared ${quote(declared)} but the upload is ${what} (format ${quote(detected)})`,
    );
  }
}

async function readCsvUpload(
  path: string,
  container: Extract<Container, { kind: 'csv' }>,
  ctx: ReadContext,
): Promise<CollectedSamples> {
  checkDeclared(ctx.declared, 'csv', describeContainer(container));
  const file = createReadStream(path);
  const bytes = container.gzip ? gunzipChunks(file, ctx.budget, ctx.position) : file;
  try {
    return await readCsv(bytes, { labelColumn: ctx.labelColumn, keep: ctx.keep });
  } finally {
    file.destroy();
  }
}

async function readArchiveUpload(
  path: string,
  container: Exclude<Container, { kind: 'csv' }>,
  ctx: ReadContext,
): Promise<CollectedSamples> {
  let decoder: ArchiveDecoder | null = null;
  const visit = async (entry: ArchiveEntry) => {
    if (decoder === null) {
      const { format, holding } = archiveFormatOf(entry.path);
      checkDeclared(ctx.declared, format, `${describeContainer(container)} ${holding}`);
      decoder = createArchiveDecoder(format, ctx);
    }
    await decoder.entry(entry);
  };
  const { budget, position } = ctx;
  if (container.kind === 'zip') {
    await readZip(path, visit, { budget, position });
  } else {
    const file = createReadStream(path);
    try {
      const bytes = container.gzip ? gunzipChunks(file, budget, position) : file;
      await readTar(bytes, visit, { budget, chargeEntries: !container.gzip, position });
    } finally {
      file.destroy();
    }
  }
  const found = decoder as ArchiveDecoder | null;
  if (found === null)
    throw invalidDataset(
      `the ${container.kind} archive holds no files (hidden files and __MACOSX/ are skipped)`,
    );
  return await found.finish();
}
