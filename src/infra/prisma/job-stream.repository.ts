import type { PrismaClient } from '../../generated/prisma/client.js';
import type { JobEventLog, JobStreamEvent } from '../../services/ports.js';

/**
 * Reads job streams. Nothing here writes them: triggers on job_events, metric_points and
 * task_results do (migration 20261203000000_job_stream), whoever the writer is.
 */
export class PrismaJobEventLog implements JobEventLog {
  constructor(private readonly db: PrismaClient) {}

  async after(jobId: string, afterSeq: number, limit: number): Promise<JobStreamEvent[]> {
    const rows = await this.db.jobStreamEvent.findMany({
      where: { jobId, seq: { gt: afterSeq } },
      orderBy: { seq: 'asc' },
      take: limit,
    });
    return rows.map((r) => ({
      seq: r.seq,
      type: r.type as JobStreamEvent['type'],
      at: r.at,
      data: r.data as Record<string, unknown>,
    }));
  }

  async head(jobId: string): Promise<number | null> {
    const row = await this.db.job.findUnique({ where: { id: jobId }, select: { streamSeq: true } });
    return row?.streamSeq ?? null;
  }
}
