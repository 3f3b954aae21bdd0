/**
 * Redis through Lettuce: cache-aside with TTLs, tag invalidation, write-through, and a durable,
 * coalescing write-behind queue. Redis trouble is counted, never thrown at a client.
 */
package io.fluxgate.cache;
