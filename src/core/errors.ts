/**
 * Typed errors. Every error carries a stable `code` so the service can map it to an HTTP status or
 * a queue decision (retry or not) without parsing messages. `CodedError` lives here, in the
 * innermost layer, so that every layer's errors share it.
 */

/**
 * The base of every error with a stable `code` (engine, services, HTTP): callers decide by code,
 * never by message. `cause` is for logs only (driver messages, hosts, stacks).
 */
export class CodedError<Code extends string = string> extends Error {
  constructor(
    readonly code: Code,
    message: string,
    options?: { cause?: unknown },
  ) {
    super(message, options);
    this.name = new.target.name;
    // Keeps `instanceof` working when the compiled output extends Error the ES5 way.
    Object.setPrototypeOf(this, new.target.prototype);
  }
}

/**
 * Every engine error code, and whether running the same job again could end otherwise. A new code
 * must say which (the compiler asks); workers fail a job at once on a permanent one.
 */
const ENGINE_ERRORS = {
  INVALID_SPEC: 'permanent',
  /** A stored job's spec is of another version, or no longer passes today's checks. */
  INVALID_STORED_SPEC: 'permanent',
  INVALID_ARGUMENT: 'permanent',
  /** A data set the job names is gone (or this process cannot read uploads). */
  DATA_NOT_FOUND: 'permanent',
  /** A data set's bytes are damaged or no longer decode. */
  INVALID_DATA: 'permanent',
  /** Training is deterministic: the same spec diverges again. */
  DIVERGED: 'permanent',
  INVALID_CHECKPOINT: 'permanent',
  /** Not a failure: the job was cancelled or its worker is shutting down. */
  CANCELLED: 'not a failure',
} as const satisfies Record<string, 'permanent' | 'not a failure'>;

export type EngineErrorCode = keyof typeof ENGINE_ERRORS;
/** The codes on which a retry cannot help. */
export type PermanentErrorCode = {
  [C in EngineErrorCode]: (typeof ENGINE_ERRORS)[C] extends 'permanent' ? C : never;
}[EngineErrorCode];

export function isPermanentCode(code: EngineErrorCode): code is PermanentErrorCode {
  return ENGINE_ERRORS[code] === 'permanent';
}

export class EngineError extends CodedError<EngineErrorCode> {}

/** A job spec that cannot be trained. `field` is the JSON path of the offending field. */
export class SpecError extends EngineError {
  constructor(
    readonly field: string,
    message: string,
  ) {
    super('INVALID_SPEC', `${field}: ${message}`);
  }
}

/** Training produced a non-finite loss; retrying the same spec will not help. */
export class DivergenceError extends EngineError {
  constructor(
    readonly task: number,
    readonly iteration: number,
  ) {
    super(
      'DIVERGED',
      `loss became non-finite at task ${task + 1}, iteration ${iteration + 1}; lower training.learningRate or the regularisation strengths`,
    );
  }
}

export class CancelledError extends EngineError {
  constructor() {
    super('CANCELLED', 'training was cancelled');
  }
}

export function assertPositiveInteger(value: number, name: string): void {
  if (!Number.isInteger(value) || value <= 0) {
    throw new EngineError('INVALID_ARGUMENT', `${name} must be a positive integer, got ${value}`);
  }
}

export function assert(condition: boolean, message: string): asserts condition {
  if (!condition) throw new EngineError('INVALID_ARGUMENT', message);
}
