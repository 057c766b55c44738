-- AlterTable
ALTER TABLE "task_results" ADD COLUMN     "batch_norm_stats" JSONB,
ADD COLUMN     "running_stats_accuracies" DOUBLE PRECISION[] DEFAULT ARRAY[]::DOUBLE PRECISION[];
