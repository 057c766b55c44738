-- Checkpoints and exports move into the chunked blob store (blobs, blob_chunks): a spec the
-- validator accepts can produce a checkpoint over Postgres's 1 GB limit for one value. A row now
-- points at its blob; a continued job starts out pointing at its source's blobs, so a blob is
-- removed only when no row points at it any more (src/infra/prisma/job-blobs.ts).
--
-- Dated after 20261210000000_unexportable_models: that migration alters task_artifacts."weights",
-- which this one drops, and databases have applied main's migrations under their names. An
-- export without a model (model_unavailable) has no weights and gets no weights blob.

-- AlterTable
ALTER TABLE "checkpoints" ADD COLUMN     "blob_id" UUID;

-- AlterTable
ALTER TABLE "task_artifacts" ADD COLUMN     "mask_blob_id" UUID,
ADD COLUMN     "weights_blob_id" UUID;

-- Existing bytes become blobs of 1 MiB chunks (BLOB_CHUNK_BYTES' default), hashed like the blob
-- store hashes them, so an upgraded database keeps every job's checkpoint and downloads.
UPDATE "checkpoints" SET "blob_id" = gen_random_uuid();
INSERT INTO "blobs" ("id", "size", "sha256")
SELECT "blob_id", length("data"), encode(sha256("data"), 'hex') FROM "checkpoints";
INSERT INTO "blob_chunks" ("blob_id", "seq", "data")
SELECT c."blob_id", s."seq", substring(c."data" FROM s."seq" * 1048576 + 1 FOR 1048576)
FROM "checkpoints" c, generate_series(0, (length(c."data") + 1048575) / 1048576 - 1) AS s("seq");

UPDATE "task_artifacts" SET "mask_blob_id" = CASE WHEN "mask" IS NULL THEN NULL ELSE gen_random_uuid() END,
    "weights_blob_id" = CASE WHEN "weights" IS NULL THEN NULL ELSE gen_random_uuid() END;
INSERT INTO "blobs" ("id", "size", "sha256")
SELECT "mask_blob_id", length("mask"), encode(sha256("mask"), 'hex') FROM "task_artifacts" WHERE "mask" IS NOT NULL
UNION ALL
SELECT "weights_blob_id", length("weights"), encode(sha256("weights"), 'hex') FROM "task_artifacts" WHERE "weights" IS NOT NULL;
INSERT INTO "blob_chunks" ("blob_id", "seq", "data")
SELECT a."mask_blob_id", s."seq", substring(a."mask" FROM s."seq" * 1048576 + 1 FOR 1048576)
FROM "task_artifacts" a, generate_series(0, (length(a."mask") + 1048575) / 1048576 - 1) AS s("seq")
WHERE a."mask" IS NOT NULL
UNION ALL
SELECT a."weights_blob_id", s."seq", substring(a."weights" FROM s."seq" * 1048576 + 1 FOR 1048576)
FROM "task_artifacts" a, generate_series(0, (length(a."weights") + 1048575) / 1048576 - 1) AS s("seq")
WHERE a."weights" IS NOT NULL;

-- AlterTable
ALTER TABLE "checkpoints" DROP COLUMN "data",
ALTER COLUMN "blob_id" SET NOT NULL;

-- AlterTable
ALTER TABLE "task_artifacts" DROP COLUMN "mask",
DROP COLUMN "weights";

-- CreateIndex
CREATE INDEX "checkpoints_blob_id_idx" ON "checkpoints"("blob_id");

-- CreateIndex
CREATE INDEX "task_artifacts_mask_blob_id_idx" ON "task_artifacts"("mask_blob_id");

-- CreateIndex
CREATE INDEX "task_artifacts_weights_blob_id_idx" ON "task_artifacts"("weights_blob_id");

-- AddForeignKey
ALTER TABLE "checkpoints" ADD CONSTRAINT "checkpoints_blob_id_fkey" FOREIGN KEY ("blob_id") REFERENCES "blobs"("id") ON DELETE RESTRICT ON UPDATE CASCADE;

-- AddForeignKey
ALTER TABLE "task_artifacts" ADD CONSTRAINT "task_artifacts_mask_blob_id_fkey" FOREIGN KEY ("mask_blob_id") REFERENCES "blobs"("id") ON DELETE RESTRICT ON UPDATE CASCADE;

-- AddForeignKey
ALTER TABLE "task_artifacts" ADD CONSTRAINT "task_artifacts_weights_blob_id_fkey" FOREIGN KEY ("weights_blob_id") REFERENCES "blobs"("id") ON DELETE RESTRICT ON UPDATE CASCADE;
