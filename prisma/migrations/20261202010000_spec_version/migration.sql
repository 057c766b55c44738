-- AlterTable
ALTER TABLE "jobs" ADD COLUMN     "spec_version" INTEGER NOT NULL DEFAULT 1;
