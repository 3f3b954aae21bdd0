package io.fluxgate.changes.capture;

import java.util.List;
import java.util.function.IntFunction;
import java.util.function.ToLongFunction;

import reactor.core.publisher.Flux;
import reactor.core.publisher.Mono;

/**
 * Pages of a log read or a snapshot, bounded by rows and by weight. A page is cut once its rows weigh
 * the bound (always at least one row); how many rows it asks the database for is learned from the
 * last page read, so that it asks for about as many as fit: rows past a cut were built and sent by
 * the database all the same, and this keeps that waste to one page when rows suddenly grow. Shared by
 * concurrent readers: the row count is only an estimate, and a wrong one costs one page of work,
 * never a row.
 */
public final class PageSize {

    /** @param last whether the source held nothing more when it was read */
    public record Page<T>(List<T> rows, boolean last) {

        public T lastRow() {
            return rows.get(rows.size() - 1);
        }
    }

    private final int maxRows;
    private final long maxBytes;
    private volatile long rowWeight = 1;

    public PageSize(int maxRows, long maxBytes) {
        this.maxRows = maxRows;
        this.maxBytes = maxBytes;
    }

    /**
     * One page: {@code query} is asked for a number of rows (its LIMIT); rows past the weight are not
     * taken, and the query is cancelled there.
     */
    public <T> Mono<Page<T>> read(IntFunction<Flux<T>> query, ToLongFunction<T> weigh) {
        return Mono.defer(() -> {
            int limit = (int) Math.max(1, Math.min(maxRows, maxBytes / rowWeight));
            long[] weight = {0};
            return query.apply(limit)
                    .takeUntil(row -> (weight[0] += weigh.applyAsLong(row)) >= maxBytes)
                    .collectList()
                    .map(rows -> {
                        if (!rows.isEmpty()) {
                            rowWeight = Math.max(1, weight[0] / rows.size());
                        }
                        return new Page<>(rows, rows.size() < limit && weight[0] < maxBytes);
                    });
        });
    }
}
