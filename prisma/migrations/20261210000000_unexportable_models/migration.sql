-- AlterTable
ALTER TABLE "task_artifacts" ADD COLUMN     "model_unavailable" TEXT,
ALTER COLUMN "model_json" DROP NOT NULL,
ALTER COLUMN "weights" DROP NOT NULL,
ALTER COLUMN "weights_file_name" DROP NOT NULL;
