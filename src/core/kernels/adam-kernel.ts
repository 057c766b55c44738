import type { WasmHeap } from '../continual/host-memory.js';
import { WASM_BASE64 } from './adam.wasm.js';

/** The exports of adam.wat; pointers are byte offsets into the TF.js wasm heap. */
export interface AdamKernel {
  step(p: number, g: number, m: number, v: number, out: number, n: number, b1: number, c1: number, b2: number, c2: number, stepSize: number, sqrtC2: number, eps: number): void;
  delta(g: number, m: number, v: number, out: number, n: number, b1: number, c1: number, b2: number, c2: number, stepSize: number, sqrtC2: number, eps: number): void;
}

let compiled: WebAssembly.Module | null = null;
const instances = new WeakMap<WebAssembly.Memory, AdamKernel>();

/** adam.wat instantiated on `heap`'s memory (once per memory). */
export function adamKernel(heap: WasmHeap): AdamKernel {
  let kernel = instances.get(heap.memory);
  if (!kernel) {
    compiled ??= new WebAssembly.Module(Uint8Array.from(atob(WASM_BASE64), (c) => c.charCodeAt(0)));
    kernel = new WebAssembly.Instance(compiled, { env: { memory: heap.memory } }).exports as unknown as AdamKernel;
    instances.set(heap.memory, kernel);
  }
  return kernel;
}
