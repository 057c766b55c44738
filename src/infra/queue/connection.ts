/**
 * Redis connections. Producers fail fast (an API request must not hang when Redis is down);
 * workers wait forever for Redis (BullMQ requires maxRetriesPerRequest: null for blocking calls).
 */
import { Redis } from 'ioredis';

export function producerConnection(url: string): Redis {
  return new Redis(url, { enableOfflineQueue: false, maxRetriesPerRequest: 1, connectTimeout: 5000, lazyConnect: false });
}

export function workerConnection(url: string): Redis {
  return new Redis(url, { maxRetriesPerRequest: null, enableReadyCheck: true });
}
