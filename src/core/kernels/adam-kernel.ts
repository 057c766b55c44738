import type { WasmHeap } from '../continual/host-memory.js';
import { WASM_BASE64 } from './adam.wasm.js';
import { instantiateKernel } from './instantiate.js';

/** The exports of adam.wat; pointers are byte offsets into the TF.js wasm heap. */
export interface AdamKernel {
  step(
    p: number,
    g: number,
    m: number,
    v: number,
    out: number,
    n: number,
    b1: number,
    c1: number,
    b2: number,
    c2: number,
    stepSize: number,
    sqrtC2: number,
    eps: number,
  ): void;
  delta(
    g: number,
    m: number,
    v: number,
    out: number,
    n: number,
    b1: number,
    c1: number,
    b2: number,
    c2: number,
    stepSize: number,
    sqrtC2: number,
    eps: number,
  ): void;
}

export const adamKernel = (heap: WasmHeap): AdamKernel => instantiateKernel(WASM_BASE64, heap);
