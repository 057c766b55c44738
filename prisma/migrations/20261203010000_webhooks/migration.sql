-- CreateEnum
CREATE TYPE "WebhookDeliveryStatus" AS ENUM ('pending', 'delivered', 'failed');

-- CreateTable
CREATE TABLE "webhooks" (
    "id" UUID NOT NULL,
    "tenant_id" UUID NOT NULL,
    "url" TEXT NOT NULL,
    "events" TEXT[],
    "secret" TEXT NOT NULL,
    "created_at" TIMESTAMP(3) NOT NULL DEFAULT CURRENT_TIMESTAMP,

    CONSTRAINT "webhooks_pkey" PRIMARY KEY ("id")
);

-- CreateTable
CREATE TABLE "webhook_deliveries" (
    "id" UUID NOT NULL,
    "webhook_id" UUID NOT NULL,
    "job_id" UUID NOT NULL,
    "event_seq" INTEGER NOT NULL,
    "event_type" TEXT NOT NULL,
    "payload" JSON NOT NULL,
    "status" "WebhookDeliveryStatus" NOT NULL DEFAULT 'pending',
    "attempts" INTEGER NOT NULL DEFAULT 0,
    "status_code" INTEGER,
    "last_error" TEXT,
    "created_at" TIMESTAMP(3) NOT NULL DEFAULT CURRENT_TIMESTAMP,
    "enqueued_at" TIMESTAMP(3),
    "last_attempt_at" TIMESTAMP(3),
    "delivered_at" TIMESTAMP(3),

    CONSTRAINT "webhook_deliveries_pkey" PRIMARY KEY ("id")
);

-- CreateIndex
CREATE INDEX "webhooks_tenant_id_created_at_id_idx" ON "webhooks"("tenant_id", "created_at" DESC, "id" DESC);

-- CreateIndex
CREATE INDEX "webhook_deliveries_webhook_id_created_at_id_idx" ON "webhook_deliveries"("webhook_id", "created_at" DESC, "id" DESC);

-- CreateIndex
CREATE INDEX "webhook_deliveries_status_enqueued_at_idx" ON "webhook_deliveries"("status", "enqueued_at");

-- AddForeignKey
ALTER TABLE "webhooks" ADD CONSTRAINT "webhooks_tenant_id_fkey" FOREIGN KEY ("tenant_id") REFERENCES "tenants"("id") ON DELETE CASCADE ON UPDATE CASCADE;

-- AddForeignKey
ALTER TABLE "webhook_deliveries" ADD CONSTRAINT "webhook_deliveries_webhook_id_fkey" FOREIGN KEY ("webhook_id") REFERENCES "webhooks"("id") ON DELETE CASCADE ON UPDATE CASCADE;

-- Written by hand (Prisma does not model triggers): deliveries are an outbox. A delivery row per
-- matching webhook is created in the transaction that stores the event (see
-- 20261203000000_job_stream), so no event is lost between Postgres and the queue, whoever wrote
-- it. The webhook worker (workers/webhook.worker.ts) LISTENs for the NOTIFY below, puts pending
-- rows on its BullMQ queue (the delivery id is the queue job's id, so doing it twice is harmless)
-- and sends them; it also sweeps for pending rows, so a missed NOTIFY only delays a delivery.
CREATE FUNCTION "webhook_deliveries_create"() RETURNS TRIGGER
LANGUAGE plpgsql SET search_path FROM CURRENT AS $$
BEGIN
    INSERT INTO "webhook_deliveries" ("id", "webhook_id", "job_id", "event_seq", "event_type", "payload")
    SELECT gen_random_uuid(), w."id", NEW."job_id", NEW."seq", NEW."type",
           json_build_object('type', NEW."type", 'timestamp', to_char(NEW."at", 'YYYY-MM-DD"T"HH24:MI:SS.MS"Z"'), 'data', NEW."data")
    FROM "webhooks" w JOIN "jobs" j ON j."tenant_id" = w."tenant_id"
    WHERE j."id" = NEW."job_id" AND NEW."type" = ANY (w."events");
    IF FOUND THEN
        PERFORM pg_notify(left('retain_webhooks:' || TG_TABLE_SCHEMA, 63), '');
    END IF;
    RETURN NULL;
END
$$;

-- Loss and validation points are too frequent for webhooks and never delivered: no lookup for them.
CREATE TRIGGER "webhook_deliveries_create" AFTER INSERT ON "job_stream_events"
    FOR EACH ROW WHEN (NEW."type" NOT IN ('job.loss', 'job.validation'))
    EXECUTE FUNCTION "webhook_deliveries_create"();
