import type { WasmHeap } from '../continual/host-memory.js';

const modules = new Map<string, WebAssembly.Module>();
const instances = new WeakMap<WebAssembly.Memory, Map<string, unknown>>();

/**
 * One of our WebAssembly kernels (the bytes of a generated *.wasm.ts), instantiated on the TF.js
 * wasm heap's memory so it works on tensors where they are. Compiled once per process and
 * instantiated once per memory.
 */
export function instantiateKernel<T>(base64: string, heap: WasmHeap): T {
  let byMemory = instances.get(heap.memory);
  if (!byMemory) instances.set(heap.memory, (byMemory = new Map<string, unknown>()));
  let exports = byMemory.get(base64);
  if (!exports) {
    let module = modules.get(base64);
    if (!module)
      modules.set(
        base64,
        (module = new WebAssembly.Module(Uint8Array.from(atob(base64), (c) => c.charCodeAt(0)))),
      );
    exports = new WebAssembly.Instance(module, { env: { memory: heap.memory } }).exports;
    byMemory.set(base64, exports);
  }
  return exports as T;
}
