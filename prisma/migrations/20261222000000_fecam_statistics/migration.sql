-- AlterTable
ALTER TABLE "task_artifacts" ADD COLUMN     "fecam_blob_id" UUID;

-- CreateIndex
CREATE INDEX "task_artifacts_fecam_blob_id_idx" ON "task_artifacts"("fecam_blob_id");

-- AddForeignKey
ALTER TABLE "task_artifacts" ADD CONSTRAINT "task_artifacts_fecam_blob_id_fkey" FOREIGN KEY ("fecam_blob_id") REFERENCES "blobs"("id") ON DELETE RESTRICT ON UPDATE CASCADE;
