;; Adam update kernels for the TF.js WebAssembly backend.
;;
;; The module imports the backend's own linear memory, so parameters, gradients, moments and the
;; new parameter values are all read and written where TF.js keeps them: no copies through
;; JavaScript. Every pointer is a byte offset into that memory; n is the element count.
;; Built into adam.wasm.ts by `npm run build:kernels` (scripts/build-kernels.ts).
;;
;; Arithmetic follows torch.optim.Adam (float32, same order of operations):
;;   m = b1*m + (1-b1)*g
;;   v = b2*v + (1-b2)*g*g
;;   denom = sqrt(v) / sqrtC2 + eps
;;   new = p - stepSize * (m / denom)
;; with stepSize = lr / (1 - b1^t) and sqrtC2 = sqrt(1 - b2^t) computed by the caller, and c1 = 1-b1,
;; c2 = 1-b2 passed in too: torch computes them in float64 before rounding to float32.
(module
  (import "env" "memory" (memory 1))

  ;; One update: writes the new parameters to $out (never in place, see adam.ts) and updates the
  ;; moments in place.
  (func (export "step")
    (param $p i32) (param $g i32) (param $m i32) (param $v i32) (param $out i32) (param $n i32)
    (param $b1 f32) (param $c1 f32) (param $b2 f32) (param $c2 f32) (param $stepSize f32) (param $sqrtC2 f32) (param $eps f32)
    (local $i i32) (local $end4 i32) (local $o i32)
    (local $gv v128) (local $mv v128) (local $vv v128)
    (local $b1v v128) (local $c1v v128) (local $b2v v128) (local $c2v v128)
    (local $sv v128) (local $qv v128) (local $ev v128)
    (local $gs f32) (local $ms f32) (local $vs f32)
    (local.set $b1v (f32x4.splat (local.get $b1)))
    (local.set $c1v (f32x4.splat (local.get $c1)))
    (local.set $b2v (f32x4.splat (local.get $b2)))
    (local.set $c2v (f32x4.splat (local.get $c2)))
    (local.set $sv (f32x4.splat (local.get $stepSize)))
    (local.set $qv (f32x4.splat (local.get $sqrtC2)))
    (local.set $ev (f32x4.splat (local.get $eps)))
    (local.set $end4 (i32.and (local.get $n) (i32.const -4)))
    ;; four lanes at a time
    (block $done4
      (loop $loop4
        (br_if $done4 (i32.ge_u (local.get $i) (local.get $end4)))
        (local.set $o (i32.shl (local.get $i) (i32.const 2)))
        (local.set $gv (v128.load (i32.add (local.get $g) (local.get $o))))
        (local.set $mv
          (f32x4.add
            (f32x4.mul (local.get $b1v) (v128.load (i32.add (local.get $m) (local.get $o))))
            (f32x4.mul (local.get $c1v) (local.get $gv))))
        (local.set $vv
          (f32x4.add
            (f32x4.mul (local.get $b2v) (v128.load (i32.add (local.get $v) (local.get $o))))
            (f32x4.mul (f32x4.mul (local.get $c2v) (local.get $gv)) (local.get $gv))))
        (v128.store (i32.add (local.get $m) (local.get $o)) (local.get $mv))
        (v128.store (i32.add (local.get $v) (local.get $o)) (local.get $vv))
        (v128.store (i32.add (local.get $out) (local.get $o))
          (f32x4.sub
            (v128.load (i32.add (local.get $p) (local.get $o)))
            (f32x4.mul (local.get $sv)
              (f32x4.div (local.get $mv)
                (f32x4.add (f32x4.div (f32x4.sqrt (local.get $vv)) (local.get $qv)) (local.get $ev))))))
        (local.set $i (i32.add (local.get $i) (i32.const 4)))
        (br $loop4)))
    ;; the remaining 0-3 elements
    (block $done
      (loop $loop
        (br_if $done (i32.ge_u (local.get $i) (local.get $n)))
        (local.set $o (i32.shl (local.get $i) (i32.const 2)))
        (local.set $gs (f32.load (i32.add (local.get $g) (local.get $o))))
        (local.set $ms
          (f32.add
            (f32.mul (local.get $b1) (f32.load (i32.add (local.get $m) (local.get $o))))
            (f32.mul (local.get $c1) (local.get $gs))))
        (local.set $vs
          (f32.add
            (f32.mul (local.get $b2) (f32.load (i32.add (local.get $v) (local.get $o))))
            (f32.mul (f32.mul (local.get $c2) (local.get $gs)) (local.get $gs))))
        (f32.store (i32.add (local.get $m) (local.get $o)) (local.get $ms))
        (f32.store (i32.add (local.get $v) (local.get $o)) (local.get $vs))
        (f32.store (i32.add (local.get $out) (local.get $o))
          (f32.sub
            (f32.load (i32.add (local.get $p) (local.get $o)))
            (f32.mul (local.get $stepSize)
              (f32.div (local.get $ms)
                (f32.add (f32.div (f32.sqrt (local.get $vs)) (local.get $sqrtC2)) (local.get $eps))))))
        (local.set $i (i32.add (local.get $i) (i32.const 1)))
        (br $loop))))

  ;; The change the next `step` would make, -stepSize * m'/denom', without touching the moments
  ;; (HNET's lookahead). Written to $out.
  (func (export "delta")
    (param $g i32) (param $m i32) (param $v i32) (param $out i32) (param $n i32)
    (param $b1 f32) (param $c1 f32) (param $b2 f32) (param $c2 f32) (param $stepSize f32) (param $sqrtC2 f32) (param $eps f32)
    (local $i i32) (local $o i32) (local $gs f32) (local $ms f32) (local $vs f32)
    (block $done
      (loop $loop
        (br_if $done (i32.ge_u (local.get $i) (local.get $n)))
        (local.set $o (i32.shl (local.get $i) (i32.const 2)))
        (local.set $gs (f32.load (i32.add (local.get $g) (local.get $o))))
        (local.set $ms
          (f32.add
            (f32.mul (local.get $b1) (f32.load (i32.add (local.get $m) (local.get $o))))
            (f32.mul (local.get $c1) (local.get $gs))))
        (local.set $vs
          (f32.add
            (f32.mul (local.get $b2) (f32.load (i32.add (local.get $v) (local.get $o))))
            (f32.mul (f32.mul (local.get $c2) (local.get $gs)) (local.get $gs))))
        (f32.store (i32.add (local.get $out) (local.get $o))
          (f32.neg
            (f32.mul (local.get $stepSize)
              (f32.div (local.get $ms)
                (f32.add (f32.div (f32.sqrt (local.get $vs)) (local.get $sqrtC2)) (local.get $eps))))))
        (local.set $i (i32.add (local.get $i) (i32.const 1)))
        (br $loop))))
)
