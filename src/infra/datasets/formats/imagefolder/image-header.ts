/**
 * Size and colour of a PNG or JPEG from its header bytes, without decoding: enough to refuse an
 * image of the wrong size or kind before paying for a decode, and to ask sharp for the right
 * colourspace in a single call (sharp's own metadata() is a second trip through libvips,
 * about a third of the cost of decoding a 32x32 JPEG).
 */

export interface ImageHeader {
  kind: 'png' | 'jpeg';
  width: number;
  height: number;
  /** 1 for greyscale (with or without alpha), 3 for colour (RGB, palette, YCbCr, CMYK). */
  channels: 1 | 3;
}

const PNG_SIGNATURE = [0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a];
const JPEG_SOI = [0xff, 0xd8, 0xff];

/** 'png', 'jpeg' or null, from the magic bytes (never from the file name). */
export function imageKind(bytes: Uint8Array): 'png' | 'jpeg' | null {
  const starts = (sig: number[]) =>
    bytes.length >= sig.length && sig.every((b, i) => bytes[i] === b);
  return starts(PNG_SIGNATURE) ? 'png' : starts(JPEG_SOI) ? 'jpeg' : null;
}

/** The header of a PNG or JPEG (by `imageKind`), or null when it cannot be read (corrupt). */
export function readImageHeader(bytes: Uint8Array, kind: 'png' | 'jpeg'): ImageHeader | null {
  return kind === 'png' ? pngHeader(bytes) : jpegHeader(bytes);
}

/** PNG: the IHDR chunk comes first (width, height, bit depth, colour type). */
function pngHeader(bytes: Uint8Array): ImageHeader | null {
  if (bytes.length < 33) return null;
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  if (String.fromCharCode(...bytes.subarray(12, 16)) !== 'IHDR') return null;
  const colourType = bytes[25];
  // 0 grey, 4 grey + alpha; 2 RGB, 3 palette, 6 RGBA.
  if (![0, 2, 3, 4, 6].includes(colourType)) return null;
  return {
    kind: 'png',
    width: view.getUint32(16),
    height: view.getUint32(20),
    channels: colourType === 0 || colourType === 4 ? 1 : 3,
  };
}

/** JPEG: walk the marker segments to the first start-of-frame (SOF0-SOF15 but DHT, JPG, DAC). */
function jpegHeader(bytes: Uint8Array): ImageHeader | null {
  let i = 2;
  while (i + 4 <= bytes.length) {
    if (bytes[i] !== 0xff) return null;
    const marker = bytes[i + 1];
    if (marker === 0xff) {
      i++; // fill byte
      continue;
    }
    if (marker === 0xd8 || marker === 0x01 || (marker >= 0xd0 && marker <= 0xd7)) {
      i += 2; // markers without a length
      continue;
    }
    if (marker === 0xd9 || marker === 0xda) return null; // end of image or scan data before any frame
    const length = (bytes[i + 2] << 8) | bytes[i + 3];
    const isFrame =
      marker >= 0xc0 && marker <= 0xcf && marker !== 0xc4 && marker !== 0xc8 && marker !== 0xcc;
    if (isFrame) {
      if (i + 10 > bytes.length) return null;
      const height = (bytes[i + 5] << 8) | bytes[i + 6];
      const width = (bytes[i + 7] << 8) | bytes[i + 8];
      const components = bytes[i + 9];
      if (components !== 1 && components !== 3 && components !== 4) return null;
      return { kind: 'jpeg', width, height, channels: components === 1 ? 1 : 3 };
    }
    i += 2 + length;
  }
  return null;
}
