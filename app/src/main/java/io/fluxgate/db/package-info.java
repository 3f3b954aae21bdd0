/**
 * Named R2DBC connection pools ({@code primary}, {@code analytics}), per-pool query metrics and the
 * slow-query log.
 */
package io.fluxgate.db;
