/**
 * The blobs that job rows point at: `checkpoints.blob_id`, `task_artifacts.mask_blob_id`,
 * `weights_blob_id` and `fecam_blob_id`. Blobs are never changed once written, so a continued job simply points at its
 * source's checkpoint and exports at submission instead of copying them (they are replaced by its
 * own as it trains). A blob is therefore removed only when no row points at it any more: every
 * code path that drops or replaces a pointer hands the old blob ids to `releaseBlobs`, in the same
 * transaction. The foreign keys (ON DELETE RESTRICT) make a mistake here fail loudly instead of
 * leaving a row pointing at nothing.
 */
import type pg from 'pg';

type Queryable = Pick<pg.PoolClient, 'query'>;

/**
 * Deletes those of `ids` (null entries ignored) that no checkpoint or export points at any more.
 * Run it on the client of the transaction that dropped the pointers, after dropping them.
 *
 * The blob rows are locked first, in one order: two transactions releasing the same shared blob
 * from different jobs (a source deleted while its continuation replaces its first checkpoint) then
 * run one after the other, and the second, in a statement that starts after the first committed,
 * sees the first one's pointer gone; so exactly one of them deletes it. A job being continued is
 * share-locked while its pointers are copied, and every path that drops a job's pointers locks
 * its row first, so a pointer cannot be copied from rows that are being dropped.
 */
export async function releaseBlobs(client: Queryable, ids: (string | null)[]): Promise<number> {
  const unique = [...new Set(ids.filter((id): id is string => id !== null))];
  if (unique.length === 0) return 0;
  await client.query('SELECT id FROM blobs WHERE id = ANY($1::uuid[]) ORDER BY id FOR UPDATE', [
    unique,
  ]);
  const { rowCount } = await client.query(
    `DELETE FROM blobs b WHERE b.id = ANY($1::uuid[])
       AND NOT EXISTS (SELECT 1 FROM checkpoints c WHERE c.blob_id = b.id)
       AND NOT EXISTS (SELECT 1 FROM task_artifacts a WHERE a.mask_blob_id = b.id)
       AND NOT EXISTS (SELECT 1 FROM task_artifacts a WHERE a.weights_blob_id = b.id)
       AND NOT EXISTS (SELECT 1 FROM task_artifacts a WHERE a.fecam_blob_id = b.id)`,
    [unique],
  );
  return rowCount ?? 0;
}

/** Every blob the job's rows point at (checkpoint, masks, weights, FeCAM statistics). */
export async function jobBlobIds(client: Queryable, jobId: string): Promise<string[]> {
  const { rows } = await client.query<{ id: string | null }>(
    `SELECT blob_id AS id FROM checkpoints WHERE job_id = $1
     UNION ALL SELECT mask_blob_id FROM task_artifacts WHERE job_id = $1
     UNION ALL SELECT weights_blob_id FROM task_artifacts WHERE job_id = $1
     UNION ALL SELECT fecam_blob_id FROM task_artifacts WHERE job_id = $1`,
    [jobId],
  );
  return rows.map((r) => r.id).filter((id): id is string => id !== null);
}
