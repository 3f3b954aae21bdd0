package io.fluxgate.changes;

/**
 * How many rows a page of a log read or a snapshot asks the database for, so that it weighs about its
 * byte bound: learned from the last page read. A page is also cut when it reaches the bound, but the
 * rows past the cut were built and sent by the database all the same; asking for about as many as
 * fit keeps that waste to one page when rows suddenly grow. Shared by concurrent readers: it is only
 * an estimate, and a wrong one costs one page of work, never an event.
 */
final class PageSize {

    private final int maxRows;
    private final long maxBytes;
    private volatile long rowWeight;

    PageSize(int maxRows, long maxBytes) {
        this.maxRows = maxRows;
        this.maxBytes = maxBytes;
        this.rowWeight = 1;
    }

    int rows() {
        return (int) Math.max(1, Math.min(maxRows, maxBytes / rowWeight));
    }

    long maxBytes() {
        return maxBytes;
    }

    /** A page of {@code rows} rows that weighed {@code weight} was read. */
    void learn(int rows, long weight) {
        if (rows > 0) {
            rowWeight = Math.max(1, weight / rows);
        }
    }
}
