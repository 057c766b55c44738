/**
 * A plain-loop, float64, channels-first (NCHW, as PyTorch) restatement of the convolutional target
 * networks, written from hypnettorch's forward passes (mnets/zenkenet.py, mnets/resnet.py), to
 * check the engine's TF.js versions against something that shares none of their code.
 */

/** An NCHW activation. */
export interface Maps {
  n: number;
  c: number;
  h: number;
  w: number;
  data: Float64Array;
}

const at = (m: Maps, i: number, c: number, y: number, x: number) =>
  ((i * m.c + c) * m.h + y) * m.w + x;

/** Rows of an [n, h*w*c] HWC input as NCHW maps. */
export function fromRows(
  rows: ArrayLike<number>,
  n: number,
  h: number,
  w: number,
  c: number,
): Maps {
  const m: Maps = { n, c, h, w, data: new Float64Array(n * c * h * w) };
  for (let i = 0; i < n; i++)
    for (let y = 0; y < h; y++)
      for (let x = 0; x < w; x++)
        for (let ch = 0; ch < c; ch++) {
          m.data[at(m, i, ch, y, x)] = rows[((i * h + y) * w + x) * c + ch];
        }
  return m;
}

/**
 * PyTorch's F.conv2d with a [kh, kw, cin, cout] (TF.js-layout) kernel read as weight[o][i][r][s],
 * symmetric zero padding and a bias.
 */
export function conv(
  x: Maps,
  kernel: ArrayLike<number>,
  bias: ArrayLike<number>,
  kh: number,
  cout: number,
  stride: number,
  pad: number,
): Maps {
  const ho = Math.floor((x.h + 2 * pad - kh) / stride) + 1;
  const wo = Math.floor((x.w + 2 * pad - kh) / stride) + 1;
  const out: Maps = { n: x.n, c: cout, h: ho, w: wo, data: new Float64Array(x.n * cout * ho * wo) };
  const weight = (o: number, i: number, r: number, s: number) =>
    kernel[((r * kh + s) * x.c + i) * cout + o];
  for (let i = 0; i < x.n; i++)
    for (let o = 0; o < cout; o++)
      for (let y = 0; y < ho; y++)
        for (let z = 0; z < wo; z++) {
          let sum = bias[o];
          for (let ci = 0; ci < x.c; ci++)
            for (let r = 0; r < kh; r++)
              for (let s = 0; s < kh; s++) {
                const yy = y * stride + r - pad;
                const zz = z * stride + s - pad;
                if (yy >= 0 && yy < x.h && zz >= 0 && zz < x.w)
                  sum += x.data[at(x, i, ci, yy, zz)] * weight(o, ci, r, s);
              }
          out.data[at(out, i, o, y, z)] = sum;
        }
  return out;
}

export const relu = (m: Maps): Maps => ({ ...m, data: m.data.map((v) => Math.max(0, v)) });

export function add(a: Maps, b: Maps): Maps {
  return { ...a, data: a.data.map((v, i) => v + b.data[i]) };
}

/** F.max_pool2d(x, 2): 2x2 windows, stride 2, the last odd row/column dropped. */
export function maxPool2(x: Maps): Maps {
  const [h, w] = [Math.floor(x.h / 2), Math.floor(x.w / 2)];
  const out: Maps = { n: x.n, c: x.c, h, w, data: new Float64Array(x.n * x.c * h * w) };
  for (let i = 0; i < x.n; i++)
    for (let c = 0; c < x.c; c++)
      for (let y = 0; y < h; y++)
        for (let z = 0; z < w; z++) {
          out.data[at(out, i, c, y, z)] = Math.max(
            x.data[at(x, i, c, 2 * y, 2 * z)],
            x.data[at(x, i, c, 2 * y, 2 * z + 1)],
            x.data[at(x, i, c, 2 * y + 1, 2 * z)],
            x.data[at(x, i, c, 2 * y + 1, 2 * z + 1)],
          );
        }
  return out;
}

/** F.batch_norm(training=True): per channel over batch and space, biased variance, eps 1e-5. */
export function batchNorm(x: Maps, gamma: ArrayLike<number>, beta: ArrayLike<number>): Maps {
  const out: Maps = { ...x, data: new Float64Array(x.data.length) };
  const count = x.n * x.h * x.w;
  for (let c = 0; c < x.c; c++) {
    let mean = 0;
    let sq = 0;
    for (let i = 0; i < x.n; i++)
      for (let p = 0; p < x.h * x.w; p++) mean += x.data[(i * x.c + c) * x.h * x.w + p];
    mean /= count;
    for (let i = 0; i < x.n; i++)
      for (let p = 0; p < x.h * x.w; p++) sq += (x.data[(i * x.c + c) * x.h * x.w + p] - mean) ** 2;
    const scale = gamma[c] / Math.sqrt(sq / count + 1e-5);
    for (let i = 0; i < x.n; i++)
      for (let p = 0; p < x.h * x.w; p++) {
        const k = (i * x.c + c) * x.h * x.w + p;
        out.data[k] = (x.data[k] - mean) * scale + beta[c];
      }
  }
  return out;
}

/** The ResNet shortcut where channels grow: x[:, :, ::2, ::2] (when strided), zero-padded channels before and after. */
export function padShortcut(x: Maps, cout: number, stride: number): Maps {
  const [h, w] = stride === 2 ? [Math.ceil(x.h / 2), Math.ceil(x.w / 2)] : [x.h, x.w];
  const before = Math.floor((cout - x.c) / 2);
  const out: Maps = { n: x.n, c: cout, h, w, data: new Float64Array(x.n * cout * h * w) };
  for (let i = 0; i < x.n; i++)
    for (let c = 0; c < x.c; c++)
      for (let y = 0; y < h; y++)
        for (let z = 0; z < w; z++) {
          out.data[at(out, i, c + before, y, z)] = x.data[at(x, i, c, y * stride, z * stride)];
        }
  return out;
}

/** Rows of features: HWC order (as TF.js's Flatten; hypnettorch flattens CHW) or the global average over space. */
export function flattenHwc(x: Maps): Float64Array[] {
  return Array.from({ length: x.n }, (_, i) => {
    const row = new Float64Array(x.h * x.w * x.c);
    for (let y = 0; y < x.h; y++)
      for (let z = 0; z < x.w; z++)
        for (let c = 0; c < x.c; c++) row[(y * x.w + z) * x.c + c] = x.data[at(x, i, c, y, z)];
    return row;
  });
}

export function globalAverage(x: Maps): Float64Array[] {
  return Array.from({ length: x.n }, (_, i) =>
    Float64Array.from({ length: x.c }, (_, c) => {
      let s = 0;
      for (let p = 0; p < x.h * x.w; p++) s += x.data[(i * x.c + c) * x.h * x.w + p];
      return s / (x.h * x.w);
    }),
  );
}

/** x W + b with W [in, out] row-major. */
export function dense(
  rows: Float64Array[],
  kernel: ArrayLike<number>,
  bias: ArrayLike<number>,
  units: number,
): Float64Array[] {
  return rows.map((r) =>
    Float64Array.from({ length: units }, (_, u) =>
      r.reduce((a, v, k) => a + v * kernel[k * units + u], bias[u]),
    ),
  );
}
