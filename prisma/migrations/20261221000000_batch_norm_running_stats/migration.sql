-- AlterTable
ALTER TABLE "task_results" ADD COLUMN     "batch_norm_stats" JSONB,
ADD COLUMN     "running_stats_accuracies" DOUBLE PRECISION[] DEFAULT ARRAY[]::DOUBLE PRECISION[];

-- job.task_completed carries the running-statistics row where there is one (targets with batch norm).
CREATE OR REPLACE FUNCTION "task_results_stream"() RETURNS TRIGGER
LANGUAGE plpgsql SET search_path FROM CURRENT AS $$
BEGIN
    -- Rows a continuation copied from the job it continues are that job's events, not this one's.
    IF NEW."task" < (SELECT "inherited_tasks" FROM "jobs" WHERE "id" = NEW."job_id") THEN
        RETURN NULL;
    END IF;
    PERFORM "job_stream_append"(NEW."job_id", 'job.task_completed', jsonb_build_object('jobId', NEW."job_id", 'task', NEW."task",
        'accuracies', to_jsonb(NEW."accuracies"), 'durationMs', NEW."duration_ms", 'msPerIteration', NEW."ms_per_iteration")
        || CASE WHEN cardinality(NEW."running_stats_accuracies") > 0
                THEN jsonb_build_object('runningStatsAccuracies', to_jsonb(NEW."running_stats_accuracies"))
                ELSE '{}'::JSONB END);
    RETURN NULL;
END
$$;
