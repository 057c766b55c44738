/** Image files for predictions, decoded with sharp into the raw pixels a task model takes. */
import sharp from 'sharp';
import { ServiceError } from '../../services/errors.js';
import type { ImageDecoder } from '../../services/ports.js';

/** An image file larger than this many pixels is refused before decoding (a decompression bomb). */
const MAX_PIXELS = 4096 * 4096;

export class SharpImageDecoder implements ImageDecoder {
  async decode(
    bytes: Uint8Array,
    [height, width, channels]: [number, number, number],
  ): Promise<number[]> {
    let image: { data: Buffer; info: { width: number; height: number } };
    try {
      let pipeline = sharp(bytes, { limitInputPixels: MAX_PIXELS }).removeAlpha();
      pipeline = channels === 1 ? pipeline.toColourspace('b-w') : pipeline.toColourspace('srgb');
      image = await pipeline.raw().toBuffer({ resolveWithObject: true });
    } catch {
      throw new ServiceError(
        'INVALID_INPUT',
        'the body is not a PNG or JPEG image that can be decoded',
      );
    }
    const { width: w, height: h } = image.info;
    if (w !== width || h !== height) {
      throw new ServiceError(
        'INVALID_INPUT',
        `the image is ${w}x${h} pixels; the job's models take ${width}x${height} images (resize it first)`,
      );
    }
    return Array.from(image.data.subarray(0, width * height * channels));
  }
}
