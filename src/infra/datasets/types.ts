/** The decoders' contract lives with the use cases that consume it. */
export * from '../../services/datasets/dataset.types.js';
