-- AlterTable
ALTER TABLE "jobs" ADD COLUMN     "continue_from" UUID,
ADD COLUMN     "inherited_tasks" INTEGER NOT NULL DEFAULT 0;
