import * as tf from '@tensorflow/tfjs-core';

/**
 * Direct access to float32 tensor data on backends that keep it in host memory: the WebAssembly
 * heap (wasm) and JS typed arrays (cpu). This lets the optimiser run one fused loop per tensor
 * instead of a dozen full-size tensor operations, which is what made Adam over the 12 M-parameter
 * split-mnist hypernetwork the slowest part of a step on wasm. Read-only: see Adam for why
 * parameters are never written in place. Uses the backends' internal
 * storage (tfjs 4.22); returns null on any other backend (GPU, TensorFlow), where the tensor
 * path is used.
 */
interface HostBackend {
  wasm?: { HEAPU8: Uint8Array };
  dataIdMap?: { get(id: object): { memoryOffset: number } | undefined };
  data?: { get(id: object): { values?: unknown } | undefined };
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
