;; Vector primitives for products with few rows (kernels/few-rows-linear.ts), on the TF.js
;; WebAssembly heap: the module imports the backend's memory, every pointer is a byte offset into
;; it and `len` is an element count. float32, four lanes at a time, then a scalar tail.
;; Built into rows.wasm.ts by `npm run build:kernels` (scripts/build-kernels.ts).
(module
  (import "env" "memory" (memory 1))

  ;; dst[i] += a * src[i]
  (func (export "axpy") (param $dst i32) (param $src i32) (param $a f32) (param $len i32)
    (local $end i32) (local $end4 i32) (local $av v128)
    (local.set $av (f32x4.splat (local.get $a)))
    (local.set $end (i32.add (local.get $dst) (i32.shl (local.get $len) (i32.const 2))))
    (local.set $end4 (i32.add (local.get $dst) (i32.shl (i32.and (local.get $len) (i32.const -4)) (i32.const 2))))
    (block $done4
      (loop $loop4
        (br_if $done4 (i32.ge_u (local.get $dst) (local.get $end4)))
        (v128.store (local.get $dst)
          (f32x4.add (v128.load (local.get $dst)) (f32x4.mul (local.get $av) (v128.load (local.get $src)))))
        (local.set $dst (i32.add (local.get $dst) (i32.const 16)))
        (local.set $src (i32.add (local.get $src) (i32.const 16)))
        (br $loop4)))
    (block $done
      (loop $loop
        (br_if $done (i32.ge_u (local.get $dst) (local.get $end)))
        (f32.store (local.get $dst)
          (f32.add (f32.load (local.get $dst)) (f32.mul (local.get $a) (f32.load (local.get $src)))))
        (local.set $dst (i32.add (local.get $dst) (i32.const 4)))
        (local.set $src (i32.add (local.get $src) (i32.const 4)))
        (br $loop))))

  ;; dst[i] = a * src[i]
  (func (export "scale") (param $dst i32) (param $src i32) (param $a f32) (param $len i32)
    (local $end i32) (local $end4 i32) (local $av v128)
    (local.set $av (f32x4.splat (local.get $a)))
    (local.set $end (i32.add (local.get $dst) (i32.shl (local.get $len) (i32.const 2))))
    (local.set $end4 (i32.add (local.get $dst) (i32.shl (i32.and (local.get $len) (i32.const -4)) (i32.const 2))))
    (block $done4
      (loop $loop4
        (br_if $done4 (i32.ge_u (local.get $dst) (local.get $end4)))
        (v128.store (local.get $dst) (f32x4.mul (local.get $av) (v128.load (local.get $src))))
        (local.set $dst (i32.add (local.get $dst) (i32.const 16)))
        (local.set $src (i32.add (local.get $src) (i32.const 16)))
        (br $loop4)))
    (block $done
      (loop $loop
        (br_if $done (i32.ge_u (local.get $dst) (local.get $end)))
        (f32.store (local.get $dst) (f32.mul (local.get $a) (f32.load (local.get $src))))
        (local.set $dst (i32.add (local.get $dst) (i32.const 4)))
        (local.set $src (i32.add (local.get $src) (i32.const 4)))
        (br $loop))))

  ;; sum_i x[i] * y[i], accumulated in four float32 lanes, then the lanes and the tail
  (func (export "dot") (param $x i32) (param $y i32) (param $len i32) (result f32)
    (local $end i32) (local $end4 i32) (local $acc v128) (local $sum f32)
    (local.set $end (i32.add (local.get $x) (i32.shl (local.get $len) (i32.const 2))))
    (local.set $end4 (i32.add (local.get $x) (i32.shl (i32.and (local.get $len) (i32.const -4)) (i32.const 2))))
    (block $done4
      (loop $loop4
        (br_if $done4 (i32.ge_u (local.get $x) (local.get $end4)))
        (local.set $acc (f32x4.add (local.get $acc) (f32x4.mul (v128.load (local.get $x)) (v128.load (local.get $y)))))
        (local.set $x (i32.add (local.get $x) (i32.const 16)))
        (local.set $y (i32.add (local.get $y) (i32.const 16)))
        (br $loop4)))
    (local.set $sum
      (f32.add
        (f32.add (f32x4.extract_lane 0 (local.get $acc)) (f32x4.extract_lane 1 (local.get $acc)))
        (f32.add (f32x4.extract_lane 2 (local.get $acc)) (f32x4.extract_lane 3 (local.get $acc)))))
    (block $done
      (loop $loop
        (br_if $done (i32.ge_u (local.get $x) (local.get $end)))
        (local.set $sum (f32.add (local.get $sum) (f32.mul (f32.load (local.get $x)) (f32.load (local.get $y)))))
        (local.set $x (i32.add (local.get $x) (i32.const 4)))
        (local.set $y (i32.add (local.get $y) (i32.const 4)))
        (br $loop)))
    (local.get $sum))
)
