-- AlterTable
ALTER TABLE "jobs" ADD COLUMN     "lease" TEXT;
