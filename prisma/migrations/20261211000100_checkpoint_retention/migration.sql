-- AlterTable
ALTER TABLE "jobs" ADD COLUMN     "checkpoint_removed_at" TIMESTAMP(3);
