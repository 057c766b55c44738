/**
 * NOTIFY channels, one per database schema (tests run many schemas in one database). The
 * migrations' triggers build the same names; Postgres keeps the first 63 bytes.
 */
export const eventChannel = (schema: string) => `retain_events:${schema}`.slice(0, 63);
export const webhookChannel = (schema: string) => `retain_webhooks:${schema}`.slice(0, 63);
