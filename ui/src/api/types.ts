/**
 * The API's resources as the dashboard reads them: the types generated from openapi/openapi.json
 * (clients/typescript/schema.ts, `npm run client:generate`), so a change to the API's schemas
 * that the pages do not follow fails `tsc -p ui/tsconfig.json`.
 */
import type { components, operations } from '../../../clients/typescript/schema.js';

type Schemas = components['schemas'];
type Json<R> = R extends { content: { 'application/json': infer T } } ? T : never;

export const JOB_STATUSES = ['queued', 'running', 'succeeded', 'failed', 'cancelled'] as const;
export type JobStatus = Schemas['Job']['status'];
export const FINAL_STATUSES: ReadonlySet<JobStatus> = new Set(['succeeded', 'failed', 'cancelled']);

export type Job = Schemas['Job'];
export type JobProgress = Job['progress'];
export type TaskLinks = Job['links']['tasks'][number];
export type JobSpec = Job['spec'];
export type Dataset = Schemas['Dataset'];

export interface Page<T> {
  items: T[];
  nextCursor: string | null;
}

export type JobMetrics = Json<operations['getJobMetrics']['responses'][200]>;
export type CurveKind = JobMetrics['curve']['kind'];
/** A point of a curve as the charts draw it (the stream's live points carry no loss parts). */
export type CurvePoint = Pick<
  JobMetrics['curve']['points'][number],
  'task' | 'iteration' | 'value'
>;
export type TaskInference = NonNullable<JobMetrics['taskInference']>;
