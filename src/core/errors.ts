/**
 * Typed errors of the engine. Every error carries a stable `code` so the service can map it to an
 * HTTP status or a queue decision (retry or not) without parsing messages.
 */

/**
 * The base of every error with a stable `code`, in every layer (engine, services, HTTP): callers
 * decide by code, never by message. `cause` is for logs only (driver messages, hosts, stacks).
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

export type EngineErrorCode =
  | 'INVALID_SPEC'
  | 'INVALID_ARGUMENT'
  | 'DATA_NOT_FOUND'
  | 'INVALID_DATA'
  | 'DIVERGED'
  | 'CANCELLED'
  | 'INVALID_CHECKPOINT';

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
