/**
 * Redis connections. Producers and the rate limiter fail fast (an API request must not hang when Redis is down);
 * workers wait forever for Redis (BullMQ requires maxRetriesPerRequest: null for blocking calls).
 */
import { Redis } from 'ioredis';

export function producerConnection(url: string): Redis {
  return new Redis(url, {
    enableOfflineQueue: false,
    maxRetriesPerRequest: 1,
    connectTimeout: 5000,
    lazyConnect: false,
  });
}

/**
 * For the API's rate limiter: fails fast like a producer, and gives up on a command after
 * `commandTimeout` ms, since a command sent just as the connection dropped would otherwise wait
 * for a reconnection that may never come, and the request with it.
 */
export function limiterConnection(url: string, commandTimeout = 500): Redis {
  return new Redis(url, {
    enableOfflineQueue: false,
    maxRetriesPerRequest: 1,
    connectTimeout: 5000,
    commandTimeout,
  });
}

export function workerConnection(url: string): Redis {
  return new Redis(url, { maxRetriesPerRequest: null, enableReadyCheck: true });
}
