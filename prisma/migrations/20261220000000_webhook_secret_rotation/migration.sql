-- A webhook's secret can be rotated: the one it replaces keeps signing deliveries (as a second
-- signature) until previous_secret_expires_at, so receivers can switch without missing events.
-- AlterTable
ALTER TABLE "webhooks" ADD COLUMN     "previous_secret" TEXT,
ADD COLUMN     "previous_secret_expires_at" TIMESTAMP(3);
