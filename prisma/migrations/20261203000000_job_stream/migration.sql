-- AlterTable
ALTER TABLE "jobs" ADD COLUMN     "stream_seq" INTEGER NOT NULL DEFAULT 0;

-- CreateTable
CREATE TABLE "job_stream_events" (
    "job_id" UUID NOT NULL,
    "seq" INTEGER NOT NULL,
    "type" TEXT NOT NULL,
    "data" JSONB NOT NULL,
    "at" TIMESTAMP(3) NOT NULL DEFAULT CURRENT_TIMESTAMP,

    CONSTRAINT "job_stream_events_pkey" PRIMARY KEY ("job_id","seq")
);

-- AddForeignKey
ALTER TABLE "job_stream_events" ADD CONSTRAINT "job_stream_events_job_id_fkey" FOREIGN KEY ("job_id") REFERENCES "jobs"("id") ON DELETE CASCADE ON UPDATE CASCADE;

-- Everything below is written by hand: Prisma does not model functions and triggers (migrate
-- deploy applies them like any SQL; migrate diff does not see them).
--
-- A job's stream is fed by Postgres itself, from the tables that already record the job's life,
-- so every writer (API, workers on any machine, the reconciler) feeds it without knowing it:
--   job_events insert     -> job.status, and at a final status job.succeeded | job.failed | job.cancelled
--   metric_points insert  -> job.loss | job.validation
--   task_results upsert   -> job.task_completed (tasks copied from a continued job are left out)
--   jobs progress update  -> a NOTIFY only (progress is state, not history: no row, no number)
--
-- Numbering: job_stream_append takes the next number from jobs.stream_seq under the job row's
-- lock, and the triggers that call it are deferred to COMMIT, so the lock is held only for the
-- end of the transaction. Two transactions writing events of one job therefore number them in
-- the order they commit, and a rolled-back transaction gives its number back: a job's events are
-- 1, 2, 3, ... with no gaps, and a reader that has seen n has seen everything up to n.

-- Jobs that exist already start their stream with their status history.
INSERT INTO "job_stream_events" ("job_id", "seq", "type", "data", "at")
SELECT "job_id", row_number() OVER (PARTITION BY "job_id" ORDER BY "id"), 'job.status',
       jsonb_build_object('jobId', "job_id", 'status', "status", 'message', "message"), "at"
FROM "job_events";
UPDATE "jobs" SET "stream_seq" = s."n"
FROM (SELECT "job_id", count(*)::INTEGER AS "n" FROM "job_events" GROUP BY "job_id") s
WHERE "jobs"."id" = s."job_id";

CREATE FUNCTION "job_stream_append"(p_job UUID, p_type TEXT, p_data JSONB) RETURNS VOID
LANGUAGE plpgsql SET search_path FROM CURRENT AS $$
DECLARE
    next_seq INTEGER;
BEGIN
    UPDATE "jobs" SET "stream_seq" = "stream_seq" + 1 WHERE "id" = p_job RETURNING "stream_seq" INTO next_seq;
    -- No row: the job was deleted in the same transaction.
    IF FOUND THEN
        INSERT INTO "job_stream_events" ("job_id", "seq", "type", "data") VALUES (p_job, next_seq, p_type, p_data);
    END IF;
END
$$;

CREATE FUNCTION "job_events_stream"() RETURNS TRIGGER
LANGUAGE plpgsql SET search_path FROM CURRENT AS $$
DECLARE
    job "jobs"%ROWTYPE;
BEGIN
    PERFORM "job_stream_append"(NEW."job_id", 'job.status',
        jsonb_build_object('jobId', NEW."job_id", 'status', NEW."status", 'message', NEW."message"));
    IF NEW."status" IN ('succeeded', 'failed', 'cancelled') THEN
        SELECT * INTO job FROM "jobs" WHERE "id" = NEW."job_id";
        IF NEW."status" = 'succeeded' THEN
            PERFORM "job_stream_append"(NEW."job_id", 'job.succeeded',
                jsonb_build_object('jobId', NEW."job_id") || coalesce(job."result", '{}'::JSONB) || jsonb_build_object('accuracyMatrix',
                    (SELECT coalesce(jsonb_agg(to_jsonb(r."accuracies") ORDER BY r."task"), '[]'::JSONB) FROM "task_results" r WHERE r."job_id" = NEW."job_id")));
        ELSIF NEW."status" = 'failed' THEN
            PERFORM "job_stream_append"(NEW."job_id", 'job.failed',
                jsonb_build_object('jobId', NEW."job_id", 'error', jsonb_build_object('code', job."error_code", 'message', job."error_message")));
        ELSE
            PERFORM "job_stream_append"(NEW."job_id", 'job.cancelled', jsonb_build_object('jobId', NEW."job_id", 'message', NEW."message"));
        END IF;
    END IF;
    RETURN NULL;
END
$$;

CREATE CONSTRAINT TRIGGER "job_events_stream" AFTER INSERT ON "job_events"
    DEFERRABLE INITIALLY DEFERRED FOR EACH ROW EXECUTE FUNCTION "job_events_stream"();

CREATE FUNCTION "metric_points_stream"() RETURNS TRIGGER
LANGUAGE plpgsql SET search_path FROM CURRENT AS $$
BEGIN
    IF NEW."kind" = 'loss' THEN
        PERFORM "job_stream_append"(NEW."job_id", 'job.loss', jsonb_build_object('jobId', NEW."job_id", 'task', NEW."task",
            'iteration', NEW."iteration", 'loss', NEW."value", 'taskLoss', NEW."task_loss", 'outputReg', NEW."output_reg", 'driftReg', NEW."drift_reg"));
    ELSE
        PERFORM "job_stream_append"(NEW."job_id", 'job.validation', jsonb_build_object('jobId', NEW."job_id", 'task', NEW."task",
            'iteration', NEW."iteration", 'accuracy', NEW."value"));
    END IF;
    RETURN NULL;
END
$$;

-- Rows skipped by ON CONFLICT DO NOTHING (a resumed task recording a point again) fire nothing.
CREATE CONSTRAINT TRIGGER "metric_points_stream" AFTER INSERT ON "metric_points"
    DEFERRABLE INITIALLY DEFERRED FOR EACH ROW EXECUTE FUNCTION "metric_points_stream"();

CREATE FUNCTION "task_results_stream"() RETURNS TRIGGER
LANGUAGE plpgsql SET search_path FROM CURRENT AS $$
BEGIN
    -- Rows a continuation copied from the job it continues are that job's events, not this one's.
    IF NEW."task" < (SELECT "inherited_tasks" FROM "jobs" WHERE "id" = NEW."job_id") THEN
        RETURN NULL;
    END IF;
    PERFORM "job_stream_append"(NEW."job_id", 'job.task_completed', jsonb_build_object('jobId', NEW."job_id", 'task', NEW."task",
        'accuracies', to_jsonb(NEW."accuracies"), 'durationMs', NEW."duration_ms", 'msPerIteration', NEW."ms_per_iteration"));
    RETURN NULL;
END
$$;

CREATE CONSTRAINT TRIGGER "task_results_stream" AFTER INSERT OR UPDATE ON "task_results"
    DEFERRABLE INITIALLY DEFERRED FOR EACH ROW EXECUTE FUNCTION "task_results_stream"();

-- Live delivery: every API process LISTENs on one channel per schema (src/infra/events). A
-- NOTIFY is sent at commit, in commit order. Payloads must stay under 8000 bytes; a larger
-- event is announced without its data and read from the table.
CREATE FUNCTION "job_stream_events_notify"() RETURNS TRIGGER
LANGUAGE plpgsql SET search_path FROM CURRENT AS $$
DECLARE
    payload TEXT := json_build_object('j', NEW."job_id", 's', NEW."seq", 't', NEW."type", 'at', NEW."at", 'd', NEW."data")::TEXT;
BEGIN
    IF octet_length(payload) > 7900 THEN
        payload := json_build_object('j', NEW."job_id", 's', NEW."seq", 't', NEW."type")::TEXT;
    END IF;
    PERFORM pg_notify(left('retain_events:' || TG_TABLE_SCHEMA, 63), payload);
    RETURN NULL;
END
$$;

CREATE TRIGGER "job_stream_events_notify" AFTER INSERT ON "job_stream_events"
    FOR EACH ROW EXECUTE FUNCTION "job_stream_events_notify"();

CREATE FUNCTION "jobs_progress_notify"() RETURNS TRIGGER
LANGUAGE plpgsql SET search_path FROM CURRENT AS $$
BEGIN
    PERFORM pg_notify(left('retain_events:' || TG_TABLE_SCHEMA, 63), json_build_object('j', NEW."id", 't', 'job.progress', 'd', json_build_object(
        'status', NEW."status", 'currentTask', NEW."current_task", 'iteration', NEW."iteration", 'completedTasks', NEW."completed_tasks",
        'tasksTotal', NEW."tasks_total", 'iterationsPerTask', NEW."iterations_per_task", 'etaMs', NEW."eta_ms"))::TEXT);
    RETURN NULL;
END
$$;

CREATE TRIGGER "jobs_progress_notify" AFTER UPDATE OF "current_task", "iteration", "completed_tasks" ON "jobs"
    FOR EACH ROW WHEN (NEW."status" = 'running' AND
        (OLD."current_task", OLD."iteration", OLD."completed_tasks") IS DISTINCT FROM (NEW."current_task", NEW."iteration", NEW."completed_tasks"))
    EXECUTE FUNCTION "jobs_progress_notify"();

-- A deleted job's streams end.
CREATE FUNCTION "jobs_deleted_notify"() RETURNS TRIGGER
LANGUAGE plpgsql SET search_path FROM CURRENT AS $$
BEGIN
    PERFORM pg_notify(left('retain_events:' || TG_TABLE_SCHEMA, 63), json_build_object('j', OLD."id", 't', 'job.deleted')::TEXT);
    RETURN NULL;
END
$$;

CREATE TRIGGER "jobs_deleted_notify" AFTER DELETE ON "jobs"
    FOR EACH ROW EXECUTE FUNCTION "jobs_deleted_notify"();
