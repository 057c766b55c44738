import * as tf from '@tensorflow/tfjs-core';

/**
 * Direct access to float32 tensor data on backends that keep it in host memory: the WebAssembly
 * heap (wasm) and JS typed arrays (cpu). This lets the optimiser run one fused loop per tensor
 * instead of a dozen full-size tensor operations. Uses the backends' internal storage (tfjs 4.22,
 * pinned in package.json); every function returns null on any other backend (GPU, TensorFlow),
 * where the tensor path is used.
 */
interface HostBackend {
  wasm?: { HEAPU8: Uint8Array; asm?: { memory?: WebAssembly.Memory } };
  dataIdMap?: { get(id: object): { memoryOffset: number } | undefined };
  data?: { get(id: object): { values?: unknown } | undefined };
  makeOutput?(shape: number[], dtype: 'float32'): tf.TensorInfo;
}

export function hostMemoryAvailable(): boolean {
  const name = tf.getBackend();
  return name === 'wasm' || name === 'cpu';
}

/** A live view of the tensor's data, or null. Invalid after any op that may grow the wasm heap. */
export function hostView(t: tf.Tensor): Float32Array | null {
  if (t.dtype !== 'float32') return null;
  const backend = tf.backend() as unknown as HostBackend;
  const name = tf.getBackend();
  if (name === 'wasm' && backend.wasm && backend.dataIdMap) {
    const info = backend.dataIdMap.get(t.dataId);
    return info ? new Float32Array(backend.wasm.HEAPU8.buffer, info.memoryOffset, t.size) : null;
  }
  if (name === 'cpu' && backend.data) {
    const values = backend.data.get(t.dataId)?.values;
    return values instanceof Float32Array ? values : null;
  }
  return null;
}

/** The wasm backend's heap, for kernels of our own that work on tensors where they are. */
export interface WasmHeap {
  memory: WebAssembly.Memory;
  /** Byte offset of a float32 tensor's data in `memory`. */
  offsetOf: (t: tf.Tensor) => number;
  /** A new float32 tensor whose contents are uninitialised: the caller fills it. */
  allocate(shape: number[]): tf.Tensor;
}

/** The current backend's heap when it is wasm, else null. */
export function wasmHeap(): WasmHeap | null {
  if (tf.getBackend() !== 'wasm') return null;
  const backend = tf.backend() as unknown as HostBackend;
  const memory = backend.wasm?.asm?.memory;
  const map = backend.dataIdMap;
  if (!(memory instanceof WebAssembly.Memory) || !map || !backend.makeOutput) return null;
  return {
    memory,
    offsetOf: (t) => {
      const info = map.get(t.dataId);
      if (!info || t.dtype !== 'float32')
        throw new Error('tensor is not a float32 tensor of the wasm backend');
      return info.memoryOffset;
    },
    allocate: (shape) =>
      tf.engine().makeTensorFromTensorInfo(backend.makeOutput!(shape, 'float32')),
  };
}
