/**
 * One PNG or JPEG file to raw uint8 pixels (HWC) with sharp. Greyscale stays one channel,
 * colour becomes three (sRGB; palette PNGs and CMYK JPEGs are converted), alpha is dropped,
 * 16-bit PNGs are scaled to 8 bits.
 */
import sharp from 'sharp';
import { asDatasetError, invalidDataset, quote } from '../../errors.js';
import { imageKind, readImageHeader, type ImageHeader } from './image-header.js';

/** Largest image accepted, in pixels (2048 x 2048): bounds what decoding one file allocates. */
export const MAX_IMAGE_PIXELS = 2048 * 2048;
/** Largest image file accepted, in bytes. */
export const MAX_IMAGE_FILE_BYTES = 32 * 1024 * 1024;

/**
 * The image's size and colour, from its header.
 *
 * @param file the entry's path, for messages.
 * @throws ServiceError INVALID_DATASET naming the file when it is not a PNG or JPEG by content,
 *   its header is unreadable, or it is over MAX_IMAGE_PIXELS.
 */
export function readImageInfo(bytes: Uint8Array, file: string): ImageHeader {
  const kind = imageKind(bytes);
  if (kind === null) throw invalidDataset(`${quote(file)} is not a PNG or JPEG image`);
  const header = readImageHeader(bytes, kind);
  if (header === null) throw corrupt(file, kind);
  if (header.width * header.height > MAX_IMAGE_PIXELS) {
    throw invalidDataset(
      `${quote(file)} is ${header.width}x${header.height} pixels; images may have at most ${MAX_IMAGE_PIXELS} pixels`,
    );
  }
  if (header.width === 0 || header.height === 0) throw corrupt(file, kind);
  return header;
}

/**
 * Decodes the whole image (so corruption anywhere in it is found, libvips warnings included).
 *
 * @returns height x width x header.channels bytes.
 * @throws ServiceError INVALID_DATASET naming the file when it cannot be decoded, or decodes to
 *   another size than its header says.
 */
export async function decodePixels(
  bytes: Buffer,
  header: ImageHeader,
  file: string,
): Promise<Buffer> {
  try {
    const { data, info } = await sharp(bytes, {
      limitInputPixels: MAX_IMAGE_PIXELS,
      failOn: 'warning',
    })
      .removeAlpha()
      // sharp's raw output is sRGB unless asked otherwise, so greyscale has to be asked for.
      .toColourspace(header.channels === 1 ? 'b-w' : 'srgb')
      .raw()
      .toBuffer({ resolveWithObject: true });
    if (
      info.width !== header.width ||
      info.height !== header.height ||
      data.length !== header.width * header.height * header.channels
    ) {
      throw corrupt(file, header.kind);
    }
    return data;
  } catch (e) {
    throw asDatasetError(e, corrupt(file, header.kind).message);
  }
}

function corrupt(file: string, kind: 'png' | 'jpeg'): Error {
  return invalidDataset(
    `${quote(file)} cannot be decoded as ${kind === 'png' ? 'PNG' : 'JPEG'}: the image is corrupt or truncated`,
  );
}
