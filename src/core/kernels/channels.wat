;; Per-channel reductions and affine maps over NHWC tensors seen as [rows, C] (rows = n * h * w),
;; for batch normalisation and convolution biases (kernels/channels.ts, conv.ts). The module
;; imports the TF.js wasm backend's memory; pointers are byte offsets into it, `rows` and `c` are
;; element counts. Each function walks its inputs once, front to back, with the per-channel
;; accumulators or parameters (c floats, in cache) read through a pointer that wraps around every
;; row: four lanes at a time when c is a multiple of 4, one at a time otherwise.
;; Built into channels.wasm.ts by `npm run build:kernels` (scripts/build-kernels.ts).
(module
  (import "env" "memory" (memory 1))

  ;; s[j] = sum over rows of x[row, j]
  (func (export "sum") (param $s i32) (param $x i32) (param $rows i32) (param $c i32)
    (local $end i32) (local $p i32) (local $pend i32)
    (memory.fill (local.get $s) (i32.const 0) (i32.shl (local.get $c) (i32.const 2)))
    (local.set $end (i32.add (local.get $x) (i32.shl (i32.mul (local.get $rows) (local.get $c)) (i32.const 2))))
    (local.set $p (local.get $s))
    (local.set $pend (i32.add (local.get $s) (i32.shl (local.get $c) (i32.const 2))))
    (if (i32.eqz (i32.and (local.get $c) (i32.const 3)))
      (then
        (block $done
          (loop $loop
            (br_if $done (i32.ge_u (local.get $x) (local.get $end)))
            (v128.store (local.get $p) (f32x4.add (v128.load (local.get $p)) (v128.load (local.get $x))))
            (local.set $x (i32.add (local.get $x) (i32.const 16)))
            (local.set $p (i32.add (local.get $p) (i32.const 16)))
            (if (i32.eq (local.get $p) (local.get $pend)) (then (local.set $p (local.get $s))))
            (br $loop))))
      (else
        (block $done
          (loop $loop
            (br_if $done (i32.ge_u (local.get $x) (local.get $end)))
            (f32.store (local.get $p) (f32.add (f32.load (local.get $p)) (f32.load (local.get $x))))
            (local.set $x (i32.add (local.get $x) (i32.const 4)))
            (local.set $p (i32.add (local.get $p) (i32.const 4)))
            (if (i32.eq (local.get $p) (local.get $pend)) (then (local.set $p (local.get $s))))
            (br $loop))))))

  ;; s[j] = sum over rows of (x[row, j] - m[j])^2; s and m are separate arrays of c floats
  (func (export "sumSquaredDeviations") (param $s i32) (param $x i32) (param $m i32) (param $rows i32) (param $c i32)
    (local $end i32) (local $p i32) (local $q i32) (local $pend i32) (local $d v128) (local $e f32)
    (memory.fill (local.get $s) (i32.const 0) (i32.shl (local.get $c) (i32.const 2)))
    (local.set $end (i32.add (local.get $x) (i32.shl (i32.mul (local.get $rows) (local.get $c)) (i32.const 2))))
    (local.set $p (local.get $s))
    (local.set $q (local.get $m))
    (local.set $pend (i32.add (local.get $s) (i32.shl (local.get $c) (i32.const 2))))
    (if (i32.eqz (i32.and (local.get $c) (i32.const 3)))
      (then
        (block $done
          (loop $loop
            (br_if $done (i32.ge_u (local.get $x) (local.get $end)))
            (local.set $d (f32x4.sub (v128.load (local.get $x)) (v128.load (local.get $q))))
            (v128.store (local.get $p)
              (f32x4.add (v128.load (local.get $p)) (f32x4.mul (local.get $d) (local.get $d))))
            (local.set $x (i32.add (local.get $x) (i32.const 16)))
            (local.set $p (i32.add (local.get $p) (i32.const 16)))
            (local.set $q (i32.add (local.get $q) (i32.const 16)))
            (if (i32.eq (local.get $p) (local.get $pend))
              (then (local.set $p (local.get $s)) (local.set $q (local.get $m))))
            (br $loop))))
      (else
        (block $done
          (loop $loop
            (br_if $done (i32.ge_u (local.get $x) (local.get $end)))
            (local.set $e (f32.sub (f32.load (local.get $x)) (f32.load (local.get $q))))
            (f32.store (local.get $p)
              (f32.add (f32.load (local.get $p)) (f32.mul (local.get $e) (local.get $e))))
            (local.set $x (i32.add (local.get $x) (i32.const 4)))
            (local.set $p (i32.add (local.get $p) (i32.const 4)))
            (local.set $q (i32.add (local.get $q) (i32.const 4)))
            (if (i32.eq (local.get $p) (local.get $pend))
              (then (local.set $p (local.get $s)) (local.set $q (local.get $m))))
            (br $loop))))))

  ;; s1[j] = sum over rows of dy[row, j], s2[j] = sum over rows of dy[row, j] * (x[row, j] - m[j]);
  ;; s1, s2 and m are separate arrays of c floats
  (func (export "sumAndSumTimesDeviation")
    (param $s1 i32) (param $s2 i32) (param $dy i32) (param $x i32) (param $m i32) (param $rows i32) (param $c i32)
    (local $end i32) (local $p i32) (local $r i32) (local $q i32) (local $pend i32) (local $g v128) (local $h f32)
    (memory.fill (local.get $s1) (i32.const 0) (i32.shl (local.get $c) (i32.const 2)))
    (memory.fill (local.get $s2) (i32.const 0) (i32.shl (local.get $c) (i32.const 2)))
    (local.set $end (i32.add (local.get $x) (i32.shl (i32.mul (local.get $rows) (local.get $c)) (i32.const 2))))
    (local.set $p (local.get $s1))
    (local.set $r (local.get $s2))
    (local.set $q (local.get $m))
    (local.set $pend (i32.add (local.get $s1) (i32.shl (local.get $c) (i32.const 2))))
    (if (i32.eqz (i32.and (local.get $c) (i32.const 3)))
      (then
        (block $done
          (loop $loop
            (br_if $done (i32.ge_u (local.get $x) (local.get $end)))
            (local.set $g (v128.load (local.get $dy)))
            (v128.store (local.get $p) (f32x4.add (v128.load (local.get $p)) (local.get $g)))
            (v128.store (local.get $r)
              (f32x4.add (v128.load (local.get $r))
                (f32x4.mul (local.get $g) (f32x4.sub (v128.load (local.get $x)) (v128.load (local.get $q))))))
            (local.set $x (i32.add (local.get $x) (i32.const 16)))
            (local.set $dy (i32.add (local.get $dy) (i32.const 16)))
            (local.set $p (i32.add (local.get $p) (i32.const 16)))
            (local.set $r (i32.add (local.get $r) (i32.const 16)))
            (local.set $q (i32.add (local.get $q) (i32.const 16)))
            (if (i32.eq (local.get $p) (local.get $pend))
              (then (local.set $p (local.get $s1)) (local.set $r (local.get $s2)) (local.set $q (local.get $m))))
            (br $loop))))
      (else
        (block $done
          (loop $loop
            (br_if $done (i32.ge_u (local.get $x) (local.get $end)))
            (local.set $h (f32.load (local.get $dy)))
            (f32.store (local.get $p) (f32.add (f32.load (local.get $p)) (local.get $h)))
            (f32.store (local.get $r)
              (f32.add (f32.load (local.get $r))
                (f32.mul (local.get $h) (f32.sub (f32.load (local.get $x)) (f32.load (local.get $q))))))
            (local.set $x (i32.add (local.get $x) (i32.const 4)))
            (local.set $dy (i32.add (local.get $dy) (i32.const 4)))
            (local.set $p (i32.add (local.get $p) (i32.const 4)))
            (local.set $r (i32.add (local.get $r) (i32.const 4)))
            (local.set $q (i32.add (local.get $q) (i32.const 4)))
            (if (i32.eq (local.get $p) (local.get $pend))
              (then (local.set $p (local.get $s1)) (local.set $r (local.get $s2)) (local.set $q (local.get $m))))
            (br $loop))))))

;; out[row, j] = x[row, j] * a[j] + (y[row, j] - e[j]) * b[j] + d[j]. a, b, d and e are
  ;; separate arrays of c floats; out may be x or y.
  (func (export "affine2")
    (param $out i32) (param $x i32) (param $y i32) (param $a i32) (param $e i32) (param $b i32) (param $d i32)
    (param $rows i32) (param $c i32)
    (local $end i32) (local $pa i32) (local $pe i32) (local $pb i32) (local $pd i32) (local $aend i32)
    (local.set $end (i32.add (local.get $x) (i32.shl (i32.mul (local.get $rows) (local.get $c)) (i32.const 2))))
    (local.set $pa (local.get $a))
    (local.set $pe (local.get $e))
    (local.set $pb (local.get $b))
    (local.set $pd (local.get $d))
    (local.set $aend (i32.add (local.get $a) (i32.shl (local.get $c) (i32.const 2))))
    (if (i32.eqz (i32.and (local.get $c) (i32.const 3)))
      (then
        (block $done
          (loop $loop
            (br_if $done (i32.ge_u (local.get $x) (local.get $end)))
            (v128.store (local.get $out)
              (f32x4.add
                (f32x4.add
                  (f32x4.mul (v128.load (local.get $x)) (v128.load (local.get $pa)))
                  (f32x4.mul
                    (f32x4.sub (v128.load (local.get $y)) (v128.load (local.get $pe)))
                    (v128.load (local.get $pb))))
                (v128.load (local.get $pd))))
            (local.set $out (i32.add (local.get $out) (i32.const 16)))
            (local.set $x (i32.add (local.get $x) (i32.const 16)))
            (local.set $y (i32.add (local.get $y) (i32.const 16)))
            (local.set $pa (i32.add (local.get $pa) (i32.const 16)))
            (local.set $pe (i32.add (local.get $pe) (i32.const 16)))
            (local.set $pb (i32.add (local.get $pb) (i32.const 16)))
            (local.set $pd (i32.add (local.get $pd) (i32.const 16)))
            (if (i32.eq (local.get $pa) (local.get $aend))
              (then
                (local.set $pa (local.get $a))
                (local.set $pe (local.get $e))
                (local.set $pb (local.get $b))
                (local.set $pd (local.get $d))))
            (br $loop))))
      (else
        (block $done
          (loop $loop
            (br_if $done (i32.ge_u (local.get $x) (local.get $end)))
            (f32.store (local.get $out)
              (f32.add
                (f32.add
                  (f32.mul (f32.load (local.get $x)) (f32.load (local.get $pa)))
                  (f32.mul
                    (f32.sub (f32.load (local.get $y)) (f32.load (local.get $pe)))
                    (f32.load (local.get $pb))))
                (f32.load (local.get $pd))))
            (local.set $out (i32.add (local.get $out) (i32.const 4)))
            (local.set $x (i32.add (local.get $x) (i32.const 4)))
            (local.set $y (i32.add (local.get $y) (i32.const 4)))
            (local.set $pa (i32.add (local.get $pa) (i32.const 4)))
            (local.set $pe (i32.add (local.get $pe) (i32.const 4)))
            (local.set $pb (i32.add (local.get $pb) (i32.const 4)))
            (local.set $pd (i32.add (local.get $pd) (i32.const 4)))
            (if (i32.eq (local.get $pa) (local.get $aend))
              (then
                (local.set $pa (local.get $a))
                (local.set $pe (local.get $e))
                (local.set $pb (local.get $b))
                (local.set $pd (local.get $d))))
            (br $loop))))))
)
